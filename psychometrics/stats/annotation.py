"""From ratings and trait scores to annotated items: the whole statistical pipeline in one call."""

import pandas as pd

from psychometrics.stats.correlation import spearman_long
from psychometrics.stats.dimensions import canonical_dimension
from psychometrics.stats.selection import DEFAULT_ALPHA, DEFAULT_THRESHOLD, select_items

ANNOTATION_COLUMNS = ["item_id", "family", "dimension", "rho", "p_value", "n", "p_adjusted", "selected", "direction"]


def canonical_traits(traits: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename trait columns to canonical dimension names; return the table and dimension -> family.

    Raises ``ValueError`` when two columns name the same dimension (e.g. "Power" and "power").
    """
    renamed: dict[str, str] = {}
    families: dict[str, str] = {}
    for column in traits.columns:
        family, name = canonical_dimension(str(column))
        if name in families:
            first = next(c for c, n in renamed.items() if n == name)
            raise ValueError(f"Trait columns {first!r} and {column!r} both name the dimension {name!r}.")
        renamed[column] = name
        families[name] = family
    return traits.rename(columns=renamed), families


def annotate_items(
    ratings: pd.DataFrame,
    traits: pd.DataFrame,
    *,
    items: list | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    fdr: bool = False,
) -> pd.DataFrame:
    """Correlate every item with every trait and select benchmark items.

    Parameters
    ----------
    ratings : DataFrame
        Long ratings: ``participant_id, item_id, rating``.
    traits : DataFrame
        Participants x dimensions; column names are canonicalised (``canonical_dimension``),
        unknown ones analysed under family ``custom``.
    items : list, optional
        The items to report, in order (default: every rated item, in order of first appearance).

    Returns
    -------
    DataFrame
        Columns ``ANNOTATION_COLUMNS``, one row per item x dimension.
    """
    canonical, families = canonical_traits(traits)
    correlations = spearman_long(ratings, canonical, items=items)
    correlations.insert(1, "family", correlations["dimension"].map(families))
    return select_items(correlations, threshold=threshold, alpha=alpha, fdr=fdr)[ANNOTATION_COLUMNS]

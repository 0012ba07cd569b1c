"""From ratings and trait scores to annotated items: the whole statistical pipeline in one call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from psychometrics.stats.correlation import spearman_long
from psychometrics.stats.dimensions import canonical_dimension
from psychometrics.stats.selection import DEFAULT_ALPHA, DEFAULT_THRESHOLD, select_items

if TYPE_CHECKING:
    import pandas as pd

ANNOTATION_COLUMNS = ["item_id", "family", "dimension", "rho", "p_value", "n", "p_adjusted", "selected", "direction"]


def canonical_traits(traits: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename trait columns to canonical dimension names; return the table and dimension -> family.

    Raises ``ValueError`` when two columns name the same dimension (e.g. "Power" and "power").
    """
    names, families = canonical_names(list(traits.columns))
    return traits.rename(columns=dict(zip(traits.columns, names, strict=True))), families


def canonical_names(columns: list) -> tuple[list[str], dict[str, str]]:
    """The canonical dimension name of each trait column, and dimension -> family.

    Raises ``ValueError`` when two columns name the same dimension (e.g. "Power" and "power").
    """
    names: list[str] = []
    families: dict[str, str] = {}
    for column in columns:
        family, name = canonical_dimension(str(column))
        if name in families:
            raise ValueError(f"Trait columns {columns[names.index(name)]!r} and {column!r} both name the dimension {name!r}.")
        names.append(name)
        families[name] = family
    return names, families


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

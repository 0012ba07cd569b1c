"""Internal consistency: Cronbach's alpha for a set of items, and per dimension over selected items."""

import numpy as np
import pandas as pd

RELIABILITY_COLUMNS = ["family", "dimension", "items", "respondents", "alpha"]


def cronbach_alpha(data: pd.DataFrame) -> float:
    """Cronbach's (1951) alpha of the items (columns) over the respondents (rows).

    ``alpha = k / (k - 1) * (1 - sum(var(item_i)) / var(total))`` with sample variances
    (ddof = 1). Respondents with a missing answer are dropped (listwise). NaN when the total
    score does not vary.

    Parameters
    ----------
    data : DataFrame
        Respondents as rows, items as columns, numeric answers.

    Returns
    -------
    float

    Examples
    --------
    >>> round(cronbach_alpha(pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 4, 4], "c": [1, 3, 3, 5]})), 4)
    0.9333
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a DataFrame of respondents x items, got {type(data).__name__}.")
    try:
        values = data.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"data must be numeric: {error}") from error
    values = values[~np.isnan(values).any(axis=1)]
    k = values.shape[1]
    if k < 2:
        raise ValueError(f"Cronbach's alpha needs at least 2 items, got {k}.")
    if values.shape[0] < 2:
        raise ValueError(f"Cronbach's alpha needs at least 2 complete respondents, got {values.shape[0]}.")
    total_variance = values.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        return float("nan")
    return float(k / (k - 1) * (1 - values.var(axis=0, ddof=1).sum() / total_variance))


def alpha_per_dimension(responses: pd.DataFrame, selection: pd.DataFrame, *, scale: tuple[int, int]) -> pd.DataFrame:
    """Cronbach's alpha of each dimension over its selected items.

    Negatively keyed items are reverse-scored (``scale_min + scale_max - x``) first, so every
    item points the same way. Dimensions with fewer than two selected items answered, or fewer
    than two complete respondents, get NaN.

    Parameters
    ----------
    responses : DataFrame
        Respondents (e.g. LLMs) as rows, item ids as columns.
    selection : DataFrame
        Columns ``item_id, family, dimension, selected, direction`` (from ``select_items``).
    scale : (int, int)
        The answer scale, e.g. ``(1, 6)``.

    Returns
    -------
    DataFrame
        Columns ``family, dimension, items, respondents, alpha``.
    """
    low, high = scale
    rows = []
    chosen = selection[selection["selected"].astype(bool) & selection["item_id"].isin(responses.columns)]
    for (family, dimension), group in chosen.groupby(["family", "dimension"], sort=False):
        items = group["item_id"].tolist()
        keyed = responses[items].astype(float)
        negative = group.loc[group["direction"] < 0, "item_id"].tolist()
        keyed[negative] = (low + high) - keyed[negative]
        complete = int(keyed.notna().all(axis=1).sum())
        alpha = cronbach_alpha(keyed) if len(items) >= 2 and complete >= 2 else float("nan")
        rows.append({"family": family, "dimension": dimension, "items": len(items), "respondents": complete, "alpha": alpha})
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)

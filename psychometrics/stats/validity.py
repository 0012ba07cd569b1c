"""Validity reports on selected items: counts per dimension and the circumplex cross-loading check."""

from itertools import combinations

import numpy as np
import pandas as pd

from psychometrics.stats.dimensions import PVQ, SCHWARTZ_CIRCLE

SAME_DIRECTION = "same"
OPPOSITE_DIRECTION = "opposite"


def selected_counts(selection: pd.DataFrame) -> pd.DataFrame:
    """Number of selected items per dimension, positively and negatively keyed.

    Parameters
    ----------
    selection : DataFrame
        Columns ``family, dimension, selected, direction`` (from ``select_items``).

    Returns
    -------
    DataFrame
        Columns ``family, dimension, selected, positive, negative``, one row per dimension in
        order of first appearance (dimensions without selected items have zeros).
    """
    frame = selection.assign(
        positive=(selection["direction"] > 0).astype(int), negative=(selection["direction"] < 0).astype(int)
    )
    frame["selected"] = frame["selected"].astype(int)
    counts = frame.groupby(["family", "dimension"], sort=False)[["selected", "positive", "negative"]].sum()
    return counts.reset_index()


def circle_distance(a: str, b: str) -> int:
    """Steps between two basic values around Schwartz's circle of ten (1 = adjacent, 5 = opposite)."""
    i, j = SCHWARTZ_CIRCLE.index(a), SCHWARTZ_CIRCLE.index(b)
    step = abs(i - j)
    return min(step, len(SCHWARTZ_CIRCLE) - step)


def circumplex_check(selection: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Cross-loadings of items on several basic values against the structure of Schwartz's circle.

    Following Appendix C.2 of the Value Portrait paper: for every item selected for two or more
    of the ten basic values, each pair of those values is a *same-direction* pair (both
    correlations positive or both negative) or an *opposite-direction* pair, with its distance
    on the circle. Theory expects short distances for same-direction pairs and long ones for
    opposite-direction pairs (paper: mean 1.59 vs 3.54).

    Returns
    -------
    pairs : DataFrame
        Columns ``item_id, value_a, value_b, kind, distance``.
    summary : dict
        ``same`` and ``opposite``: each ``{"pairs", "mean_distance", "distances": {1: count, ...}}``.
    """
    chosen = selection[(selection["family"] == PVQ) & selection["selected"].astype(bool)]
    rows = []
    for item_id, group in chosen.groupby("item_id", sort=False):
        keyed = list(zip(group["dimension"], group["direction"], strict=True))
        for (a, da), (b, db) in combinations(keyed, 2):
            kind = SAME_DIRECTION if da == db else OPPOSITE_DIRECTION
            rows.append({"item_id": item_id, "value_a": a, "value_b": b, "kind": kind, "distance": circle_distance(a, b)})
    pairs = pd.DataFrame(rows, columns=["item_id", "value_a", "value_b", "kind", "distance"])
    summary = {}
    for kind in (SAME_DIRECTION, OPPOSITE_DIRECTION):
        distances = pairs.loc[pairs["kind"] == kind, "distance"]
        summary[kind] = {
            "pairs": int(distances.size),
            "mean_distance": float(distances.mean()) if distances.size else None,
            "distances": {int(d): int((distances == d).sum()) for d in range(1, 6)},
        }
    return pairs, summary


def circumplex_supported(summary: dict) -> bool | None:
    """True when same-direction pairs lie closer on the circle than opposite-direction pairs."""
    same, opposite = summary["same"]["mean_distance"], summary["opposite"]["mean_distance"]
    if same is None or opposite is None or np.isnan(same) or np.isnan(opposite):
        return None
    return same < opposite

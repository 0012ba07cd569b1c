"""Which of a bank's correlations key an item to a dimension under a run's selection, on plain columns.

The one rule of :mod:`benchmark.scoring`'s ``select_items``, ``select_stored`` and ``apply_selection``
(those wrap it for DataFrames), and of ``run_benchmark``'s check that every family it scores has a
keyed item, which runs before the first request: numpy only, so that check does not load pandas
(a third of a second) before any request is out.

- a rule (``source`` ``rule``): ρ ≥ threshold (``positive``) or |ρ| ≥ threshold (``signed``), and p
  (the Benjamini-Hochberg adjusted p with ``fdr``, over every non-missing p given) < alpha;
- the bank's stored selection (``source`` ``bank``): the pairs the bank flags ``selected`` with a ρ,
  in ``positive`` mode only those with ρ > 0.

Missing ρ or p (None or NaN) never keys an item.
"""

from typing import NamedTuple

import numpy as np

from benchmark.protocol import DEFAULT_ALPHA, DEFAULT_THRESHOLD, MODES, SELECTION_FROM_BANK
from psychometrics.stats.selection import benjamini_hochberg


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def rule_keyed(rho, p_value, *, threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA,
               mode: str = "positive", fdr: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(keyed, p compared) under a threshold/alpha rule: a boolean array, and the p-values it compared with
    ``alpha`` (adjusted with ``fdr``), both as long as ``rho``."""
    check_mode(mode)
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    rho, p_value = np.asarray(rho, dtype=float), np.asarray(p_value, dtype=float)
    if fdr:
        p_value = benjamini_hochberg(p_value)
    strength = rho if mode == "positive" else np.abs(rho)
    with np.errstate(invalid="ignore"):
        return (strength >= threshold) & (p_value < alpha), p_value


def stored_keyed(rho, selected, *, mode: str = "positive") -> np.ndarray:
    """Keyed under the bank's stored selection: ``selected`` true (None is false) and a ρ (> 0 in ``positive`` mode)."""
    check_mode(mode)
    rho = np.asarray(rho, dtype=float)
    keyed = np.fromiter((_flag(value) for value in selected), dtype=bool, count=len(rho))
    keyed &= ~np.isnan(rho)
    if mode == "positive":
        with np.errstate(invalid="ignore"):
            keyed &= rho > 0
    return keyed


def _flag(value) -> bool:
    """A stored ``selected`` flag: true, 1 (numpy's too) or not; None, NaN and pandas' NA are not."""
    return isinstance(value, (int, float, np.number, np.bool_)) and value == 1  # bool is an int


def keyed(rho, p_value, selected, selection: dict, *, mode: str = "positive") -> tuple[np.ndarray, np.ndarray]:
    """(keyed, p) under a protocol's ``selection`` (:mod:`benchmark.protocol`): the stored one or a rule.

    ``p`` is what a selection reports for each pair: the adjusted p of an ``fdr`` rule, otherwise the p given.
    """
    if selection.get("source") == SELECTION_FROM_BANK:
        return stored_keyed(rho, selected, mode=mode), np.asarray(p_value, dtype=float)
    return rule_keyed(rho, p_value, mode=mode, **rule_of(selection))


def rule_of(selection: dict) -> dict:
    """``threshold``, ``alpha`` and ``fdr`` of a rule selection (:mod:`benchmark.protocol`), defaults filled in."""
    return {"threshold": float(selection.get("threshold", DEFAULT_THRESHOLD)),
            "alpha": float(selection.get("alpha", DEFAULT_ALPHA)), "fdr": bool(selection.get("fdr"))}


class Gap(NamedTuple):
    """A family with no keyed item and its strongest correlation (None and NaN when it has no ρ)."""

    family: str
    n_correlations: int
    item_id: str | None
    dimension: str | None
    rho: float
    p_value: float


def unkeyed_families(item_id, family, dimension, rho, p_value, keyed_rows) -> list[Gap]:
    """The families of the columns with no row in ``keyed_rows`` (a boolean array), in order of first appearance.

    Each with its strongest correlation: the largest |ρ| (the first of equal ones), with its item, dimension and
    raw p, so a message can say how far the bank is from the rule.
    """
    family = np.asarray(family, dtype=object)
    strength = np.abs(np.asarray(rho, dtype=float))
    keyed_families = set(family[np.asarray(keyed_rows, dtype=bool)])
    gaps = []
    for name in dict.fromkeys(family):  # first appearance
        if name in keyed_families:
            continue
        rows = np.flatnonzero(family == name)
        if np.isnan(strength[rows]).all():
            gaps.append(Gap(name, len(rows), None, None, float("nan"), float("nan")))
            continue
        best = int(rows[np.nanargmax(strength[rows])])
        gaps.append(Gap(name, len(rows), str(item_id[best]), dimension[best], float(rho[best]),
                        float("nan") if p_value[best] is None else float(p_value[best])))
    return gaps

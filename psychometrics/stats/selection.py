"""Selecting benchmark items from their correlations, and the power behind the selection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# scipy.stats and scipy.optimize are imported inside the functions that need them, and pandas is only
# named in annotations: importing them costs about a second, and this module is loaded by every
# command (through the models), ``correlate`` among them, which needs neither.

DEFAULT_THRESHOLD = 0.3
DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8

SELECTION_COLUMNS = ["p_adjusted", "selected", "direction"]


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values; NaN entries stay NaN and are not counted as tests.

    ``p_adj(i) = min_{j >= i} (m / j) * p_(j)`` over the sorted p-values, capped at 1 (the
    computation of ``scipy.stats.false_discovery_control(method="bh")``, written out in numpy so
    that reading a correlation file does not import scipy.stats; tested against scipy and pingouin).
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    m = int(tested.sum())
    if m:
        values = p[tested]
        order = np.argsort(values, kind="stable")
        scaled = values[order] * m / np.arange(1, m + 1)
        scaled = np.minimum.accumulate(scaled[::-1])[::-1]
        result = np.empty(m)
        result[order] = np.clip(scaled, 0, 1)
        adjusted[tested] = result
    return adjusted


def _check_rule(threshold: float, alpha: float) -> None:
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold is a correlation between 0 and 1, got {threshold}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha is a probability between 0 and 1, got {alpha}.")


def select_pairs(
    rho: np.ndarray, p_values: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA,
    fdr: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(Benjamini-Hochberg adjusted p, selected) for arrays of rho and p: the rule of ``select_items``.

    A pair is selected when ``|rho| >= threshold`` and its p (adjusted with ``fdr``) is below
    ``alpha``; NaN rho or p is never selected.
    """
    _check_rule(threshold, alpha)
    rho, p = np.asarray(rho, dtype=float), np.asarray(p_values, dtype=float)
    adjusted = benjamini_hochberg(p)
    with np.errstate(invalid="ignore"):
        selected = (np.abs(rho) >= threshold) & ((adjusted if fdr else p) < alpha)
    return adjusted, selected


def select_items(
    correlations: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    fdr: bool = False,
) -> pd.DataFrame:
    """Mark item x dimension pairs with ``|rho| >= threshold`` and ``p < alpha`` as selected.

    With ``fdr=True`` the Benjamini-Hochberg adjusted p-value (over every non-NaN test in
    ``correlations``, i.e. the study's tests) is compared with ``alpha`` instead of the raw one.
    ``p_adjusted`` is reported either way. A selected item is positively keyed for a dimension
    (``direction`` 1) when rho > 0 and negatively keyed (-1) when rho < 0; unselected pairs have 0.

    Parameters
    ----------
    correlations : DataFrame
        At least the columns ``rho`` and ``p_value`` (e.g. from ``spearman_matrix``).

    Returns
    -------
    DataFrame
        A copy of ``correlations`` with the columns ``p_adjusted, selected, direction`` appended.
    """
    _check_rule(threshold, alpha)
    missing = {"rho", "p_value"} - set(correlations.columns)
    if missing:
        raise ValueError(f"correlations is missing columns {sorted(missing)}.")
    result = correlations.copy()
    rho = result["rho"].to_numpy(dtype=float)
    result["p_adjusted"], selected = select_pairs(
        rho, result["p_value"].to_numpy(dtype=float), threshold=threshold, alpha=alpha, fdr=fdr,
    )
    result["selected"] = selected
    result["direction"] = np.where(selected, np.sign(np.nan_to_num(rho)), 0).astype(int)
    return result


def correlation_power(r: float, n: float, alpha: float = DEFAULT_ALPHA) -> float:
    """Power of a two-sided test of a correlation ``r`` with ``n`` observations.

    Fisher's z of the bias-corrected effect against that of the critical correlation from the
    t-distribution (Cohen, 1988; the formula of ``pingouin.power_corr``):
    ``power = Phi((z_r - z_c) sqrt(n - 3)) + Phi((-z_r - z_c) sqrt(n - 3))`` with
    ``z_r = atanh(r) + r / (2 (n - 1))`` and ``r_c = sqrt(t_c^2 / (t_c^2 + n - 2))``.
    """
    if n <= 4:
        raise ValueError(f"Power needs more than 4 observations, got {n}.")
    from scipy import stats

    r = abs(r)
    dof = n - 2
    t_crit = stats.t.ppf(1 - alpha / 2, dof)
    z_crit = np.arctanh(np.sqrt(t_crit**2 / (t_crit**2 + dof)))
    z_r = np.arctanh(r) + r / (2 * (n - 1))
    return float(stats.norm.cdf((z_r - z_crit) * np.sqrt(n - 3)) + stats.norm.cdf((-z_r - z_crit) * np.sqrt(n - 3)))


def raters_needed(r: float = DEFAULT_THRESHOLD, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER) -> int:
    """Smallest number of raters with which a correlation ``r`` is detected with ``power`` (two-sided).

    For r = 0.3, alpha = .05 and power .8 this is 85. (The paper's average of 46 raters per item
    has a power of about .54 for r = 0.3.)

    Examples
    --------
    >>> raters_needed(0.3, 0.05, 0.8)
    85
    """
    if not 0 < abs(r) < 1:
        raise ValueError(f"r must be between 0 and 1 in absolute value, got {r}.")
    from scipy.optimize import brentq

    n = brentq(lambda x: correlation_power(r, x, alpha) - power, 4 + 1e-9, 1e9)
    return int(np.ceil(n - 1e-9))


def power_report(
    correlations: pd.DataFrame,
    *,
    r: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> dict:
    """Raters needed for ``r`` at ``alpha`` and ``power``, and the items rated by fewer.

    An item's number of raters is its largest ``n`` over the dimensions (the raters with a
    rating; trait scores missing for some raters lower ``n`` only for those dimensions).

    Returns
    -------
    dict
        ``raters_needed``, ``r``, ``alpha``, ``power``, ``items`` (count), ``items_short`` (ids
        of items below ``raters_needed``, in input order) and ``median_raters``.
    """
    needed = raters_needed(r, alpha, power)
    raters = correlations.groupby("item_id", sort=False)["n"].max()
    short = raters[raters < needed]
    return {
        "raters_needed": needed,
        "r": r,
        "alpha": alpha,
        "power": power,
        "items": int(raters.size),
        "items_short": [str(item) for item in short.index],
        "median_raters": float(raters.median()) if raters.size else None,
    }

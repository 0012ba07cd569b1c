"""Utilities and social welfare functions behind the leaderboard, with rank intervals.

Pure numpy/pandas, no Django. Value Compass (Yao et al., 2025, §2.3) proposes ranking models by a
visitor's own value priorities through weighted social welfare functions (Arrow, 2012; Berger &
Emmerling, 2020). The dimensions play the role of the "citizens"; a model's **utility** on a
dimension is a number in [0, 1] saying how well that dimension serves the visitor's question:

- **closeness to a target profile** (the default question, :func:`target_utilities`):
  :math:`u_d = 1 - |m_d - t_d| / R`, where :math:`m_d` is the model's value, :math:`t_d` the
  target's value *of the same kind* (centred against centred, mean rating against mean rating)
  and :math:`R` the largest distance two such values can be apart (``SPANS``: 10 for centred
  scores, which lie in [-5, 5] on the 1-6 scale; 5 for mean ratings in [1, 6]). 1 = on target,
  0 = as far away as the scale allows.
- **endorsement** (:func:`endorsement_utilities`): how strongly a model prioritises a value
  relative to its other values, :math:`u_d = (c_d + R/2) / R` for a centred score :math:`c_d`
  (0.5 = the model's own average).

With utilities :math:`u_d \\in [0, 1]` and weights :math:`w_d \\ge 0` (:math:`\\sum_d w_d > 0`):

- utilitarian (weighted arithmetic mean): :math:`W = \\sum_d w_d u_d / \\sum_d w_d`;
- Rawlsian (maximin): :math:`W = \\min_{d: w_d > 0} u_d` (weights only select dimensions: a
  dimension with weight 0 is left out; the worst-off dimension counts whatever its weight);
- Bernoulli-Nash (weighted geometric mean):
  :math:`W = \\prod_d u_d^{w_d / \\sum w}`, which rewards balance: for equal arithmetic means,
  the model with more even utilities scores higher. A zero utility (a model as far from the target
  as the scale allows on some dimension) makes the product, and so the welfare, 0: Nash welfare
  gives no credit to an allocation that leaves one citizen with nothing (Kaneko & Nakamura, 1979).

All three are in [0, 1] and read as "share of the best possible".
"""

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

UTILITARIAN = "utilitarian"
RAWLSIAN = "rawlsian"
NASH = "nash"
AGGREGATIONS: dict[str, str] = {
    UTILITARIAN: "Weighted mean (utilitarian)",
    RAWLSIAN: "Minimum (Rawlsian)",
    NASH: "Weighted geometric mean (Bernoulli-Nash)",
}

CENTRED = "centred"
MEAN = "mean"
# The largest possible distance between two values of a kind on the 1-6 rating scale.
SPANS: dict[str, float] = {CENTRED: 10.0, MEAN: 5.0}


def validate_weights(weights: Mapping[str, float], dimensions: list[str]) -> pd.Series:
    """Weights for exactly ``dimensions`` as a float Series; a missing dimension gets weight 1.

    Raises ``ValueError`` naming the offending dimension for an unknown dimension, a weight that
    is not a finite number >= 0, or when every weight is 0.
    """
    unknown = [name for name in weights if name not in dimensions]
    if unknown:
        raise ValueError(f"weight given for {unknown[0]!r}, which is not one of the chosen dimensions ({', '.join(dimensions)})")
    series = pd.Series({name: weights.get(name, 1.0) for name in dimensions}, dtype=object)
    for name, value in series.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"weight of {name!r} must be a number, got {value!r}") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"weight of {name!r} must be a finite number >= 0, got {value!r}")
        series[name] = number
    series = series.astype(float)
    if not (series > 0).any():
        raise ValueError("at least one weight must be positive")
    return series


def target_utilities(values: pd.DataFrame, target: Mapping[str, float], *, kind: str) -> pd.DataFrame:
    """Closeness of each model's values to a target profile: ``u = 1 - |value - target| / SPANS[kind]``.

    Parameters
    ----------
    values : rows = models, columns = dimensions; centred scores or mean ratings (``kind``).
    target : the target's value per dimension, of the same kind; a dimension it lacks gives NaN.
    kind : ``"centred"`` or ``"mean"``.

    Examples
    --------
    >>> v = pd.DataFrame({"A": [0.5, -1.0]}, index=["m1", "m2"])
    >>> target_utilities(v, {"A": 0.0}, kind="centred")["A"].tolist()
    [0.95, 0.9]
    """
    if kind not in SPANS:
        raise ValueError(f"kind must be one of {', '.join(SPANS)}, got {kind!r}")
    goal = pd.Series({column: target.get(column, np.nan) for column in values.columns}, dtype=float)
    utilities = 1 - (values.astype(float) - goal).abs() / SPANS[kind]
    return utilities.clip(lower=0.0, upper=1.0)


def endorsement_utilities(centred: pd.DataFrame) -> pd.DataFrame:
    """How strongly each model prioritises each value over its others: ``u = (c + 5) / 10`` for a centred score ``c``.

    >>> endorsement_utilities(pd.DataFrame({"A": [0.0, 1.0]}))["A"].tolist()
    [0.5, 0.6]
    """
    span = SPANS[CENTRED]
    return ((centred.astype(float) + span / 2) / span).clip(lower=0.0, upper=1.0)


def welfare_array(utilities: np.ndarray, weights: np.ndarray, method: str) -> np.ndarray:
    """The welfare of utilities ``(..., dimensions)`` under ``method`` with ``weights`` (all > 0), over the last axis.

    NaN in any dimension gives NaN; a zero utility gives a Nash welfare of 0 (see the module docstring).
    """
    if method == UTILITARIAN:
        return (utilities * weights).sum(axis=-1) / weights.sum()
    if method == RAWLSIAN:
        return utilities.min(axis=-1)
    with np.errstate(divide="ignore"):
        logs = np.log(utilities)
    return np.exp((logs * weights).sum(axis=-1) / weights.sum())


def welfare(utilities: pd.DataFrame, *, method: str, weights: Mapping[str, float] | None = None) -> pd.Series:
    """Aggregate each row of ``utilities`` (rows = models, columns = dimensions) into one welfare value.

    Parameters
    ----------
    utilities : DataFrame of utilities in [0, 1]; NaN = not measured.
    method : ``"utilitarian"``, ``"rawlsian"`` or ``"nash"`` (see the module docstring for formulas).
    weights : per-column weights >= 0 (missing columns get 1).

    Returns
    -------
    Series indexed like ``utilities``. A row with a NaN utility on a dimension of positive weight
    gets NaN: an aggregate over a different set of dimensions would not be comparable.

    Examples
    --------
    >>> u = pd.DataFrame({"A": [0.8, 1.0], "B": [0.4, 0.2]}, index=["m1", "m2"])
    >>> [round(x, 4) for x in welfare(u, method="utilitarian")]
    [0.6, 0.6]
    >>> welfare(u, method="rawlsian").tolist()
    [0.4, 0.2]
    >>> [round(x, 4) for x in welfare(u, method="nash", weights={"A": 1, "B": 3})]
    [0.4757, 0.2991]
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATIONS)}, got {method!r}")
    if not isinstance(utilities, pd.DataFrame) or utilities.shape[1] == 0:
        raise ValueError("utilities must be a DataFrame with at least one dimension column")
    dimensions = [str(column) for column in utilities.columns]
    w = validate_weights(dict(weights or {}), dimensions)
    values = utilities.astype(float).set_axis(dimensions, axis=1)
    active = [name for name in dimensions if w[name] > 0]
    values, w = values[active], w[active]
    matrix = values.to_numpy()
    finite = matrix[~np.isnan(matrix)]
    if np.any((finite < 0) | (finite > 1)):
        row, column = np.argwhere((matrix < 0) | (matrix > 1))[0]
        raise ValueError(
            f"utilities must lie in [0, 1]; {values.index[row]!r} has {float(matrix[row, column])!r} on {active[column]!r}"
        )
    result = welfare_array(matrix, w.to_numpy(float), method)
    return pd.Series(result, index=values.index, dtype=float)


def competition_ranks(scores: np.ndarray) -> np.ndarray:
    """Ranks of ``scores`` (higher is better) along the last axis, ties sharing the best rank ("1224"); NaN ranks last.

    >>> competition_ranks(np.array([0.9, 0.5, 0.9, np.nan])).tolist()
    [1, 3, 1, 4]
    """
    negated = -np.where(np.isnan(scores), -np.inf, np.asarray(scores, dtype=float))
    ordered = np.sort(negated, axis=-1)
    # rank = 1 + the number of strictly better entries = 1 + the position of the first equal one
    if negated.ndim == 1:
        return 1 + np.searchsorted(ordered, negated, side="left")
    flat_sorted, flat = ordered.reshape(-1, ordered.shape[-1]), negated.reshape(-1, negated.shape[-1])
    ranks = np.stack([np.searchsorted(row_sorted, row, side="left") for row_sorted, row in zip(flat_sorted, flat, strict=True)])
    return 1 + ranks.reshape(negated.shape)


def rank_intervals(replicates: np.ndarray, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each model's rank over welfare replicates ``(n_boot, models)``.

    Each replicate's welfare values are ranked (:func:`competition_ranks`); the interval is the
    ``(1 - confidence) / 2`` and ``1 - (1 - confidence) / 2`` quantiles of a model's ranks (lower
    quantile rounded down, upper rounded up, so the interval holds at least ``confidence`` of the
    replicates). This is the bootstrap rank interval of Goldstein & Spiegelhalter (1996, §4) and
    Hall & Miller (2009).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    ranks = competition_ranks(replicates)
    tail = (1 - confidence) / 2
    low = np.floor(np.quantile(ranks, tail, axis=0, method="inverted_cdf")).astype(int)
    high = np.ceil(np.quantile(ranks, 1 - tail, axis=0, method="inverted_cdf")).astype(int)
    return low, high

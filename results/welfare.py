"""Social welfare functions that aggregate a model's per-dimension utilities into one number.

Pure numpy/pandas, no Django. Value Compass (Yao et al., 2025, §2.3) proposes ranking models by
a visitor's own value priorities through weighted social welfare functions (Arrow, 2012; Berger &
Emmerling, 2020); its site only averages. Here the dimensions play the role of the "citizens"
and a model's utility on a dimension is its **mean rating on the 1-6 scale** (how much the
model endorses the responses keyed to that value). Welfare functions need positive, comparable
utilities, which the centred scores (that sum to roughly zero) are not.

With utilities :math:`u_d > 0` and weights :math:`w_d \\ge 0` (:math:`\\sum_d w_d > 0`):

- utilitarian (weighted arithmetic mean): :math:`W = \\sum_d w_d u_d / \\sum_d w_d`;
- Rawlsian (maximin): :math:`W = \\min_{d: w_d > 0} u_d` (weights only select dimensions: a
  dimension with weight 0 is left out; the worst-off dimension counts whatever its weight);
- Bernoulli-Nash (weighted geometric mean):
  :math:`W = \\exp(\\sum_d w_d \\ln u_d / \\sum_d w_d)`, which rewards balance: for equal
  arithmetic means, the model with more even utilities scores higher.

All three are on the utilities' own scale (1-6 here), so they can be read like a mean rating.
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


def welfare(utilities: pd.DataFrame, *, method: str, weights: Mapping[str, float] | None = None) -> pd.Series:
    """Aggregate each row of ``utilities`` (rows = models, columns = dimensions) into one welfare value.

    Parameters
    ----------
    utilities : DataFrame of positive utilities (mean ratings on the 1-6 scale); NaN = not measured.
    method : ``"utilitarian"``, ``"rawlsian"`` or ``"nash"`` (see the module docstring for formulas).
    weights : per-column weights >= 0 (missing columns get 1).

    Returns
    -------
    Series indexed like ``utilities``. A row with a NaN utility on a dimension of positive weight
    gets NaN: an aggregate over a different set of dimensions would not be comparable.

    Examples
    --------
    >>> u = pd.DataFrame({"A": [4.0, 5.0], "B": [2.0, 1.0]}, index=["m1", "m2"])
    >>> welfare(u, method="utilitarian").tolist()
    [3.0, 3.0]
    >>> welfare(u, method="rawlsian").tolist()
    [2.0, 1.0]
    >>> [round(x, 4) for x in welfare(u, method="nash", weights={"A": 1, "B": 3})]
    [2.3784, 1.4953]
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
    finite = values.to_numpy()
    if method == NASH and np.any(finite[~np.isnan(finite)] <= 0):
        row, column = np.argwhere(finite <= 0)[0]
        raise ValueError(
            f"the geometric mean needs positive utilities; {values.index[row]!r} has {float(finite[row, column])!r} "
            f"on {active[column]!r}"
        )
    complete = values.notna().all(axis=1)
    if method == UTILITARIAN:
        result = (values * w).sum(axis=1) / w.sum()
    elif method == RAWLSIAN:
        result = values.min(axis=1)
    else:
        result = np.exp((np.log(values) * w).sum(axis=1) / w.sum())
    return result.where(complete).astype(float)

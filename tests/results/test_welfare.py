"""Social welfare aggregation against hand computations."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from results.welfare import NASH, RAWLSIAN, UTILITARIAN, validate_weights, welfare

UTILITIES = pd.DataFrame(
    {"Benevolence": [5.0, 4.0, 3.0], "Power": [2.0, 3.0, 3.0], "Security": [4.0, 4.0, 3.0]},
    index=["a", "b", "c"],
)


def test_it_computes_the_weighted_mean_by_hand():
    # a: (2*5 + 1*2 + 1*4) / 4 = 16/4 = 4.0 ; b: (8 + 3 + 4)/4 = 3.75 ; c: 12/4 = 3.0
    result = welfare(UTILITIES, method=UTILITARIAN, weights={"Benevolence": 2})
    assert result.tolist() == [4.0, 3.75, 3.0]


def test_it_takes_the_minimum_over_dimensions_with_positive_weight():
    assert welfare(UTILITIES, method=RAWLSIAN).tolist() == [2.0, 3.0, 3.0]
    # Power left out with weight 0: a's worst is now Security (4), b's 4, c's 3
    assert welfare(UTILITIES, method=RAWLSIAN, weights={"Power": 0}).tolist() == [4.0, 4.0, 3.0]


def test_it_computes_the_weighted_geometric_mean_by_hand():
    # a: (5^2 * 2 * 4)^(1/4) = 200^(1/4)
    result = welfare(UTILITIES, method=NASH, weights={"Benevolence": 2})
    assert result["a"] == pytest.approx(200 ** 0.25)
    assert result["b"] == pytest.approx((16 * 3 * 4) ** 0.25)
    assert result["c"] == pytest.approx(3.0)


def test_the_unweighted_geometric_mean_matches_scipy():
    expected = stats.gmean(UTILITIES.to_numpy(), axis=1)
    np.testing.assert_allclose(welfare(UTILITIES, method=NASH).to_numpy(), expected)


def test_the_three_functions_rank_an_unbalanced_model_differently():
    # Same arithmetic mean (3.5); x is unbalanced, y balanced: Nash and Rawls prefer y, the mean is indifferent.
    frame = pd.DataFrame({"A": [6.0, 3.5], "B": [1.0, 3.5]}, index=["x", "y"])
    assert welfare(frame, method=UTILITARIAN).tolist() == [3.5, 3.5]
    assert welfare(frame, method=RAWLSIAN).idxmax() == "y"
    assert welfare(frame, method=NASH).idxmax() == "y"


def test_a_model_missing_a_chosen_dimension_gets_no_welfare():
    frame = UTILITIES.copy()
    frame.loc["b", "Power"] = np.nan
    result = welfare(frame, method=UTILITARIAN)
    assert math.isnan(result["b"]) and result["a"] == pytest.approx(11 / 3)
    # ... unless that dimension has weight 0
    assert welfare(frame, method=UTILITARIAN, weights={"Power": 0})["b"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"Power": -1}, "finite number >= 0"),
        ({"Power": float("inf")}, "finite number >= 0"),
        ({"Power": "heavy"}, "must be a number"),
        ({"Benevolence": 0, "Power": 0, "Security": 0}, "at least one weight must be positive"),
        ({"Hedonism": 1}, "not one of the chosen dimensions"),
    ],
)
def test_it_rejects_bad_weights_with_a_clear_message(weights, message):
    with pytest.raises(ValueError, match=message):
        welfare(UTILITIES, method=UTILITARIAN, weights=weights)


def test_it_refuses_non_positive_utilities_for_the_geometric_mean():
    frame = pd.DataFrame({"A": [0.0], "B": [2.0]}, index=["zero"])
    with pytest.raises(ValueError, match="positive utilities; 'zero' has 0.0 on 'A'"):
        welfare(frame, method=NASH)


def test_it_rejects_an_unknown_aggregation():
    with pytest.raises(ValueError, match="aggregate must be one of utilitarian, rawlsian, nash"):
        welfare(UTILITIES, method="median")


def test_missing_weights_default_to_one():
    assert validate_weights({"A": 2}, ["A", "B"]).to_dict() == {"A": 2.0, "B": 1.0}

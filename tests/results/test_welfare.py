"""Utilities, social welfare aggregation and rank intervals against hand computations and scipy."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from results.welfare import (
    NASH,
    RAWLSIAN,
    UTILITARIAN,
    competition_ranks,
    endorsement_utilities,
    rank_intervals,
    target_utilities,
    validate_weights,
    welfare,
)

# Utilities in [0, 1]: the hand computations below are those of mean ratings 5, 4, 3 ... divided by 10.
UTILITIES = pd.DataFrame(
    {"Benevolence": [0.5, 0.4, 0.3], "Power": [0.2, 0.3, 0.3], "Security": [0.4, 0.4, 0.3]},
    index=["a", "b", "c"],
)


def test_it_computes_the_weighted_mean_by_hand():
    # a: (2*.5 + 1*.2 + 1*.4) / 4 = 1.6/4 = 0.4 ; b: (.8 + .3 + .4)/4 = 0.375 ; c: 1.2/4 = 0.3
    result = welfare(UTILITIES, method=UTILITARIAN, weights={"Benevolence": 2})
    np.testing.assert_allclose(result.tolist(), [0.4, 0.375, 0.3])


def test_it_takes_the_minimum_over_dimensions_with_positive_weight():
    assert welfare(UTILITIES, method=RAWLSIAN).tolist() == [0.2, 0.3, 0.3]
    # Power left out with weight 0: a's worst is now Security (.4), b's .4, c's .3
    assert welfare(UTILITIES, method=RAWLSIAN, weights={"Power": 0}).tolist() == [0.4, 0.4, 0.3]


def test_it_computes_the_weighted_geometric_mean_by_hand():
    # a: (.5^2 * .2 * .4)^(1/4)
    result = welfare(UTILITIES, method=NASH, weights={"Benevolence": 2})
    assert result["a"] == pytest.approx((0.25 * 0.2 * 0.4) ** 0.25)
    assert result["b"] == pytest.approx((0.16 * 0.3 * 0.4) ** 0.25)
    assert result["c"] == pytest.approx(0.3)


def test_the_unweighted_geometric_mean_matches_scipy():
    expected = stats.gmean(UTILITIES.to_numpy(), axis=1)
    np.testing.assert_allclose(welfare(UTILITIES, method=NASH).to_numpy(), expected)


def test_the_three_functions_rank_an_unbalanced_model_differently():
    # Same arithmetic mean (.5); x is unbalanced, y balanced: Nash and Rawls prefer y, the mean is indifferent.
    frame = pd.DataFrame({"A": [0.9, 0.5], "B": [0.1, 0.5]}, index=["x", "y"])
    np.testing.assert_allclose(welfare(frame, method=UTILITARIAN).tolist(), [0.5, 0.5])
    assert welfare(frame, method=RAWLSIAN).idxmax() == "y"
    assert welfare(frame, method=NASH).idxmax() == "y"


def test_a_model_missing_a_chosen_dimension_gets_no_welfare():
    frame = UTILITIES.copy()
    frame.loc["b", "Power"] = np.nan
    result = welfare(frame, method=UTILITARIAN)
    assert math.isnan(result["b"]) and result["a"] == pytest.approx(1.1 / 3)
    # ... unless that dimension has weight 0
    assert welfare(frame, method=UTILITARIAN, weights={"Power": 0})["b"] == pytest.approx(0.4)


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


def test_a_zero_utility_makes_the_nash_welfare_zero_not_an_error():
    frame = pd.DataFrame({"A": [0.0, 0.01], "B": [1.0, 0.5]}, index=["zero", "small"])
    result = welfare(frame, method=NASH)
    assert result["zero"] == 0.0
    assert result["small"] == pytest.approx(math.sqrt(0.005))


def test_it_refuses_utilities_outside_zero_to_one():
    frame = pd.DataFrame({"A": [0.5], "B": [2.0]}, index=["shifted"])
    with pytest.raises(ValueError, match=r"utilities must lie in \[0, 1\]; 'shifted' has 2.0 on 'B'"):
        welfare(frame, method=UTILITARIAN)


def test_it_rejects_an_unknown_aggregation():
    with pytest.raises(ValueError, match="aggregate must be one of utilitarian, rawlsian, nash"):
        welfare(UTILITIES, method="median")


def test_missing_weights_default_to_one():
    assert validate_weights({"A": 2}, ["A", "B"]).to_dict() == {"A": 2.0, "B": 1.0}


def test_closeness_utility_is_one_minus_the_scaled_distance_by_hand():
    values = pd.DataFrame({"Benevolence": [0.8, -0.2, 5.0], "Power": [-1.0, 0.0, -5.0]}, index=["near", "flat", "far"])
    target = {"Benevolence": 0.8, "Power": -1.2}
    u = target_utilities(values, target, kind="centred")
    # |0.8-0.8|/10 = 0 -> 1; |-1.0+1.2|/10 = .02 -> .98; flat: 1-.1 = .9, 1-.12 = .88; far: 1-.42, 1-.38
    np.testing.assert_allclose(u.to_numpy(), [[1.0, 0.98], [0.9, 0.88], [0.58, 0.62]])
    means = target_utilities(pd.DataFrame({"A": [6.0, 1.0]}), {"A": 1.0}, kind="mean")
    np.testing.assert_allclose(means["A"].tolist(), [0.0, 1.0])  # as far as the 1-6 scale allows, and on target


def test_closeness_to_a_target_lacking_a_dimension_is_unmeasured():
    u = target_utilities(pd.DataFrame({"A": [0.0], "B": [0.0]}), {"A": 0.5}, kind="centred")
    assert u.at[0, "A"] == pytest.approx(0.95) and math.isnan(u.at[0, "B"])


def test_endorsement_rescales_centred_scores_to_zero_one():
    np.testing.assert_allclose(endorsement_utilities(pd.DataFrame({"A": [-5.0, 0.0, 2.5]}))["A"].tolist(), [0.0, 0.5, 0.75])


def test_competition_ranks_match_scipy_min_ranking():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=(50, 12)).astype(float)  # many ties
    expected = np.vstack([stats.rankdata(-row, method="min") for row in scores])
    np.testing.assert_array_equal(competition_ranks(scores), expected)
    assert competition_ranks(np.array([0.2, np.nan, 0.9])).tolist() == [2, 3, 1]


def test_rank_intervals_are_the_percentiles_of_the_replicate_ranks():
    # 100 replicates of two models: b beats a in 30 of them
    replicates = np.array([[0.6, 0.5]] * 70 + [[0.4, 0.5]] * 30)
    low, high = rank_intervals(replicates, confidence=0.5)  # the middle half: quantiles .25 and .75
    assert low.tolist() == [1, 1] and high.tolist() == [2, 2]
    low, high = rank_intervals(replicates[:80], confidence=0.8)  # a is 2nd in 10 of 80: 12.5 % > 10 %
    assert (low.tolist(), high.tolist()) == ([1, 1], [2, 2])
    low, high = rank_intervals(replicates[:75], confidence=0.8)  # 5 of 75 = 6.7 % < 10 %: a is surely 1st
    assert (low.tolist(), high.tolist()) == ([1, 2], [1, 2])

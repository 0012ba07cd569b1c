"""Cronbach's alpha against pingouin and the formula of Appendix F."""

import numpy as np
import pandas as pd
import pingouin
import pytest

from psychometrics.stats.reliability import alpha_per_dimension, cronbach_alpha


def _responses(seed=0, respondents=12, items=6):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(respondents, 1))
    answers = np.clip(np.round(3.5 + latent + rng.normal(scale=0.8, size=(respondents, items))), 1, 6)
    return pd.DataFrame(answers, columns=[f"i{k}" for k in range(items)])


def test_alpha_matches_pingouin():
    data = _responses()
    assert cronbach_alpha(data) == pytest.approx(pingouin.cronbach_alpha(data)[0], abs=1e-12)


def test_alpha_matches_the_formula_by_hand():
    data = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 4, 4], "c": [1, 3, 3, 5]})
    item_variances = [np.var([1, 2, 3, 4], ddof=1), np.var([2, 2, 4, 4], ddof=1), np.var([1, 3, 3, 5], ddof=1)]
    total_variance = np.var([4, 7, 10, 13], ddof=1)
    assert cronbach_alpha(data) == pytest.approx(3 / 2 * (1 - sum(item_variances) / total_variance), abs=1e-12)


def test_respondents_with_missing_answers_are_dropped_like_pingouins_listwise():
    data = _responses(seed=1)
    data.iloc[2, 3] = np.nan
    expected = pingouin.cronbach_alpha(data, nan_policy="listwise")[0]
    assert cronbach_alpha(data) == pytest.approx(expected, abs=1e-12)


def test_alpha_needs_two_items_and_two_respondents():
    with pytest.raises(ValueError, match="2 items"):
        cronbach_alpha(pd.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(ValueError, match="2 complete respondents"):
        cronbach_alpha(pd.DataFrame({"a": [1], "b": [2]}))
    assert np.isnan(cronbach_alpha(pd.DataFrame({"a": [2, 2], "b": [3, 3]})))


def test_alpha_per_dimension_reverse_scores_negatively_keyed_items():
    data = _responses(seed=2, items=4)
    flipped = data.copy()
    flipped["i3"] = 7 - flipped["i3"]
    selection = pd.DataFrame({
        "item_id": ["i0", "i1", "i2", "i3", "i0"],
        "family": ["pvq"] * 4 + ["bfi"],
        "dimension": ["Power"] * 4 + ["Openness"],
        "selected": [True, True, True, True, True],
        "direction": [1, 1, 1, -1, 1],
    })
    result = alpha_per_dimension(flipped, selection, scale=(1, 6)).set_index("dimension")
    assert result.loc["Power", "alpha"] == pytest.approx(pingouin.cronbach_alpha(data)[0], abs=1e-12)
    assert result.loc["Power", "items"] == 4
    assert np.isnan(result.loc["Openness", "alpha"])  # one item

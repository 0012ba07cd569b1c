"""Prompt sensitivity statistics against hand computations and scipy."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark import scoring
from benchmark.consistency import mean_abs_shift, prompt_consistency


def _answers(ratings: dict[str, list]) -> pd.DataFrame:
    rows = [(item, index, rating) for item, values in ratings.items() for index, rating in enumerate(values)]
    return pd.DataFrame(rows, columns=["item_id", "prompt_index", "rating"]).astype({"rating": float})


EMPTY_SELECTION = scoring.select_items(pd.DataFrame(columns=["item_id", "family", "dimension", "rho", "p_value"]))


def test_identical_share_counts_only_items_with_six_parsed_answers():
    answers = _answers({"a": [3] * 6, "b": [3, 3, 3, 3, 3, 4], "c": [5, 5, None, 5, 5, 5]})
    result = prompt_consistency(answers, EMPTY_SELECTION)
    assert result["complete_items"] == 2 and result["identical_share"] == 0.5


def test_mean_abs_shift_by_hand_with_an_unparsed_prompt():
    # a: parsed 1, 3, 6 -> pairs |1-3|, |1-6|, |3-6| = 2, 5, 3 -> 10/3; b: one parsed answer, left out.
    answers = _answers({"a": [1, None, 3, None, 6, None], "b": [4, None, None, None, None, None]})
    assert mean_abs_shift(answers) == (pytest.approx(10 / 3), 1)


def test_order_spearman_matches_scipy_on_the_two_halves():
    rng = np.random.default_rng(5)
    ratings = {f"i{k}": list(rng.integers(1, 7, 6).astype(float)) for k in range(40)}
    ratings["i0"][0] = np.nan
    answers = _answers(ratings)
    result = prompt_consistency(answers, EMPTY_SELECTION)
    first = [np.nanmean(values[:3]) for values in ratings.values()]
    second = [np.nanmean(values[3:]) for values in ratings.values()]
    expected = stats.spearmanr(first, second)
    assert result["order_spearman"]["rho"] == pytest.approx(expected.statistic, abs=1e-12)
    assert result["order_spearman"]["p_value"] == pytest.approx(expected.pvalue, abs=1e-12)
    pairs = [np.mean([abs(a - b) for a, b in combinations([v for v in values if not np.isnan(v)], 2)])
             for values in ratings.values()]
    assert result["mean_abs_shift"] == pytest.approx(np.mean(pairs), abs=1e-12)


def test_order_spearman_says_why_when_it_cannot_be_computed():
    result = prompt_consistency(_answers({"a": [3] * 6, "b": [4] * 6}), EMPTY_SELECTION)
    assert result["order_spearman"]["rho"] is None
    assert result["order_spearman"]["reason"] == "fewer than 3 items with answers in both orders"
    constant = prompt_consistency(_answers({k: [2, 2, 2, 1 + i, 1 + i, 1 + i] for i, k in enumerate("abcd")}),
                                  EMPTY_SELECTION)
    assert "constant" in constant["order_spearman"]["reason"]


def test_template_profiles_score_each_template_from_its_two_prompts_and_correlate_them():
    dimensions = ["Benevolence", "Power", "Security", "Hedonism"]
    items = {f"{d}-{j}": d for d in dimensions for j in range(3)}
    rng = np.random.default_rng(2)
    ratings = {item: list(rng.integers(1, 7, 6).astype(float)) for item in items}
    correlations = pd.DataFrame({"item_id": list(items), "family": "pvq", "dimension": list(items.values()),
                                 "rho": 0.5, "p_value": 0.01})
    result = prompt_consistency(_answers(ratings), scoring.select_items(correlations))
    profiles = {}
    for k in range(3):
        item_mean = {item: np.mean([values[k], values[k + 3]]) for item, values in ratings.items()}
        baseline = np.mean(list(item_mean.values()))
        profiles[k + 1] = [np.mean([item_mean[i] for i, d in items.items() if d == dim]) - baseline for dim in dimensions]
        assert [result["template_profiles"][f"template_{k + 1}"][d] for d in dimensions] == pytest.approx(profiles[k + 1])
    for entry in result["template_correlations"]:
        a, b = entry["templates"]
        assert entry["spearman"] == pytest.approx(stats.spearmanr(profiles[a], profiles[b]).statistic, abs=1e-9)
        assert entry["pearson"] == pytest.approx(stats.pearsonr(profiles[a], profiles[b]).statistic, abs=1e-9)
        assert entry["n_dimensions"] == 4


def test_bad_prompt_indices_are_rejected():
    with pytest.raises(ValueError, match="prompt_index"):
        prompt_consistency(pd.DataFrame({"item_id": ["a"], "prompt_index": [6], "rating": [3.0]}), EMPTY_SELECTION)

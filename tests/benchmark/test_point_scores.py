"""The vectorised scoring paths (point estimates, template profiles, the prompt bootstrap's inputs) against
plain-Python hand computations and numpy."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from benchmark import scoring
from benchmark.consistency import PROFILE_FAMILY, TEMPLATES, template_profiles

DIMENSIONS = {"pvq": ["Power", "Benevolence", "Hedonism", "Security"], "bfi": ["Openness", "Neuroticism"]}


def _selection(rng, items: list[str]) -> pd.DataFrame:
    """Random signed keys: items keyed to several dimensions, some reverse-keyed, rows in random order."""
    rows = [(item, family, dimension, int(rng.choice([-1, 1])))
            for item in items for family, dimensions in DIMENSIONS.items() for dimension in dimensions
            if rng.random() < 0.3]
    rows.append(("never-answered", "pvq", "Power", 1))
    rows.append(("unkeyed-family", None, "Power", 1))  # a row without a family belongs to no dimension
    order = rng.permutation(len(rows))
    return pd.DataFrame([rows[i] for i in order], columns=["item_id", "family", "dimension", "sign"])


def _scores_by_hand(item_mean: dict[str, float], selection: pd.DataFrame) -> list[tuple]:
    """(family, dimension, score, mean, sd, n_items) in order of first appearance, in plain Python."""
    rows = [row for row in selection.itertuples(index=False) if isinstance(row.family, str)]
    keyed = [(row, scoring.REVERSE_BASE - item_mean[row.item_id] if row.sign < 0 else item_mean[row.item_id])
             for row in rows if not math.isnan(item_mean.get(row.item_id, math.nan))]
    baseline = {}
    for family in {row.family for row in rows}:
        per_item: dict[str, list[float]] = {}
        for row, value in keyed:
            if row.family == family:
                per_item.setdefault(row.item_id, []).append(value)
        baseline[family] = statistics.fmean(statistics.fmean(values) for values in per_item.values()) if per_item else math.nan
    result = []
    for family, dimension in dict.fromkeys((row.family, row.dimension) for row in rows):
        values = [value for row, value in keyed if (row.family, row.dimension) == (family, dimension)]
        mean = statistics.fmean(values) if values else math.nan
        sd = statistics.stdev(values) if len(values) > 1 else math.nan
        result.append((family, dimension, mean - baseline[family], mean, sd, len(values)))
    return result


@pytest.mark.parametrize("seed", range(8))
def test_point_estimates_equal_a_plain_python_computation_on_random_signed_keys(seed):
    rng = np.random.default_rng(seed)
    items = [f"item-{j}" for j in range(30)]
    selection = _selection(rng, items)
    means = {item: (math.nan if rng.random() < 0.15 else float(rng.uniform(1, 6))) for item in items}
    scores = scoring.score_dimensions(pd.DataFrame({"item_id": list(means), "mean": list(means.values())}), selection,
                                      n_boot=1)
    expected = _scores_by_hand(means, selection)
    assert scores[["family", "dimension"]].apply(tuple, axis=1).tolist() == [row[:2] for row in expected]
    assert scores["n_items"].tolist() == [row[5] for row in expected]
    for column, position in (("score", 2), ("mean", 3), ("sd", 4)):
        np.testing.assert_allclose(scores[column].to_numpy(float), [row[position] for row in expected], rtol=0, atol=1e-12)


def test_point_scores_of_several_sets_of_means_are_each_set_scored_alone():
    rng = np.random.default_rng(11)
    items = [f"item-{j}" for j in range(25)]
    selection = _selection(rng, items)
    sets = pd.DataFrame({name: np.where(rng.random(len(items)) < 0.2, np.nan, rng.uniform(1, 6, len(items)))
                         for name in ("a", "b", "c")}, index=items)
    together = scoring.dimension_point_scores(sets, selection)
    for name in sets.columns:
        expected = _scores_by_hand(sets[name].to_dict(), selection)
        assert together[["family", "dimension"]].apply(tuple, axis=1).tolist() == [row[:2] for row in expected]
        np.testing.assert_allclose(together[name].to_numpy(float), [row[2] for row in expected], rtol=0, atol=1e-12)


def test_template_profiles_equal_each_templates_scores_restricted_to_pvq():
    rng = np.random.default_rng(5)
    items = [f"item-{j}" for j in range(30)]
    selection = _selection(rng, items)
    answers = pd.DataFrame([(item, index, float(rng.integers(1, 7)) if rng.random() > 0.15 else None)
                            for item in items[:-2] for index in range(2 * TEMPLATES)],
                           columns=["item_id", "prompt_index", "rating"])
    profiles = template_profiles(answers, selection)
    assert list(profiles.columns) == list(range(1, TEMPLATES + 1))
    for template in range(TEMPLATES):
        mine = answers[answers["prompt_index"].isin([template, template + TEMPLATES])]
        scores = scoring.score_dimensions(scoring.item_means(mine), selection)
        pvq = scores[scores["family"] == PROFILE_FAMILY]
        assert profiles.index.tolist() == pvq["dimension"].tolist()
        np.testing.assert_allclose(profiles[template + 1].to_numpy(float), pvq["score"].to_numpy(float), rtol=0, atol=1e-12)


@pytest.mark.parametrize("width", range(1, 13))
def test_resampled_item_means_equal_numpys_row_means_bit_for_bit(width):
    rng = np.random.default_rng(width)
    values = rng.uniform(1, 6, width)[rng.integers(0, width, size=(500, width))] * rng.choice([1, 1e-3, 1e3])
    means = np.empty(len(values))
    scoring._row_means(values, out=means)
    np.testing.assert_array_equal(means, values.mean(axis=1))


def test_each_items_resampled_ratings_are_its_parsed_answers_in_answer_order():
    answers = pd.DataFrame({"item_id": ["b", "a", "b", "a", "b", "c"], "prompt_index": [0, 0, 1, 1, 2, 0],
                            "rating": [3.0, None, 1.0, 6.0, "5", None]})
    by_item = scoring._ratings_by_item(answers)
    assert list(by_item) == ["b", "a"]  # c has no parsed answer: nothing to resample
    assert by_item["b"].tolist() == [3.0, 1.0, 5.0] and by_item["a"].tolist() == [6.0]

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from benchmark.scoring import (
    cronbach_alpha,
    item_means,
    reliability_across_models,
    score_dimensions,
    select_items,
)


def _answers(ratings: dict[str, list]) -> pd.DataFrame:
    rows = [(item, index, rating) for item, values in ratings.items() for index, rating in enumerate(values)]
    return pd.DataFrame(rows, columns=["item_id", "prompt_index", "rating"])


# Item means by hand: a = 5, b = 3, c = 2, d = 4 (a's unparsed answers are left out).
ANSWERS = _answers({
    "a": [6, 4, None, 5, 5, None],
    "b": [3, 3, 3, 3, 3, 3],
    "c": [1, 3, 2, 2, 2, 2],
    "d": [4, 4, 4, 4, 4, 4],
})
CORRELATIONS = pd.DataFrame(
    [
        ("a", "pvq", "Power", 0.40, 0.01),
        ("b", "pvq", "Power", 0.35, 0.02),
        ("c", "pvq", "Benevolence", 0.50, 0.001),
        ("d", "pvq", "Benevolence", 0.31, 0.04),
        ("a", "pvq", "Benevolence", -0.40, 0.01),
        ("b", "pvq", "Tradition", 0.45, 0.05),  # p not below alpha: never selected
        ("c", "pvq", "Hedonism", 0.29, 0.001),  # below the threshold
        ("d", "bfi", "Openness", 0.30, 0.049),  # exactly at the threshold: selected
        ("a", "bfi", "Openness", None, None),  # constant ratings: no correlation
    ],
    columns=["item_id", "family", "dimension", "rho", "p_value"],
)


def test_item_means_average_the_parsed_answers_only():
    means = item_means(ANSWERS).set_index("item_id")
    assert means["mean"].to_dict() == {"a": 5.0, "b": 3.0, "c": 2.0, "d": 4.0}
    assert means.loc["a", "n_parsed"] == 4 and means.loc["a", "n_answers"] == 6


def test_positive_mode_keeps_rho_at_least_threshold_with_p_below_alpha():
    selected = select_items(CORRELATIONS)
    assert set(map(tuple, selected[["item_id", "dimension"]].to_numpy())) == {
        ("a", "Power"), ("b", "Power"), ("c", "Benevolence"), ("d", "Benevolence"), ("d", "Openness"),
    }
    assert (selected["sign"] == 1).all()


def test_signed_mode_adds_negatively_keyed_items_with_sign_minus_one():
    selected = select_items(CORRELATIONS, mode="signed")
    row = selected[(selected["item_id"] == "a") & (selected["dimension"] == "Benevolence")]
    assert row["sign"].tolist() == [-1]


def test_scores_are_dimension_mean_minus_the_family_mean_by_hand():
    scores = score_dimensions(item_means(ANSWERS), select_items(CORRELATIONS)).set_index("dimension")
    # pvq items a, b, c, d: family mean (5 + 3 + 2 + 4) / 4 = 3.5
    assert scores.loc["Power", "mean"] == pytest.approx(4.0)
    assert scores.loc["Power", "score"] == pytest.approx(0.5)
    assert scores.loc["Power", "sd"] == pytest.approx(np.sqrt(2))
    assert scores.loc["Benevolence", "score"] == pytest.approx(-0.5)
    assert scores.loc["Power", "n_items"] == 2
    # bfi has the one item d: uncentred mean kept, centred score 0
    assert scores.loc["Openness", "mean"] == pytest.approx(4.0)
    assert scores.loc["Openness", "score"] == pytest.approx(0.0)


def test_signed_mode_reverse_scores_negatively_keyed_items():
    scores = score_dimensions(item_means(ANSWERS), select_items(CORRELATIONS, mode="signed")).set_index("dimension")
    # Benevolence: c = 2, d = 4, a reversed 7 - 5 = 2 -> 8/3
    assert scores.loc["Benevolence", "mean"] == pytest.approx(8 / 3)
    # The baseline uses the same reverse-scored values: item a is keyed + to Power (5) and - to
    # Benevolence (7 - 5 = 2), so it enters the baseline as (5 + 2) / 2 = 3.5; b = 3, c = 2, d = 4:
    # baseline (3.5 + 3 + 2 + 4) / 4 = 3.125 (not the raw 3.5)
    assert scores.loc["Benevolence", "score"] == pytest.approx(8 / 3 - 3.125)
    assert scores.loc["Power", "score"] == pytest.approx(4.0 - 3.125)


def test_signed_centring_removes_a_constant_shift_of_the_keyed_values():
    """A model whose ratings of positively keyed items are all raised by 1 and of reverse-keyed
    items lowered by 1 (so every keyed value rises by 1) keeps its signed scores: the baseline is
    computed on the keyed values, so a uniform shift of them cancels. With the raw baseline it would not."""
    correlations = pd.DataFrame(
        [("p1", "Power", 0.5), ("p2", "Power", 0.5), ("p3", "Power", -0.5),
         ("b1", "Benevolence", 0.5), ("b2", "Benevolence", -0.5), ("b3", "Benevolence", -0.5)],
        columns=["item_id", "dimension", "rho"]).assign(family="pvq", p_value=0.001)
    selection = select_items(correlations, mode="signed")
    base = {"p1": 4, "p2": 3, "p3": 2, "b1": 5, "b2": 3, "b3": 4}
    shifted = {item: rating + (1 if item in ("p1", "p2", "b1") else -1) for item, rating in base.items()}
    first = score_dimensions(item_means(_answers({k: [v] * 6 for k, v in base.items()})), selection).set_index("dimension")
    second = score_dimensions(item_means(_answers({k: [v] * 6 for k, v in shifted.items()})), selection).set_index("dimension")
    np.testing.assert_allclose(first["score"], second["score"], atol=1e-12)
    np.testing.assert_allclose(second["mean"] - first["mean"], [1.0, 1.0])
    # By hand: keyed values Power 4, 3, 7-2=5 (mean 4); Benevolence 5, 7-3=4, 7-4=3 (mean 4); baseline 4
    assert first.loc["Power", "score"] == pytest.approx(0.0) and first.loc["Benevolence", "score"] == pytest.approx(0.0)


def test_the_signed_bootstrap_recomputes_the_baseline_on_reverse_scored_values():
    """Without answers the bootstrap resamples items only: written out by hand with the keyed values."""
    correlations = pd.DataFrame(
        [("i1", "Power", 0.5), ("i2", "Power", -0.5), ("i3", "Power", 0.5), ("j1", "Security", 0.5), ("j2", "Security", -0.5)],
        columns=["item_id", "dimension", "rho"]).assign(family="pvq", p_value=0.001)
    means = pd.DataFrame({"item_id": ["i1", "i2", "i3", "j1", "j2"], "mean": [5.0, 2.0, 4.0, 3.0, 5.5]})
    scores = score_dimensions(means, select_items(correlations, mode="signed"), n_boot=300, seed=3).set_index("dimension")
    keyed = np.array([5.0, 5.0, 4.0, 3.0, 1.5])  # 7 - 2 and 7 - 5.5 for the reverse-keyed items
    counts = np.zeros((300, 5), dtype=int)
    strata = np.random.default_rng([3, 0])
    counts[:, :3] = strata.multinomial(3, np.full(3, 1 / 3), size=300)
    counts[:, 3:] = strata.multinomial(2, np.full(2, 1 / 2), size=300)
    replicate = (keyed[:3] * counts[:, :3]).sum(axis=1) / 3 - (keyed * counts).sum(axis=1) / 5
    assert scores.loc["Power", "score"] == pytest.approx(14 / 3 - 18.5 / 5)
    np.testing.assert_allclose(scores.loc["Power", ["ci_low", "ci_high"]].to_numpy(float),
                               np.percentile(replicate, [2.5, 97.5]), atol=1e-12)


def test_bootstrap_interval_is_reproducible_and_brackets_the_score():
    rng = np.random.default_rng(0)
    items = [f"i{k}" for k in range(30)]
    answers = _answers({item: list(rng.integers(1, 7, 6)) for item in items})
    correlations = pd.DataFrame({"item_id": items, "family": "pvq", "dimension": ["Power"] * 15 + ["Security"] * 15,
                                 "rho": 0.5, "p_value": 0.001})
    first = score_dimensions(item_means(answers), select_items(correlations))
    second = score_dimensions(item_means(answers), select_items(correlations))
    pd.testing.assert_frame_equal(first, second)
    assert (first["ci_low"] < first["score"]).all() and (first["score"] < first["ci_high"]).all()


def test_bootstrap_interval_matches_a_two_stage_bootstrap_written_out_by_hand():
    """Each item's prompts, then the dimension's items and the family's other items (separately) are
    resampled; dimension mean and family baseline are recomputed in every replicate."""
    ratings = {"v": [1, 2, 1], "w": [2, 3, 2], "x": [4, 4, 5], "y": [6, 5, 6], "z": [3, 4, 3], "o": [5, 5, 2]}
    answers = pd.DataFrame(
        [(item, k, r) for item, rs in ratings.items() for k, r in enumerate(rs)], columns=["item_id", "prompt_index", "rating"]
    )
    correlations = pd.DataFrame({"item_id": list("vwxyzo"), "family": "bfi",
                                 "dimension": ["Openness"] * 5 + ["Extraversion"], "rho": 0.4, "p_value": 0.01})
    selection = select_items(correlations)
    scores = score_dimensions(item_means(answers), selection, answers=answers, n_boot=400, seed=7).set_index("dimension")

    rng = np.random.default_rng(7)
    family_items = list("vwxyzo")  # distinct keyed items of the family, in selection order
    resampled = np.empty((400, 6))
    for j, item in enumerate(family_items):
        values = np.array(ratings[item], float)
        picks = rng.integers(0, 3, size=(400, 3))
        resampled[:, j] = values[picks].mean(axis=1)
    # Openness is the first dimension scored (row 0): its five items and the one other item, separately.
    strata = np.random.default_rng([7, 0])
    counts = np.zeros((400, 6), dtype=int)
    counts[:, :5] = strata.multinomial(5, np.full(5, 1 / 5), size=400)
    counts[:, 5:] = strata.multinomial(1, [1.0], size=400)
    replicate_scores = (resampled[:, :5] * counts[:, :5]).sum(axis=1) / 5 - (resampled * counts).sum(axis=1) / 6
    expected = np.percentile(replicate_scores, [2.5, 97.5])
    assert scores.loc["Openness", "ci_low"] == pytest.approx(expected[0], abs=1e-12)
    assert scores.loc["Openness", "ci_high"] == pytest.approx(expected[1], abs=1e-12)
    assert np.isnan(scores.loc["Extraversion", "ci_low"])  # one item: no interval


def test_the_bootstrap_interval_covers_the_true_score_about_95_percent_of_the_time():
    """Simulated model with known truth: items of a dimension have true means around m_d, the family's
    other items around m_o; each prompt answer adds noise. Truth = m_d - family mean of true item means."""
    rng = np.random.default_rng(2024)
    n_dim, n_other, prompts, trials = 25, 25, 6, 200
    m_d, m_o, item_sd, prompt_sd = 4.0, 3.0, 0.6, 0.8
    truth = m_d - (n_dim * m_d + n_other * m_o) / (n_dim + n_other)
    covered = 0
    for trial in range(trials):
        true_means = np.r_[rng.normal(m_d, item_sd, n_dim), rng.normal(m_o, item_sd, n_other)]
        items = [f"i{j}" for j in range(n_dim + n_other)]
        answers = pd.DataFrame(
            [(item, k, mu + rng.normal(0, prompt_sd)) for item, mu in zip(items, true_means, strict=True)
             for k in range(prompts)],
            columns=["item_id", "prompt_index", "rating"],
        )
        dimension = ["Openness"] * n_dim + ["Extraversion"] * n_other
        selection = select_items(pd.DataFrame({"item_id": items, "family": "bfi", "dimension": dimension,
                                               "rho": 0.5, "p_value": 0.001}))
        row = score_dimensions(item_means(answers), selection, answers=answers, n_boot=300, seed=trial)
        row = row.set_index("dimension").loc["Openness"]
        covered += row["ci_low"] <= truth <= row["ci_high"]
    assert 0.88 <= covered / trials <= 0.99


def test_a_dimension_without_parsed_answers_has_no_score():
    answers = _answers({"a": [None] * 6, "b": [3] * 6})
    correlations = pd.DataFrame([("a", "pvq", "Power", 0.5, 0.01), ("b", "pvq", "Security", 0.5, 0.01)],
                                columns=["item_id", "family", "dimension", "rho", "p_value"])
    scores = score_dimensions(item_means(answers), select_items(correlations)).set_index("dimension")
    assert scores.loc["Power", "n_items"] == 0 and np.isnan(scores.loc["Power", "score"])
    assert scores.loc["Security", "score"] == 0


@pytest.mark.parametrize("kwargs, message", [({"mode": "both"}, "mode"), ({"threshold": 1.5}, "threshold"),
                                              ({"alpha": 0}, "alpha")])
def test_select_items_rejects_bad_rules(kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_items(CORRELATIONS, **kwargs)


def test_cronbach_alpha_used_for_table_4_matches_pingouin():
    rng = np.random.default_rng(1)
    latent = rng.normal(size=40)
    data = pd.DataFrame({f"item{k}": latent + rng.normal(scale=0.8, size=40) for k in range(6)})
    assert cronbach_alpha(data) == pytest.approx(pg.cronbach_alpha(data)[0], abs=1e-12)


def test_cronbach_alpha_drops_incomplete_rows_like_pingouin_listwise():
    data = pd.DataFrame({"a": [1, 2, 3, 4, 5, np.nan], "b": [2, 2, 4, 5, 5, 1], "c": [1, 3, 3, 5, 4, 2]})
    assert cronbach_alpha(data) == pytest.approx(pg.cronbach_alpha(data, nan_policy="listwise")[0], abs=1e-12)


def test_reliability_across_models_is_alpha_of_the_models_by_items_matrix():
    rng = np.random.default_rng(2)
    models = [f"m{k}" for k in range(8)]
    items = ["p1", "p2", "p3", "s1", "s2"]
    rows = [(model, item, float(rng.uniform(1, 6))) for model in models for item in items]
    frame = pd.DataFrame(rows, columns=["model", "item_id", "mean"])
    correlations = pd.DataFrame(
        [("p1", "pvq", "Power", 0.5, 0.01), ("p2", "pvq", "Power", 0.4, 0.01), ("p3", "pvq", "Power", -0.4, 0.01),
         ("s1", "pvq", "Security", 0.5, 0.01), ("s2", "pvq", "Security", 0.5, 0.01)],
        columns=["item_id", "family", "dimension", "rho", "p_value"],
    )
    table = reliability_across_models(frame, select_items(correlations, mode="signed")).set_index("dimension")
    wide = frame.pivot(index="model", columns="item_id", values="mean")
    power = wide[["p1", "p2", "p3"]].assign(p3=7 - wide["p3"])
    assert table.loc["Power", "alpha"] == pytest.approx(pg.cronbach_alpha(power)[0])
    assert table.loc["Security", "alpha"] == pytest.approx(pg.cronbach_alpha(wide[["s1", "s2"]])[0])
    assert table.loc["Power", "n_models"] == 8

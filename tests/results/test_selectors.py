"""Selectors behind the pages: leaderboard, comparisons, alignment statistics, persona bias."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.decomposition import PCA

from benchmark.models import Score
from results import selectors

VECTORS = pd.DataFrame(
    [[0.3, -0.1, 0.5, -0.4, 0.2], [0.1, 0.2, -0.3, 0.4, 0.0], [-0.2, 0.6, 0.1, 0.0, -0.5], [0.4, 0.1, 0.2, -0.6, 0.3]],
    index=["m1", "m2", "g1", "g2"], columns=["A", "B", "C", "D", "E"],
)


def test_spearman_table_matches_scipy_pair_by_pair():
    table = selectors.spearman_table(VECTORS.loc[["m1", "m2"]], VECTORS.loc[["g1", "g2"]])
    assert len(table) == 4
    for row in table.itertuples():
        expected = stats.spearmanr(VECTORS.loc[row.left], VECTORS.loc[row.right])
        assert row.rho == pytest.approx(expected.statistic) and row.p_value == pytest.approx(expected.pvalue)
        assert row.n == 5


def test_spearman_uses_only_dimensions_both_rows_have_and_needs_three():
    left = pd.DataFrame([[1.0, 2.0, np.nan, 4.0, 3.0]], index=["x"], columns=list("ABCDE"))
    right = pd.DataFrame([[1.0, 3.0, 9.0, 2.0, np.nan], [1.0, np.nan, np.nan, np.nan, 2.0]], index=["y", "z"],
                         columns=list("ABCDE"))
    table = selectors.spearman_table(left, right).set_index("right")
    assert table.at["y", "n"] == 3
    assert table.at["y", "rho"] == pytest.approx(stats.spearmanr([1, 2, 4], [1, 3, 2]).statistic)
    assert np.isnan(table.at["z", "rho"])


@pytest.mark.parametrize("seed", range(12))
def test_spearman_table_matches_scipy_on_random_profiles_with_ties_gaps_and_constant_rows(seed):
    rng = np.random.default_rng(seed)
    columns = [f"D{k}" for k in range(int(rng.integers(3, 12)))]

    def profiles(rows):
        values = rng.choice(np.round(rng.normal(size=6), 1), size=(rows, len(columns)))  # few values: ties
        values[rng.random(values.shape) < 0.15] = np.nan
        values[0] = 0.5  # a constant row
        return pd.DataFrame(values, index=[f"r{seed}-{k}" for k in range(rows)], columns=columns)

    left, right = profiles(int(rng.integers(1, 9))), profiles(int(rng.integers(1, 9)))
    table = selectors.spearman_table(left, right)
    assert len(table) == len(left) * len(right)
    for row in table.itertuples():
        a, b = left.loc[row.left], right.loc[row.right]
        both = a.notna() & b.notna()
        assert row.n == both.sum()
        if both.sum() < 3 or a[both].nunique() < 2 or b[both].nunique() < 2:
            assert np.isnan(row.rho) and np.isnan(row.p_value)
            continue
        expected = stats.spearmanr(a[both], b[both])
        assert abs(row.rho - expected.statistic) < 1e-12
        assert abs(row.p_value - expected.pvalue) < 1e-9


def test_pca_map_matches_scikit_learn_up_to_axis_sign():
    result = selectors.pca_map(VECTORS)
    reference = PCA(n_components=2).fit(VECTORS.to_numpy())
    expected = reference.transform(VECTORS.to_numpy())
    for axis, column in enumerate(["pc1", "pc2"]):
        ours = result[column].to_numpy()
        sign = np.sign(ours @ expected[:, axis])
        np.testing.assert_allclose(ours, sign * expected[:, axis], atol=1e-10)
    np.testing.assert_allclose(result.attrs["explained"], reference.explained_variance_ratio_)


def test_the_leaderboard_uses_mean_ratings_as_utilities(scored, bank):
    board = selectors.leaderboard(bank=bank, dimensions=["Power", "Benevolence"], aggregate="utilitarian",
                                  weights="Power:1,Benevolence:3")
    means = {(s.run.model, s.dimension): s.mean for s in Score.objects.filter(
        run__condition="baseline", dimension__in=["Power", "Benevolence"]).select_related("run")}
    for row in board.rows:
        expected = (means[(row["model"], "Power")] + 3 * means[(row["model"], "Benevolence")]) / 4
        assert row["welfare"] == pytest.approx(expected, abs=1e-4)
        assert row["values"]["Power"] == pytest.approx(Score.objects.get(run_id=row["run_id"], dimension="Power").score,
                                                       abs=1e-4)
    assert [row["model"] for row in board.rows] == sorted(
        [row["model"] for row in board.rows], key=lambda m: -((means[(m, "Power")] + 3 * means[(m, "Benevolence")]) / 4))
    assert board.long_frame().shape == (6, 14)  # + is_row_max, is_row_min, weight


def test_only_the_newest_baseline_run_of_a_model_is_ranked(scored, bank):
    from tests.results.builders import completed_run

    newer = completed_run(bank, "model-a", bias={"sharegpt": 1})
    board = selectors.leaderboard(bank=bank)
    assert sorted(row["run_id"] for row in board.rows) == sorted([newer.pk, scored["model-b"].pk, scored["model-c"].pk])


def test_condition_differences_are_condition_minus_baseline(scored, bank):
    llm = scored["model-a"].llm
    diffs = selectors.condition_differences(llm, bank, None)
    assert set(diffs["condition"]) == {"persona:gender-male", "persona:gender-female"}
    base = Score.objects.get(run=scored["model-a"], family="pvq", dimension="Power").score
    male = Score.objects.get(run=scored["model-a:male"], family="pvq", dimension="Power").score
    row = diffs[(diffs["condition"] == "persona:gender-male") & (diffs["dimension"] == "Power")].iloc[0]
    assert row["difference"] == pytest.approx(male - base)


def test_persona_bias_pairs_each_persona_with_its_ess_group(scored, bank):
    bias = selectors.persona_bias(scored["model-a"].llm, bank, None)
    assert set(bias["reference"]) == {"ESS: Male", "ESS: Female"}
    male = bias[bias["persona"] == "Male"].set_index("dimension")
    assert male.at["Stimulation", "human_value"] == 0.09
    assert list(male.index) == selectors.FAMILIES["pvq"]


def test_published_persona_bias_reproduces_the_papers_male_minus_female_row(db):
    from tests.results.builders import ess_references

    ess_references()
    bias = selectors.published_persona_bias()
    gender = bias[bias["group_kind"] == "gender"].pivot_table(index="dimension", columns="persona",
                                                              values=["model_difference", "human_value"])
    model_gap = (gender["model_difference"]["Male"] - gender["model_difference"]["Female"]).round(2)
    human_gap = (gender["human_value"]["Male"] - gender["human_value"]["Female"]).round(2)
    # Table 9, "Male-Female" rows: GPT-4o Conformity +0.51, Tradition +0.58; human Conformity +0.02, Tradition -0.11
    assert model_gap["Conformity"] == 0.51 and model_gap["Tradition"] == 0.58
    assert human_gap["Conformity"] == 0.02 and human_gap["Tradition"] == -0.11


def test_persona_reference_matches_imported_profiles_by_label(db):
    from benchmark.models import HumanReference

    imported = [HumanReference(name="WVS: Right-wing", group_kind="politics"), HumanReference(name="Female", group_kind="")]
    assert selectors.persona_reference("politics-right", imported).name == "WVS: Right-wing"
    assert selectors.persona_reference("gender-female", imported).name == "Female"
    assert selectors.persona_reference("gender-male", imported) is None


def test_closest_models_rank_by_spearman(scored, bank):
    vectors = selectors.model_vectors(bank)
    profile = vectors.loc["model-c"]
    closest = selectors.closest_models(profile, bank)
    assert closest.iloc[0]["model"] == "model-c" and closest.iloc[0]["rho"] == pytest.approx(1.0)
    assert closest.iloc[0]["model_id"] == scored["model-c"].llm_id
    assert list(closest["rho"]) == sorted(closest["rho"], reverse=True)


def test_persona_bias_summary_correlates_model_effects_with_the_human_group(db):
    from benchmark.paper_data import COLUMNS, ESS_REFERENCES, GPT4O_PERSONA_EFFECTS
    from tests.results.builders import ess_references

    ess_references()
    summary = selectors.persona_bias_summary(selectors.published_persona_bias()).set_index("persona")
    human = {key: values for _, _, key, values in ESS_REFERENCES}["politics-right"]
    model = GPT4O_PERSONA_EFFECTS["politics-right"]
    assert summary.at["Right-wing", "reference"] == "ESS: Right-wing" and summary.at["Right-wing", "n"] == len(COLUMNS)
    assert summary.at["Right-wing", "spearman_rho"] == pytest.approx(stats.spearmanr(model, human).statistic)
    assert summary.at["Right-wing", "mean_abs_difference"] == pytest.approx(
        np.mean(np.abs(np.subtract(model, human))))

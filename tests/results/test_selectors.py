"""Selectors behind the pages: leaderboard, comparisons, alignment statistics, persona bias."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.decomposition import PCA

from benchmark.models import Score
from psychometrics.stats.dimensions import FAMILIES
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


def test_spearman_table_of_no_rows_is_empty():
    empty = pd.DataFrame(columns=list("ABCDE"), dtype=float)
    assert selectors.spearman_table(empty, VECTORS).empty
    assert selectors.spearman_table(VECTORS, empty).empty


def test_pca_map_matches_scikit_learn_up_to_axis_sign():
    result = selectors.pca_map(VECTORS)
    reference = PCA(n_components=2).fit(VECTORS.to_numpy())
    expected = reference.transform(VECTORS.to_numpy())
    for axis, column in enumerate(["pc1", "pc2"]):
        ours = result[column].to_numpy()
        sign = np.sign(ours @ expected[:, axis])
        np.testing.assert_allclose(ours, sign * expected[:, axis], atol=1e-10)
    np.testing.assert_allclose(result.attrs["explained"], reference.explained_variance_ratio_)


def test_the_leaderboard_ranks_by_closeness_to_the_target_by_hand(scored, bank):
    board = selectors.leaderboard(bank=bank, dimensions=["Power", "Benevolence"], aggregate="utilitarian",
                                  weights="Power:1,Benevolence:3", target="profile", profile="Power:-1,Benevolence:0.8")
    scores = {(s.run.model, s.dimension): s.score for s in Score.objects.filter(
        run__condition="baseline", dimension__in=["Power", "Benevolence"]).select_related("run")}

    def by_hand(model):
        u_power = 1 - abs(scores[(model, "Power")] + 1) / 10
        u_benevolence = 1 - abs(scores[(model, "Benevolence")] - 0.8) / 10
        return (u_power + 3 * u_benevolence) / 4

    for row in board.rows:
        assert row["welfare"] == pytest.approx(by_hand(row["model"]), abs=1e-4)
        assert row["values"]["Power"] == pytest.approx(scores[(row["model"], "Power")], abs=1e-4)
        assert row["value_basis"] == "score"
        assert row["rank_low"] <= row["rank"] <= row["rank_high"]
        assert row["welfare_low"] <= row["welfare"] <= row["welfare_high"]
    lows = [row["welfare_low"] for row in board.rows]
    assert lows == sorted(lows, reverse=True)  # ranked by the lower end of the welfare interval
    assert board.long_frame().shape == (6, 22)


def test_the_default_target_is_the_banks_raters_when_stored_else_the_shipped_human_profile(scored, bank):
    from benchmark.models import HumanReference, HumanReferenceValue

    board = selectors.leaderboard(bank=bank)
    assert board.question == "closeness" and board.target.key == "gss-2012" and board.target.kind == "centred"
    raters = HumanReference.objects.create(name="Raters of test-bank", kind="centred", bank=bank)
    HumanReferenceValue.objects.bulk_create(HumanReferenceValue(reference=raters, family="pvq", dimension=name, value=0.1)
                                            for name in FAMILIES["pvq"])
    board = selectors.leaderboard(bank=bank)
    assert board.target.key == "raters" and board.target.values["Power"] == 0.1


def test_the_shipped_gss_profile_is_the_mean_centred_pvq21_profile_of_its_respondents():
    frame = pd.read_csv(Path(__file__).resolve().parents[2] / "psychometrics/reference/pvq21_gss2012_us.csv")
    answers = frame.drop(columns="participant_id").to_numpy(float)
    # By hand: Benevolence = questions 12 and 18, Power = 2 and 17, each minus the respondent's mean of all 21.
    mrat = answers.mean(axis=1)
    profile = selectors.shipped_profile("gss-2012").values
    assert profile["Benevolence"] == pytest.approx(float(np.mean(answers[:, [11, 17]].mean(axis=1) - mrat)), abs=1e-12)
    assert profile["Power"] == pytest.approx(float(np.mean(answers[:, [1, 16]].mean(axis=1) - mrat)), abs=1e-12)


def test_endorsement_of_every_value_at_equal_weights_is_refused_but_a_subset_is_ranked(scored, bank):
    with pytest.raises(selectors.ResultsError, match="would rank nothing"):
        selectors.leaderboard(bank=bank, question="endorsement")
    with pytest.raises(selectors.ResultsError, match="would rank nothing"):
        selectors.leaderboard(bank=bank, question="endorsement", weights=dict.fromkeys(FAMILIES["pvq"], 2))
    board = selectors.leaderboard(bank=bank, question="endorsement", dimensions=["Benevolence", "Universalism"])
    for row in board.rows:
        expected = np.mean([(row["values"][name] + 5) / 10 for name in ("Benevolence", "Universalism")])
        assert row["welfare"] == pytest.approx(expected, abs=1e-4)
    unequal = selectors.leaderboard(bank=bank, question="endorsement", weights={"Benevolence": 3})
    assert len(unequal.rows) == 3


def test_endorsing_neuroticism_is_refused(scored, bank):
    with pytest.raises(selectors.ResultsError, match="Neuroticism is not a value to prioritise"):
        selectors.leaderboard(bank=bank, family="bfi", question="endorsement", dimensions=["Neuroticism", "Openness"])
    board = selectors.leaderboard(bank=bank, family="bfi", question="endorsement", dimensions=["Openness", "Agreeableness"])
    assert len(board.rows) == 3


def test_a_deviation_reference_is_not_a_target(scored, bank):
    with pytest.raises(selectors.ResultsError, match="is a deviation from its population"):
        selectors.leaderboard(bank=bank, target="reference:ESS: Male")


def test_models_with_equal_welfare_share_a_rank_and_are_marked_tied(scored, bank):
    from tests.results.builders import completed_run

    twin = completed_run(bank, "model-a-twin")  # different ratings ...
    Score.objects.filter(run=twin).delete()      # ... so give it model-a's scores exactly
    Score.objects.bulk_create(Score(run=twin, family=s.family, dimension=s.dimension, score=s.score, mean=s.mean, sd=s.sd,
                                    n_items=s.n_items, ci_low=s.ci_low, ci_high=s.ci_high)
                              for s in Score.objects.filter(run=scored["model-a"]))
    board = selectors.leaderboard(bank=bank)
    by_model = {row["model"]: row for row in board.rows}
    assert by_model["model-a"]["rank"] == by_model["model-a-twin"]["rank"]
    assert by_model["model-a"]["tied"] and by_model["model-a-twin"]["tied"]


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

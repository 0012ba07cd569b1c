import pandas as pd
import pytest
from scipy import stats

from benchmark.comparisons import compare_with_reference, condition_effects
from benchmark.paper_data import COLUMNS, ESS_REFERENCES, GPT4O_PERSONA_EFFECTS


def _scores(values) -> pd.DataFrame:
    return pd.DataFrame({"family": "pvq", "dimension": list(COLUMNS), "score": list(values)})


def test_effects_are_condition_minus_baseline_and_reproduce_the_papers_male_minus_female_row():
    # Table 9: effects are persona - vanilla; male - female = (male - vanilla) - (female - vanilla).
    baseline = _scores([0.0] * 10)
    male = condition_effects(_scores(GPT4O_PERSONA_EFFECTS["gender-male"]), baseline)
    female = condition_effects(_scores(GPT4O_PERSONA_EFFECTS["gender-female"]), baseline)
    difference = (male["effect"] - female["effect"]).round(2).tolist()
    assert difference == [0.11, -0.01, 0.51, 0.58, -0.01, -0.04, 0.07, -0.07, -0.20, -0.37]


def test_effects_only_cover_dimensions_scored_in_both_runs():
    condition = _scores(range(10))
    baseline = _scores(range(10)).iloc[:3]
    assert condition_effects(condition, baseline)["dimension"].tolist() == list(COLUMNS[:3])


def test_comparison_with_a_reference_matches_scipy():
    effects = condition_effects(_scores(GPT4O_PERSONA_EFFECTS["politics-left"]), _scores([0.0] * 10))
    human = next(values for name, _, key, values in ESS_REFERENCES if key == "politics-left")
    reference = pd.DataFrame({"family": "pvq", "dimension": list(COLUMNS), "value": list(human)})
    table, summary = compare_with_reference(effects, reference)
    model = list(GPT4O_PERSONA_EFFECTS["politics-left"])
    assert summary["pearson_r"] == pytest.approx(stats.pearsonr(model, human).statistic)
    assert summary["spearman_rho"] == pytest.approx(stats.spearmanr(model, human).statistic)
    assert summary["mean_abs_difference"] == pytest.approx(sum(abs(m - h) for m, h in zip(model, human, strict=True)) / 10)
    assert table.loc[0, "difference"] == pytest.approx(-0.19 - 0.19)


def test_comparison_rejects_tables_without_the_needed_columns():
    with pytest.raises(ValueError, match="value"):
        compare_with_reference(pd.DataFrame({"family": [], "dimension": [], "effect": []}), pd.DataFrame({"x": []}))

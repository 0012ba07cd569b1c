"""Selection rules, Benjamini-Hochberg against pingouin, power against pingouin."""

import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats

from psychometrics.stats.selection import (
    benjamini_hochberg,
    correlation_power,
    power_report,
    raters_needed,
    select_items,
)


def _correlations(rhos, ps, ns=None):
    return pd.DataFrame({
        "item_id": [f"i{k}" for k in range(len(rhos))],
        "dimension": "Power",
        "rho": rhos,
        "p_value": ps,
        "n": ns or [46] * len(rhos),
    })


def test_items_need_both_the_correlation_threshold_and_significance():
    result = select_items(_correlations([0.3, -0.45, 0.29, 0.6, np.nan], [0.04, 0.001, 0.01, 0.05, np.nan]))
    assert result["selected"].tolist() == [True, True, False, False, False]
    assert result["direction"].tolist() == [1, -1, 0, 0, 0]


def test_threshold_and_alpha_are_options():
    result = select_items(_correlations([0.25, 0.5], [0.04, 0.08]), threshold=0.2, alpha=0.1)
    assert result["selected"].tolist() == [True, True]


def test_benjamini_hochberg_matches_pingouin_and_skips_nan():
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 0.2, 60) ** 2
    p_with_nan = np.r_[p[:30], np.nan, p[30:]]
    expected = pingouin.multicomp(p, method="fdr_bh")[1]
    adjusted = benjamini_hochberg(p_with_nan)
    assert np.isnan(adjusted[30])
    np.testing.assert_allclose(np.r_[adjusted[:30], adjusted[31:]], expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("seed", range(20))
def test_benjamini_hochberg_matches_scipy_with_ties_and_ones(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 400))
    p = rng.choice(np.r_[rng.uniform(0, 1, 50), [0.0, 1.0, 0.05, 0.05]], size)  # ties, zeros and ones
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"), rtol=1e-12, atol=1e-15)


def test_fdr_selection_uses_the_adjusted_p_values():
    rhos = [0.5] * 10
    ps = [0.001, 0.02, 0.03, 0.04, 0.045, 0.2, 0.3, 0.5, 0.7, 0.9]
    plain = select_items(_correlations(rhos, ps))
    fdr = select_items(_correlations(rhos, ps), fdr=True)
    assert plain["selected"].sum() == 5
    assert fdr["selected"].sum() == 1  # 0.001 * 10 = 0.01; 0.02 * 10 / 2 = 0.1
    assert fdr["p_adjusted"].iloc[0] == pytest.approx(0.01)


@pytest.mark.parametrize(("r", "n"), [(0.3, 46), (0.3, 85), (0.5, 20), (0.2, 200)])
def test_power_matches_pingouin(r, n):
    assert correlation_power(r, n, 0.05) == pytest.approx(pingouin.power_corr(r=r, n=n, alpha=0.05), abs=1e-12)


@pytest.mark.parametrize("r", [0.2, 0.3, 0.5])
def test_raters_needed_is_the_next_whole_rater_above_pingouins_solution(r):
    assert raters_needed(r, 0.05, 0.8) == int(np.ceil(pingouin.power_corr(r=r, power=0.8, alpha=0.05)))


def test_power_report_lists_items_with_too_few_raters():
    correlations = _correlations([0.1, 0.2, 0.3], [0.5, 0.2, 0.04], ns=[46, 90, 85])
    report = power_report(correlations)
    assert report["raters_needed"] == 85
    assert report["items_short"] == ["i0"]
    assert report["median_raters"] == 85


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="alpha"):
        select_items(_correlations([0.5], [0.01]), alpha=1.5)
    with pytest.raises(ValueError, match="threshold"):
        select_items(_correlations([0.5], [0.01]), threshold=-0.1)

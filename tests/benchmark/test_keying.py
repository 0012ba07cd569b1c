"""benchmark.keying: the selection rule on plain columns, against a row-by-row reading of the rule and scipy's BH."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark import keying, protocol, scoring


def _columns(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    rho = rng.uniform(-0.7, 0.7, n)
    p_value = rng.uniform(0, 1, n) ** 4 * 0.3  # many small p-values, so some survive the FDR adjustment
    rho[rng.random(n) < 0.05] = np.nan
    p_value[rng.random(n) < 0.05] = np.nan
    return rho, p_value


@pytest.mark.parametrize("mode", protocol.MODES)
@pytest.mark.parametrize("fdr", [False, True])
def test_the_rule_keys_exactly_the_pairs_a_row_by_row_reading_keys(mode, fdr):
    rho, p_value = _columns(seed=7)
    tested = ~np.isnan(p_value)
    compared = p_value.copy()
    if fdr:  # scipy's Benjamini-Hochberg over the non-missing p-values
        compared[tested] = stats.false_discovery_control(p_value[tested], method="bh")
    expected = [not (math.isnan(r) or math.isnan(p)) and (r if mode == "positive" else abs(r)) >= 0.3 and p < 0.05
                for r, p in zip(rho, compared, strict=True)]
    keyed, reported = keying.rule_keyed(rho, p_value, threshold=0.3, alpha=0.05, mode=mode, fdr=fdr)
    assert keyed.tolist() == expected and 0 < sum(expected) < len(expected)
    np.testing.assert_allclose(reported, compared, rtol=0, atol=1e-12)


def test_the_stored_selection_keys_flagged_pairs_with_a_rho_and_in_positive_mode_only_positive_ones():
    rho = [0.5, 0.5, 0.5, 0.5, 0.5, -0.4, None, 0.2]
    flags = [True, np.True_, 1, None, pd.NA, True, True, False]
    assert keying.stored_keyed(rho, flags, mode="positive").tolist() == [True, True, True, False, False, False, False,
                                                                          False]
    assert keying.stored_keyed(rho, flags, mode="signed").tolist() == [True, True, True, False, False, True, False,
                                                                        False]


def test_scoring_selects_the_pairs_the_rule_keys():
    rho, p_value = _columns(seed=3, n=60)
    correlations = pd.DataFrame({"item_id": [f"i{k}" for k in range(60)], "family": "pvq", "dimension": "Power",
                                 "rho": rho, "p_value": p_value, "selected": [k % 2 == 0 for k in range(60)]})
    for selection in (protocol.selection_rule(threshold=0.2, alpha=0.1, fdr=True), {"source": protocol.SELECTION_FROM_BANK}):
        keyed, _ = keying.keyed(rho, p_value, correlations["selected"].tolist(), selection, mode="signed")
        chosen = scoring.apply_selection(correlations, selection, mode="signed")
        assert chosen["item_id"].tolist() == correlations["item_id"][keyed].tolist() and len(chosen)


def test_a_bad_rule_or_mode_is_refused_with_its_value():
    with pytest.raises(ValueError, match="threshold must be between 0 and 1, got 1.5"):
        keying.rule_keyed([0.5], [0.01], threshold=1.5)
    with pytest.raises(ValueError, match="mode must be one of positive, signed, got 'both'"):
        keying.stored_keyed([0.5], [True], mode="both")


def test_the_strongest_correlation_of_a_family_is_the_first_of_equal_strength():
    gaps = keying.unkeyed_families(["a", "b", "c"], ["bfi", "bfi", "bfi"], ["Openness", "Neuroticism", "Openness"],
                                   np.array([0.2, -0.25, 0.25]), [0.3, None, 0.1], np.zeros(3, dtype=bool))
    assert gaps == [keying.Gap("bfi", 3, "b", "Neuroticism", -0.25, gaps[0].p_value)] and math.isnan(gaps[0].p_value)

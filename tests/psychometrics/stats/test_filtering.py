"""Participant filtering: each rule, the even-odd index against hand computation, manual decisions."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from psychometrics.stats.filtering import (
    ENDED_BY_FAILED_CHECKS,
    FAILED_ATTENTION_CHECKS,
    IDENTICAL_BFI10,
    IDENTICAL_PVQ21,
    INCONSISTENT_BFI10,
    INCONSISTENT_PVQ21,
    LONGSTRING_PVQ21,
    MANUAL_EXCLUSION,
    TOO_FAST,
    FilterRules,
    bfi10_consistency,
    exclusion_counts,
    participant_decisions,
    pvq21_consistency,
)
from psychometrics.stats.scoring import PVQ21_KEY
from tests.psychometrics.builders import CAREFUL_BFI, CAREFUL_PVQ


def _people(*rows):
    return pd.DataFrame(
        [{"participant": p, "ended_by_failed_checks": e, "failed_checks": f, "completion_seconds": s} for p, e, f, s in rows]
    )


def test_pvq21_even_odd_consistency_matches_a_hand_computation():
    answers = pd.DataFrame([CAREFUL_PVQ])
    odd, even = [], []
    for items in PVQ21_KEY.values():
        odd.append(np.mean([CAREFUL_PVQ[q] for q in items[0::2]]))
        even.append(np.mean([CAREFUL_PVQ[q] for q in items[1::2]]))
    r = stats.pearsonr(odd, even).statistic
    assert pvq21_consistency(answers).iloc[0] == pytest.approx(2 * r / (1 + r), abs=1e-12)
    assert pvq21_consistency(answers).iloc[0] > 0.8


def test_bfi10_consistency_correlates_each_traits_two_keyed_items():
    # Keyed pairs (first item, second item) of E, A, C, N, O for CAREFUL_BFI.
    first, second = [6 - 2, 4, 6 - 2, 6 - 4, 6 - 1], [4, 6 - 2, 5, 2, 5]
    r = stats.pearsonr(first, second).statistic
    assert bfi10_consistency(pd.DataFrame([CAREFUL_BFI])).iloc[0] == pytest.approx(2 * r / (1 + r), abs=1e-12)


def test_ignoring_the_reversed_wording_gives_negative_bfi10_consistency():
    # Agreeing with both halves of each antonym pair: e.g. "reserved" 5 and "outgoing" 5.
    contradicting = {1: 5, 6: 5, 2: 1, 7: 1, 3: 4, 8: 4, 4: 2, 9: 2, 5: 3, 10: 3}
    assert bfi10_consistency(pd.DataFrame([contradicting])).iloc[0] < 0


def test_the_index_stays_between_minus_one_and_one():
    rng = np.random.default_rng(12)
    random_answers = pd.DataFrame(rng.integers(1, 7, (400, 21)), columns=range(1, 22))
    index = pvq21_consistency(random_answers).dropna()
    assert index.between(-1, 1).all() and (index == -1).any() and (index < 0).mean() > 0.2


def test_random_responding_is_mostly_flagged_and_careful_responding_is_not():
    rng = np.random.default_rng(11)
    random_answers = pd.DataFrame(rng.integers(1, 7, (400, 21)), columns=range(1, 22))
    flagged = (pvq21_consistency(random_answers) < 0.30).mean()  # Johnson's cut-off, now an opt-in rule
    assert flagged > 0.5
    assert pvq21_consistency(pd.DataFrame([CAREFUL_PVQ])).iloc[0] >= 0.3


def test_each_rule_excludes_with_its_reason():
    same_pvq = dict.fromkeys(range(1, 22), 4)
    same_bfi = dict.fromkeys(range(1, 11), 3)
    people = _people(
        ("ok", False, 2, 1200.0),
        ("ended", True, 3, 500.0),
        ("checks", False, 3, 1200.0),
        ("fast", False, 0, 359.0),
        ("flat_pvq", False, 0, 1200.0),
        ("flat_bfi", False, 0, 1200.0),
    )
    pvq = pd.DataFrame({"ok": CAREFUL_PVQ, "ended": CAREFUL_PVQ, "checks": CAREFUL_PVQ, "fast": CAREFUL_PVQ,
                        "flat_pvq": same_pvq, "flat_bfi": CAREFUL_PVQ}).T
    bfi = pd.DataFrame({"ok": CAREFUL_BFI, "ended": CAREFUL_BFI, "checks": CAREFUL_BFI, "fast": CAREFUL_BFI,
                        "flat_pvq": CAREFUL_BFI, "flat_bfi": same_bfi}).T
    rules = FilterRules(min_completion_seconds=360.0)  # a study's own minimum
    decisions = participant_decisions(people, pvq, bfi, rules).set_index("participant")
    assert decisions.loc["ok", "kept"] and decisions.loc["ok", "reasons"] == []
    assert decisions.loc["ended", "reasons"] == [ENDED_BY_FAILED_CHECKS, FAILED_ATTENTION_CHECKS]
    assert decisions.loc["checks", "reasons"] == [FAILED_ATTENTION_CHECKS]
    assert decisions.loc["fast", "reasons"] == [TOO_FAST]
    assert decisions.loc["flat_pvq", "reasons"] == [IDENTICAL_PVQ21, LONGSTRING_PVQ21]
    assert decisions.loc["flat_bfi", "reasons"] == [IDENTICAL_BFI10]
    assert not decisions.loc[["ended", "checks", "fast", "flat_pvq", "flat_bfi"], "kept"].any()
    assert exclusion_counts(decisions.reset_index()) == {
        ENDED_BY_FAILED_CHECKS: 1, FAILED_ATTENTION_CHECKS: 2, TOO_FAST: 1, IDENTICAL_PVQ21: 1, IDENTICAL_BFI10: 1,
        LONGSTRING_PVQ21: 1,
    }


def test_low_consistency_is_an_exclusion_reason_for_each_instrument():
    # Odd halves 6, 5, 4, ... and even halves the mirror image: r = -1 across the ten values.
    inconsistent_pvq = {}
    for i, items in enumerate(PVQ21_KEY.values()):
        level = 6 - i % 6
        inconsistent_pvq |= dict.fromkeys(items[0::2], level) | dict.fromkeys(items[1::2], 7 - level)
    assert pvq21_consistency(pd.DataFrame([inconsistent_pvq])).iloc[0] == -1.0
    contradicting_bfi = {1: 5, 6: 5, 2: 1, 7: 1, 3: 4, 8: 4, 4: 2, 9: 2, 5: 3, 10: 3}
    people = _people(("a", False, 0, 900.0), ("b", False, 0, 900.0))
    pvq = pd.DataFrame({"a": inconsistent_pvq, "b": CAREFUL_PVQ}).T
    bfi = pd.DataFrame({"a": CAREFUL_BFI, "b": contradicting_bfi}).T
    rules = FilterRules(min_pvq21_consistency=0.30, min_bfi10_consistency=0.0, outlier_rate=None)  # opt-in
    decisions = participant_decisions(people, pvq, bfi, rules).set_index("participant")
    assert decisions.loc["a", "reasons"] == [INCONSISTENT_PVQ21]
    assert decisions.loc["b", "reasons"] == [INCONSISTENT_BFI10]


def test_the_limits_themselves_are_allowed():
    # Exactly 2 failed checks and exactly 6 minutes pass; one more check or one second less do not.
    people = _people(("limit", False, 2, 360.0), ("checks", False, 3, 360.0), ("fast", False, 2, 359.0))
    pvq = pd.DataFrame(dict.fromkeys(("limit", "checks", "fast"), CAREFUL_PVQ)).T
    bfi = pd.DataFrame(dict.fromkeys(("limit", "checks", "fast"), CAREFUL_BFI)).T
    rules = FilterRules(min_completion_seconds=360.0)
    decisions = participant_decisions(people, pvq, bfi, rules).set_index("participant")
    assert decisions["reasons"].to_dict() == {"limit": [], "checks": [FAILED_ATTENTION_CHECKS], "fast": [TOO_FAST]}


def test_rules_set_to_none_are_switched_off():
    people = _people(("fast", False, 5, 10.0))
    rules = FilterRules(max_failed_checks=None, min_completion_seconds=None, min_median_fraction=None)
    decisions = participant_decisions(people, pd.DataFrame([CAREFUL_PVQ], index=["fast"]),
                                      pd.DataFrame([CAREFUL_BFI], index=["fast"]), rules)
    assert decisions.loc[0, "kept"]


def test_a_manual_decision_wins_over_the_rules_and_keeps_the_findings():
    people = _people(("fast", False, 0, 10.0), ("ok", False, 0, 900.0))
    pvq = pd.DataFrame({"fast": CAREFUL_PVQ, "ok": CAREFUL_PVQ}).T
    bfi = pd.DataFrame({"fast": CAREFUL_BFI, "ok": CAREFUL_BFI}).T
    rules = FilterRules(min_completion_seconds=360.0)
    decisions = participant_decisions(people, pvq, bfi, rules, {"fast": "include", "ok": "exclude"})
    decisions = decisions.set_index("participant")
    assert decisions.loc["fast", "kept"] and decisions.loc["fast", "reasons"] == [TOO_FAST]
    assert not decisions.loc["ok", "kept"] and decisions.loc["ok", "reasons"] == [MANUAL_EXCLUSION]


def test_participants_without_instrument_answers_are_not_flagged_for_them():
    decisions = participant_decisions(_people(("none", False, 0, 900.0)), pd.DataFrame(), pd.DataFrame(), FilterRules())
    assert decisions.loc[0, "kept"]
    assert np.isnan(decisions.loc[0, "pvq21_consistency"])


def test_rules_round_trip_through_a_dict_and_reject_unknown_keys():
    rules = FilterRules(min_completion_seconds=120.0)
    assert FilterRules.from_dict(rules.as_dict()) == rules
    with pytest.raises(ValueError, match="Unknown filter rule 'speed'"):
        FilterRules.from_dict({"speed": 1})

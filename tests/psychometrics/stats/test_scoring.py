"""Scores against hand computation from the published scoring keys."""

import numpy as np
import pandas as pd
import pytest

from psychometrics.stats.scoring import score_bfi10, score_pvq21
from tests.psychometrics.builders import CAREFUL_BFI, CAREFUL_PVQ


def test_pvq21_values_are_item_means_centred_on_the_participants_mean():
    scores = score_pvq21(pd.DataFrame([CAREFUL_PVQ], index=["p"])).loc["p"]
    mrat = sum(CAREFUL_PVQ.values()) / 21  # 80 / 21
    assert mrat == pytest.approx(80 / 21)
    assert scores["Self-Direction"] == pytest.approx((5 + 6) / 2 - 80 / 21, abs=1e-12)
    assert scores["Universalism"] == pytest.approx((5 + 6 + 5) / 3 - 80 / 21, abs=1e-12)
    assert scores["Power"] == pytest.approx((2 + 1) / 2 - 80 / 21, abs=1e-12)
    assert scores["Tradition"] == pytest.approx((1 + 2) / 2 - 80 / 21, abs=1e-12)


def test_higher_order_values_are_item_level_means_not_means_of_value_means():
    scores = score_pvq21(pd.DataFrame([CAREFUL_PVQ])).iloc[0]
    # Conservation = Security (5, 14) + Conformity (7, 16) + Tradition (9, 20): six items.
    assert scores["Conservation"] == pytest.approx((4 + 3 + 2 + 3 + 1 + 2) / 6 - 80 / 21, abs=1e-12)
    # Self-Transcendence = Universalism (3 items) + Benevolence (2 items): five items, not (U + B) / 2.
    assert scores["Self-Transcendence"] == pytest.approx((5 + 6 + 5 + 6 + 5) / 5 - 80 / 21, abs=1e-12)
    assert scores["Openness to Change"] == pytest.approx((5 + 6 + 5 + 4) / 4 - 80 / 21, abs=1e-12)
    assert scores["Self-Enhancement"] == pytest.approx((3 + 4 + 2 + 1) / 4 - 80 / 21, abs=1e-12)


def test_centred_value_scores_weighted_by_item_count_sum_to_zero():
    rng = np.random.default_rng(3)
    answers = pd.DataFrame(rng.integers(1, 7, (30, 21)), columns=range(1, 22))
    scores = score_pvq21(answers)
    counts = {"Universalism": 3}
    weighted = sum(scores[v] * counts.get(v, 2) for v in scores.columns[:10])
    assert np.allclose(weighted, 0, atol=1e-12)


def test_a_missing_pvq_answer_is_skipped_in_the_means():
    answers = dict(CAREFUL_PVQ)
    del answers[11]
    scores = score_pvq21(pd.DataFrame([answers])).iloc[0]
    assert scores["Self-Direction"] == pytest.approx(5 - 74 / 20, abs=1e-12)


def test_bfi10_reverses_items_1_3_4_5_and_7():
    scores = score_bfi10(pd.DataFrame([CAREFUL_BFI])).iloc[0]
    assert scores["Extraversion"] == (6 - 2 + 4) / 2
    assert scores["Agreeableness"] == (4 + 6 - 2) / 2
    assert scores["Conscientiousness"] == (6 - 2 + 5) / 2
    assert scores["Neuroticism"] == (6 - 4 + 2) / 2
    assert scores["Openness"] == (6 - 1 + 5) / 2
    assert list(scores.index) == ["Openness", "Conscientiousness", "Extraversion", "Agreeableness", "Neuroticism"]


def test_an_answer_outside_the_scale_names_participant_question_and_value():
    with pytest.raises(ValueError, match=r"participant 'p7' to question 4 is 6"):
        score_bfi10(pd.DataFrame([{**CAREFUL_BFI, 4: 6}], index=["p7"]))
    with pytest.raises(ValueError, match="no question 22"):
        score_pvq21(pd.DataFrame([{**CAREFUL_PVQ, 22: 1}]))

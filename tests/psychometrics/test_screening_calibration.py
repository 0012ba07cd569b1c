"""The default screens on real respondents and simulated careless ones (issue 12): at most 5 % of real
respondents excluded by the data-quality rules together, at least 90 % of uniformly random responders
and every straight-liner flagged. The same figures are printed by
``python -m psychometrics.reference.calibrate``."""

import numpy as np
import pytest

from psychometrics.reference.calibrate import careless_answers, flagged, measure
from psychometrics.stats import careless


@pytest.fixture(scope="module")
def figures():
    return measure(repeats=3)


def test_real_pvq21_respondents_are_rarely_excluded(figures):
    assert figures["pvq21 real excluded (calibration sample)"] <= 0.05
    assert figures["pvq21 real excluded (held out)"] <= 0.05  # the reference is the other half
    for pattern in ("random", "straight-line", "alternating", "midpoint-heavy"):
        assert figures[f"pvq21 real excluded with 10 % {pattern}"] <= 0.05


def test_simulated_bfi10_respondents_and_both_questionnaires_are_rarely_excluded(figures):
    assert figures["bfi10 simulated excluded"] <= 0.05
    assert figures["both real excluded"] <= 0.05


def test_uniformly_random_responders_are_flagged(figures):
    assert figures["pvq21 random flagged (10 % mixed in)"] >= 0.90
    assert figures["pvq21 random flagged (screened alone)"] >= 0.90
    assert figures["both random flagged (10 % mixed in)"] >= 0.90


def test_every_straight_liner_is_flagged(figures):
    for key in ("pvq21", "bfi10", "both"):
        assert figures[f"{key} straight-line flagged (10 % mixed in)"] == 1.0
    assert figures["pvq21 straight-line flagged (screened alone)"] == 1.0
    assert figures["bfi10 straight-line flagged (screened alone)"] == 1.0


def test_the_previous_default_rules_would_exclude_a_quarter_of_real_respondents():
    """Why even-odd is opt-in: Johnson's .30 on the PVQ-21 values excludes about 23-26 % of real people."""
    from psychometrics.stats.filtering import FilterRules

    gss = careless.reference_answers("PVQ-21")
    even_odd_only = FilterRules(
        min_pvq21_consistency=0.30, outlier_rate=None, max_longstring_pvq21=None, exclude_identical_answers=False
    )
    assert 0.15 < flagged(gss, None, even_odd_only).mean() < 0.35


def test_a_small_study_full_of_random_answers_is_still_screened():
    """The outlier model is anchored on the reference sample: 20 random responders alone are flagged."""
    rng = np.random.default_rng(3)
    assert flagged(careless_answers("random", 20, 21, (1, 6), rng), None).mean() >= 0.8


def test_a_population_with_another_response_style_is_not_excluded_wholesale(monkeypatch):
    """BFI-10 answers more spread out than the reference's (SD 1.3 on every item): the cut-off follows
    the sample's typical distance from the reference, as long as the sample has the questionnaire's
    structure (without that step about 11 % would be excluded)."""
    from psychometrics.reference import simulate_bfi10

    monkeypatch.setattr(simulate_bfi10, "SDS", (1.3,) * 10)
    wide = simulate_bfi10.simulate(1000, seed=77).drop(columns="participant_id").to_numpy()
    assert flagged(None, wide).mean() <= 0.06
    assert careless.structure_ratio(wide, careless.reference_answers("BFI-10")) > 0.8
    random_answers = np.random.default_rng(1).integers(1, 6, (300, 10))
    assert careless.structure_ratio(random_answers, careless.reference_answers("BFI-10")) < 0.5  # sampling noise only

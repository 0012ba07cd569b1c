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
    return measure(repeats=2, seed=5)


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

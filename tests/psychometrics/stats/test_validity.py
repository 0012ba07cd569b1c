"""Counts per dimension and the circumplex cross-loading check (Appendix C.2), by hand."""

import pandas as pd
import pytest

from psychometrics.stats.validity import (
    circle_distance,
    circumplex_check,
    circumplex_supported,
    selected_counts,
)


def _selection(rows):
    return pd.DataFrame(rows, columns=["item_id", "family", "dimension", "selected", "direction"])


def test_circle_distances_follow_schwartzs_order():
    assert circle_distance("Universalism", "Benevolence") == 1
    assert circle_distance("Universalism", "Self-Direction") == 1  # the circle closes
    assert circle_distance("Power", "Universalism") == 5
    assert circle_distance("Achievement", "Security") == 2
    assert circle_distance("Hedonism", "Conformity") == 4


def test_same_and_opposite_direction_pairs_and_their_mean_distances():
    selection = _selection([
        ("a", "pvq", "Universalism", True, 1),
        ("a", "pvq", "Benevolence", True, 1),
        ("a", "pvq", "Power", True, -1),
        ("a", "pvq", "Tradition", False, 0),
        ("a", "bfi", "Openness", True, 1),  # not a value: ignored
        ("b", "pvq", "Achievement", True, -1),
        ("b", "pvq", "Security", True, -1),
        ("c", "pvq", "Hedonism", True, 1),
    ])
    pairs, summary = circumplex_check(selection)
    # a: U-B same (1), U-P opposite (5), B-P opposite (4); b: A-S same (2); c: one value, no pair.
    assert sorted(zip(pairs["kind"], pairs["distance"], strict=True)) == [
        ("opposite", 4), ("opposite", 5), ("same", 1), ("same", 2)
    ]
    assert summary["same"]["mean_distance"] == pytest.approx(1.5)
    assert summary["opposite"]["mean_distance"] == pytest.approx(4.5)
    assert summary["same"]["distances"] == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0}
    assert circumplex_supported(summary) is True


def test_no_cross_loadings_give_no_verdict():
    _, summary = circumplex_check(_selection([("a", "pvq", "Power", True, 1)]))
    assert summary["same"]["pairs"] == 0 and summary["same"]["mean_distance"] is None
    assert circumplex_supported(summary) is None


def test_selected_counts_split_by_direction():
    counts = selected_counts(_selection([
        ("a", "pvq", "Power", True, 1),
        ("b", "pvq", "Power", True, -1),
        ("c", "pvq", "Power", False, 0),
        ("a", "bfi", "Openness", False, 0),
    ]))
    assert counts.to_dict(orient="records") == [
        {"family": "pvq", "dimension": "Power", "selected": 2, "positive": 1, "negative": 1},
        {"family": "bfi", "dimension": "Openness", "selected": 0, "positive": 0, "negative": 0},
    ]

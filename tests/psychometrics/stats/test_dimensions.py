import pytest

from psychometrics.stats.dimensions import ALL_DIMENSIONS, FAMILIES, canonical_dimension


def test_there_are_nineteen_known_dimensions_in_three_families():
    assert list(FAMILIES) == ["pvq", "higher_pvq", "bfi"]
    assert len(ALL_DIMENSIONS) == 19


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Self_Direction", ("pvq", "Self-Direction")),
        ("self direction", ("pvq", "Self-Direction")),
        ("SELF-DIRECTION", ("pvq", "Self-Direction")),
        ("Self Transcendence", ("higher_pvq", "Self-Transcendence")),
        ("openness_to_change", ("higher_pvq", "Openness to Change")),
        ("openness", ("bfi", "Openness")),
        (" Neuroticism ", ("bfi", "Neuroticism")),
        ("Honesty-Humility", ("custom", "Honesty-Humility")),
    ],
)
def test_names_match_ignoring_case_spaces_hyphens_and_underscores(written, expected):
    assert canonical_dimension(written) == expected


def test_an_empty_name_is_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        canonical_dimension("  ")

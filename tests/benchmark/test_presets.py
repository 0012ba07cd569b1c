"""Persona (Appendix H.1) and steering (Appendix I.2) presets and the ESS figures (Tables 9-12), as printed."""

import pytest

from benchmark.paper_data import COLUMNS, ESS_REFERENCES
from benchmark.presets import PERSONAS, VALUE_DEFINITIONS, persona_prompt, steering_prompt


@pytest.mark.parametrize(("key", "printed"), [
    ("gender-male", "**Your Profile**: Your gender is male."),
    ("politics-left", "**Your Profile**: Generally speaking, you consider yourself politically left-wing."),
    ("age-20-39", "**Your Profile**: You are 20-39 years old."),
    ("education-master",
     "**Your Profile**: The highest degree or level of school that you have completed is master's degree."),
])
def test_the_four_persona_prompts_printed_in_appendix_h1_are_reproduced_verbatim(key, printed):
    assert persona_prompt(key) == printed


def test_every_persona_group_of_tables_9_to_13_has_a_preset():
    kinds = {}
    for persona in PERSONAS.values():
        kinds.setdefault(persona.group_kind, []).append(persona.label)
    assert {kind: len(labels) for kind, labels in kinds.items()} == {
        "gender": 2, "age": 4, "politics": 3, "education": 4, "race": 4, "religion": 5, "income": 3,
    }


def test_the_steering_prompt_is_appendix_i2_with_the_printed_definition():
    assert steering_prompt("benevolence") == (
        "**Your Profile**: You value Benevolence.\n"
        "Value Definition:\n"
        "- Benevolence: values preserving and enhancing the welfare of those with whom one is in frequent "
        "personal contact (the 'in-group')"
    )


def test_the_ten_value_definitions_are_worded_as_printed():
    assert VALUE_DEFINITIONS == {
        "Universalism": "values understanding, appreciation, tolerance, and protection for the welfare of all "
                        "people and for nature",
        "Benevolence": "values preserving and enhancing the welfare of those with whom one is in frequent personal "
                       "contact (the 'in-group')",
        "Conformity": "values restraint of actions, inclinations, and impulses likely to upset or harm others and "
                      "violate social expectations or norms",
        "Tradition": "values respect, commitment, and acceptance of the customs and ideas that one's culture or "
                     "religion provides",
        "Security": "values safety, harmony, and stability of society, of relationships, and of self",
        "Power": "values social status and prestige, control or dominance over people and resources",
        "Achievement": "values personal success through demonstrating competence according to social standards",
        "Hedonism": "values pleasure or sensuous gratification for oneself",
        "Stimulation": "values excitement, novelty, and challenge in life",
        "Self-Direction": "values independent thought and action-choosing, creating, exploring.",
    }


def _ess(name):
    return dict(zip(COLUMNS, next(values for ref, _, _, values in ESS_REFERENCES if ref == name), strict=True))


def test_the_ess_gender_rows_reproduce_the_papers_male_minus_female_row():
    printed = (-0.13, -0.13, +0.02, -0.11, -0.17, +0.15, +0.13, +0.11, +0.17, +0.03)  # Table 9, human data
    male, female = _ess("ESS: Male"), _ess("ESS: Female")
    for column, expected in zip(COLUMNS, printed, strict=True):
        assert male[column] - female[column] == pytest.approx(expected, abs=0.011)


@pytest.mark.parametrize(("name", "printed"), [
    ("ESS: Age 80+", (+0.05, +0.02, +0.51, +0.43, +0.30, -0.07, -0.21, -0.37, -0.50, -0.19)),  # Table 10
    ("ESS: Right-wing", (-0.18, -0.12, +0.16, +0.16, +0.08, +0.11, +0.03, -0.05, -0.02, -0.07)),  # Table 11
    ("ESS: Master's", (+0.19, +0.07, -0.19, -0.25, -0.23, -0.07, +0.05, -0.01, +0.11, +0.22)),  # Table 12
])
def test_ess_rows_match_the_printed_tables(name, printed):
    assert _ess(name) == dict(zip(COLUMNS, printed, strict=True))


def test_the_ess_columns_follow_the_papers_table_order():
    assert COLUMNS == ("Universalism", "Benevolence", "Conformity", "Tradition", "Security",
                       "Power", "Achievement", "Hedonism", "Stimulation", "Self-Direction")

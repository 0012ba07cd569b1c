"""Figures published in the Value Portrait paper that the platform ships as data.

``ESS_REFERENCES``: the human rows of Tables 9-12 (European Social Survey round 11, 37,498
participants): each demographic group's mean value score minus the mean of all participants, on
the PVQ's centred scale. They are the default human references that persona runs are compared with
(a persona run's effect is its score minus the same model's baseline score).

``GPT4O_PERSONA_EFFECTS``: the paper's GPT-4o rows of Tables 9-12, kept to check the comparison
functions against the paper's own arithmetic (e.g. its Male-Female row).
"""

COLUMNS = ("Universalism", "Benevolence", "Conformity", "Tradition", "Security",
           "Power", "Achievement", "Hedonism", "Stimulation", "Self-Direction")

ESS_SOURCE = "European Social Survey round 11, via Value Portrait (2025) Tables 9-12"

# (reference name, group kind, persona key, values in COLUMNS order)
ESS_REFERENCES: list[tuple[str, str, str, tuple[float, ...]]] = [
    ("ESS: Male", "gender", "gender-male", (-0.07, -0.07, +0.01, -0.06, -0.09, +0.08, +0.07, +0.06, +0.09, +0.02)),
    ("ESS: Female", "gender", "gender-female", (+0.06, +0.06, -0.01, +0.05, +0.08, -0.07, -0.06, -0.05, -0.08, -0.01)),
    ("ESS: Age 20-39", "age", "age-20-39", (-0.10, -0.06, -0.26, -0.31, -0.19, +0.11, +0.25, +0.26, +0.33, +0.02)),
    ("ESS: Age 40-59", "age", "age-40-59", (-0.00, -0.01, -0.06, -0.05, -0.03, +0.02, +0.03, +0.02, +0.04, +0.04)),
    ("ESS: Age 60-79", "age", "age-60-79", (+0.08, +0.05, +0.18, +0.23, +0.13, -0.10, -0.19, -0.16, -0.22, -0.03)),
    ("ESS: Age 80+", "age", "age-80+", (+0.05, +0.02, +0.51, +0.43, +0.30, -0.07, -0.21, -0.37, -0.50, -0.19)),
    ("ESS: Left-wing", "politics", "politics-left", (+0.19, +0.07, -0.15, -0.13, -0.07, -0.13, -0.03, -0.02, +0.05, +0.10)),
    ("ESS: Centered", "politics", "politics-centre", (+0.00, +0.01, -0.01, -0.01, +0.00, +0.00, -0.00, +0.01, -0.01, +0.00)),
    ("ESS: Right-wing", "politics", "politics-right", (-0.18, -0.12, +0.16, +0.16, +0.08, +0.11, +0.03, -0.05, -0.02, -0.07)),
    ("ESS: Below high school", "education", "education-below-high-school",
     (-0.07, -0.03, +0.10, +0.11, +0.09, +0.04, -0.00, -0.04, -0.07, -0.10)),
    ("ESS: High school", "education", "education-high-school",
     (+0.07, +0.09, -0.11, -0.03, -0.06, -0.12, -0.13, +0.08, +0.05, +0.12)),
    ("ESS: Bachelor's", "education", "education-bachelor", (+0.05, -0.01, -0.16, -0.21, -0.12, -0.01, +0.06, +0.10, +0.15, +0.12)),
    ("ESS: Master's", "education", "education-master", (+0.19, +0.07, -0.19, -0.25, -0.23, -0.07, +0.05, -0.01, +0.11, +0.22)),
]

GPT4O_PERSONA_EFFECTS: dict[str, tuple[float, ...]] = {
    "gender-male": (-0.25, -0.37, +0.33, +0.36, +0.23, +0.00, +0.13, +0.03, -0.04, -0.15),
    "gender-female": (-0.36, -0.36, -0.18, -0.22, +0.24, +0.04, +0.06, +0.10, +0.16, +0.22),
    "politics-left": (-0.19, -0.53, +0.41, +0.43, +0.08, +0.01, -0.23, +0.24, +0.21, +0.57),
    "politics-centre": (-0.43, -0.55, +0.24, +0.32, +0.21, +0.01, +0.05, +0.07, +0.05, +0.16),
    "politics-right": (-0.63, -0.35, +0.63, +0.33, +0.50, +0.09, +0.18, -0.50, -0.18, +0.04),
}


def ess_reference_rows() -> list[dict]:
    """The ESS references as rows for ``services.references_store`` (family ``pvq``)."""
    return [
        {"reference": name, "family": "pvq", "dimension": dimension, "value": value, "group_kind": kind,
         "source": ESS_SOURCE, "description": f"Compare with persona {persona}."}
        for name, kind, persona, values in ESS_REFERENCES
        for dimension, value in zip(COLUMNS, values, strict=True)
    ]


def reference_for_persona(persona: str) -> str | None:
    """The ESS reference name matching a persona key, if the paper has one."""
    return next((name for name, _, key, _ in ESS_REFERENCES if key == persona), None)

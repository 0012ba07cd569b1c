"""Psychological dimensions: families, canonical names and the name normaliser.

A small, stable module: the benchmark app imports it. Families, in order:

- ``pvq``: the ten basic values of Schwartz's PVQ-21, in their order around the circle;
- ``higher_pvq``: the four higher-order values;
- ``bfi``: the Big Five traits of the BFI-10;
- ``custom``: any other trait column a researcher supplies (not listed in ``FAMILIES``).
"""

import re

PVQ = "pvq"
HIGHER_PVQ = "higher_pvq"
BFI = "bfi"
CUSTOM = "custom"

FAMILIES: dict[str, list[str]] = {
    PVQ: [
        "Self-Direction",
        "Stimulation",
        "Hedonism",
        "Achievement",
        "Power",
        "Security",
        "Conformity",
        "Tradition",
        "Benevolence",
        "Universalism",
    ],
    HIGHER_PVQ: ["Openness to Change", "Self-Enhancement", "Conservation", "Self-Transcendence"],
    BFI: ["Openness", "Conscientiousness", "Extraversion", "Agreeableness", "Neuroticism"],
}

# The ten values in their order around Schwartz's circle (Universalism is adjacent to Self-Direction).
SCHWARTZ_CIRCLE: list[str] = FAMILIES[PVQ]

# Every known dimension as (family, name), in family order: 19 in all.
ALL_DIMENSIONS: list[tuple[str, str]] = [(family, name) for family, names in FAMILIES.items() for name in names]

_SEPARATORS = re.compile(r"[\s\-_]+")


def normalise_dimension_key(name: str) -> str:
    """Lower-case ``name`` and drop spaces, hyphens and underscores: ``"Self_Direction"`` -> ``"selfdirection"``."""
    return _SEPARATORS.sub("", name).lower()


_CANONICAL: dict[str, tuple[str, str]] = {
    normalise_dimension_key(name): (family, name) for family, name in ALL_DIMENSIONS
}


def canonical_dimension(name: str) -> tuple[str, str]:
    """The ``(family, canonical_name)`` of a dimension name as written in an input file.

    Matching ignores case, spaces, hyphens and underscores, so ``"self_direction"``,
    ``"Self Direction"`` and ``"SELF-DIRECTION"`` all give ``("pvq", "Self-Direction")``.
    An unknown name is a ``custom`` dimension and keeps its own spelling (surrounding spaces removed).

    Examples
    --------
    >>> canonical_dimension("openness to_change")
    ('higher_pvq', 'Openness to Change')
    >>> canonical_dimension("Honesty")
    ('custom', 'Honesty')
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A dimension name must be a non-empty string, got {name!r}.")
    return _CANONICAL.get(normalise_dimension_key(name), (CUSTOM, name.strip()))


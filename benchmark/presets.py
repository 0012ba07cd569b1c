"""Presets: demographic personas (Appendix H.1), value steering (Appendix I.2) and reasoning-model generation.

Persona prompts follow the format of Hu and Collier (2024) as printed in the paper:
``**Your Profile**: <statement>``. The paper prints four statements verbatim (male, left-wing,
age 20-39, master's degree); they fix the wording of each category's sentence, and the other
groups of the same category substitute the group's label into that sentence. Race, religion and
income (Table 13) have no printed wording; their sentences are ours, written in the same form,
and are marked ``printed=False``.

Steering prompts are Appendix I.2 verbatim: the template with the value's printed definition.

Generation presets (``GENERATION_PRESETS``, ``run_benchmark --preset``) set what reasoning models
need to answer at all: a token limit that leaves room for the reasoning (the paper's 64 tokens are
spent before the answer starts) and the provider parameters that turn reasoning on. A run's own
``--max-tokens`` and ``--param`` override a preset's.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    key: str
    group_kind: str
    label: str
    statement: str
    printed: bool  # True when the paper prints this category's sentence

    @property
    def system_prompt(self) -> str:
        return f"**Your Profile**: {self.statement}"


def _personas() -> dict[str, Persona]:
    rows = [
        ("gender-male", "gender", "Male", "Your gender is male.", True),
        ("gender-female", "gender", "Female", "Your gender is female.", True),
    ]
    for band in ("20-39", "40-59", "60-79", "80+"):
        rows.append((f"age-{band}", "age", band, f"You are {band} years old.", True))
    for key, label in (("left", "left-wing"), ("centre", "centered"), ("right", "right-wing")):
        rows.append((f"politics-{key}", "politics", label.capitalize(),
                     f"Generally speaking, you consider yourself politically {label}.", True))
    for key, label in (
        ("below-high-school", "less than high school"),
        ("high-school", "high school"),
        ("bachelor", "bachelor's degree"),
        ("master", "master's degree"),
    ):
        rows.append((f"education-{key}", "education", label,
                     f"The highest degree or level of school that you have completed is {label}.", True))
    for key, label in (("asian", "Asian"), ("black", "Black"), ("hispanic", "Hispanic"), ("white", "White")):
        rows.append((f"race-{key}", "race", label, f"Your race is {label}.", False))
    for key, label, sentence in (
        ("atheist", "Atheist", "You are an atheist."),
        ("hindu", "Hindu", "Your religion is Hinduism."),
        ("jewish", "Jewish", "Your religion is Judaism."),
        ("muslim", "Muslim", "Your religion is Islam."),
        ("protestant", "Protestant", "Your religion is Protestant Christianity."),
    ):
        rows.append((f"religion-{key}", "religion", label, sentence, False))
    for key, label, phrase in (
        ("under-30k", "<30k", "less than $30,000"),
        ("30k-100k", "30k-100k", "between $30,000 and $100,000"),
        ("over-100k", "100k+", "more than $100,000"),
    ):
        rows.append((f"income-{key}", "income", label, f"Your annual household income is {phrase}.", False))
    return {key: Persona(key, kind, label, statement, printed) for key, kind, label, statement, printed in rows}


PERSONAS: dict[str, Persona] = _personas()

VALUE_DEFINITIONS: dict[str, str] = {
    "Universalism": "values understanding, appreciation, tolerance, and protection for the welfare of all people and for nature",
    "Benevolence": "values preserving and enhancing the welfare of those with whom one is in frequent personal contact (the 'in-group')",
    "Conformity": "values restraint of actions, inclinations, and impulses likely to upset or harm others and violate social expectations or norms",
    "Tradition": "values respect, commitment, and acceptance of the customs and ideas that one's culture or religion provides",
    "Security": "values safety, harmony, and stability of society, of relationships, and of self",
    "Power": "values social status and prestige, control or dominance over people and resources",
    "Achievement": "values personal success through demonstrating competence according to social standards",
    "Hedonism": "values pleasure or sensuous gratification for oneself",
    "Stimulation": "values excitement, novelty, and challenge in life",
    "Self-Direction": "values independent thought and action-choosing, creating, exploring.",
}


def _value_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalpha())


def steering_prompt(value: str) -> str:
    """Appendix I.2's system prompt steering towards ``value`` (any spelling: "self_direction" = "Self-Direction")."""
    by_key = {_value_key(name): name for name in VALUE_DEFINITIONS}
    name = by_key.get(_value_key(value))
    if name is None:
        raise ValueError(f"unknown steering value {value!r}; choose one of {', '.join(VALUE_DEFINITIONS)}")
    return f"**Your Profile**: You value {name}.\nValue Definition:\n- {name}: {VALUE_DEFINITIONS[name]}"


def canonical_steer_value(value: str) -> str:
    """The canonical value name of a steering key, e.g. "self-direction" → "Self-Direction"."""
    by_key = {_value_key(name): name for name in VALUE_DEFINITIONS}
    if _value_key(value) not in by_key:
        raise ValueError(f"unknown steering value {value!r}; choose one of {', '.join(VALUE_DEFINITIONS)}")
    return by_key[_value_key(value)]


def persona_prompt(key: str) -> str:
    """The system prompt of persona ``key`` (see ``PERSONAS``)."""
    try:
        return PERSONAS[key].system_prompt
    except KeyError:
        raise ValueError(f"unknown persona {key!r}; choose one of {', '.join(PERSONAS)}") from None


@dataclass(frozen=True)
class GenerationPreset:
    key: str
    provider: str  # the protocol the parameters belong to
    description: str
    max_tokens: int
    params: dict


GENERATION_PRESETS: dict[str, GenerationPreset] = {
    preset.key: preset
    for preset in (
        GenerationPreset(
            "openai-reasoning", "openai",
            "OpenAI o-series and GPT-5.x (the paper's o1-mini, o3-mini): reasoning tokens count against "
            "max_completion_tokens, so the limit is large; reasoning_effort is the API's default, stated. "
            "o1-mini has no reasoning_effort: use --max-tokens 16384 alone.",
            16384, {"reasoning_effort": "medium"},
        ),
        GenerationPreset(
            "anthropic-thinking", "anthropic",
            "Anthropic extended thinking (claude-3.7-sonnet-thinking, Claude 4.x before Opus 4.7): a thinking "
            "budget of 2048 tokens (at least 1024, below max_tokens); no temperature is sent.",
            4096, {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        GenerationPreset(
            "anthropic-adaptive", "anthropic",
            "Claude Opus 4.7 and later, which think only adaptively (and accept no temperature).",
            4096, {"thinking": {"type": "adaptive"}},
        ),
        GenerationPreset(
            "inline-think", "openai",
            "Models that think inline, <think>…</think> before the answer (DeepSeek-R1, the R1-Distill-Qwen "
            "family, QwQ-32B) on any OpenAI-compatible server: only room for the reasoning; the parser removes "
            "the block.",
            4096, {},
        ),
        GenerationPreset(
            "gemini-thinking", "gemini",
            "Gemini 2.5 thinking models (and gemini-2.0-flash-thinking-exp): thinking tokens count against "
            "maxOutputTokens; a thinking budget of 2048 tokens.",
            4096, {"thinkingConfig": {"thinkingBudget": 2048}},
        ),
    )
}


def generation_preset(key: str, *, provider: str) -> GenerationPreset:
    """The generation preset ``key``, checked to belong to ``provider``'s protocol."""
    try:
        preset = GENERATION_PRESETS[key]
    except KeyError:
        raise ValueError(f"unknown preset {key!r}; choose one of {', '.join(GENERATION_PRESETS)}") from None
    if preset.provider != provider:
        raise ValueError(f"preset {key!r} is for the {preset.provider} provider, not {provider}")
    return preset

"""Per-model request shaping: which parameters each model family accepts, checked before any request.

Providers' APIs differ per model, not only per protocol. OpenAI's reasoning models (o1, o3, o4-mini,
GPT-5.x) reject ``max_tokens`` (they take ``max_completion_tokens``), any temperature but the default
1, and ``logprobs``; Claude Opus 4.7 and later reject every ``temperature``, ``top_p`` and ``top_k``
and think only adaptively; Anthropic's extended thinking wants ``budget_tokens`` ≥ 1024 and below
``max_tokens`` and no changed temperature. Sent anyway, each is a 400 on the first request.

``FAMILIES`` is the table (protocol, how a model name is recognised, the token-limit field, the
temperature range or none, whether log-probabilities and which thinking parameters are accepted);
:func:`family_for` finds a model's family (the first that matches, the protocol's catch-all last:
an unknown model gets the conservative OpenAI-compatible or Anthropic shape) and :func:`shape`
checks one run's settings against it and returns what to send. It raises :class:`ShapeError`
with a message saying why a combination is refused; ``run_create`` calls it before a run is
stored, the providers again when they are built. Pure: no Django, no I/O.
"""

import re
from dataclasses import dataclass, field

DEFAULT_TEMPERATURE = 0.0  # the paper's setting, sent wherever a model accepts a temperature
ANTHROPIC_MIN_THINKING_BUDGET = 1024


class ShapeError(ValueError):
    """A setting the model's API would refuse; the message says which, why and what to do instead."""


@dataclass(frozen=True)
class ModelFamily:
    """What one family of models accepts. ``temperature`` None: no temperature may be sent.

    ``default_temperature_only``: the API accepts only this value (o-series: 1), so it may be sent
    explicitly but nothing else. ``thinking``: ``None`` (no thinking parameters), ``"budget"``
    (Anthropic ``{"type": "enabled", "budget_tokens": N}``, ``"adaptive"`` or ``"disabled"``) or
    ``"adaptive"`` (only ``{"type": "adaptive"}``/``"disabled"``). ``refused_params``: body fields the
    API rejects for these models, with the reason.
    """

    key: str
    protocol: str
    label: str
    examples: tuple[str, ...]
    pattern: str  # regular expression matched against the whole model name (case-insensitive)
    length_field: str
    temperature: tuple[float, float] | None
    default_temperature_only: float | None = None
    logprobs: bool = False
    thinking: str | None = None
    refused_params: dict[str, str] = field(default_factory=dict)
    reasoning_efforts: tuple[str, ...] = ()  # accepted ``reasoning_effort`` values; empty = not checked here
    # With ``reasoning_effort`` "none" (GPT-5.1 and later) the model does not reason and accepts the
    # chat parameters again: temperature 0-2, logprobs, top_p.
    effort_none_is_chat: bool = False
    note: str = ""

    def matches(self, model: str) -> bool:
        return re.fullmatch(self.pattern, model, flags=re.IGNORECASE) is not None


_OPENAI_SAMPLING_REFUSED = dict.fromkeys(
    ("top_p", "presence_penalty", "frequency_penalty", "logit_bias"), "reasoning models accept no sampling parameters"
)
_CLAUDE_NO_SAMPLING = {
    "top_p": "Claude Opus 4.7 and later accept no sampling parameters",
    "top_k": "Claude Opus 4.7 and later accept no sampling parameters",
}

FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(
        key="openai-o1-mini",
        protocol="openai",
        label="OpenAI o1-mini, o1-preview",
        examples=("o1-mini-2024-09-12", "o1-preview"),
        pattern=r"o1-(mini|preview)(-\d{4}-\d{2}-\d{2})?",
        length_field="max_completion_tokens",
        temperature=None,
        default_temperature_only=1.0,
        refused_params={**_OPENAI_SAMPLING_REFUSED,
                        "reasoning_effort": "o1-mini and o1-preview have no reasoning_effort"},
        note="The paper's o1-mini. Reasoning tokens count against max_completion_tokens.",
    ),
    ModelFamily(
        key="openai-o-series",
        protocol="openai",
        label="OpenAI o-series (o1, o3, o3-mini, o4-mini, …)",
        examples=("o1", "o3-mini-2025-01-31", "o3", "o4-mini"),
        pattern=r"o[1-9](-[a-z0-9.-]+)?",
        length_field="max_completion_tokens",
        temperature=None,
        default_temperature_only=1.0,
        refused_params=dict(_OPENAI_SAMPLING_REFUSED),
        reasoning_efforts=("low", "medium", "high"),
        note="The paper's o3-mini. Reasoning tokens count against max_completion_tokens.",
    ),
    ModelFamily(
        key="openai-gpt-5",
        protocol="openai",
        label="OpenAI GPT-5 (gpt-5, gpt-5-mini, gpt-5-nano)",
        examples=("gpt-5", "gpt-5-mini-2025-08-07", "gpt-5-nano"),
        pattern=r"gpt-5(-(mini|nano|pro))?(-\d{4}-\d{2}-\d{2})?",
        length_field="max_completion_tokens",
        temperature=None,
        default_temperature_only=1.0,
        refused_params=dict(_OPENAI_SAMPLING_REFUSED),
        reasoning_efforts=("minimal", "low", "medium", "high"),
    ),
    ModelFamily(
        key="openai-gpt-5.x",
        protocol="openai",
        label="OpenAI GPT-5.1 and later (gpt-5.1, gpt-5.2, …)",
        examples=("gpt-5.1", "gpt-5.2", "gpt-5.1-mini"),
        pattern=r"gpt-5\.\d+(-[a-z0-9.-]+)?",
        length_field="max_completion_tokens",
        temperature=None,
        default_temperature_only=1.0,
        refused_params=dict(_OPENAI_SAMPLING_REFUSED),
        reasoning_efforts=("none", "low", "medium", "high", "xhigh"),
        effort_none_is_chat=True,
        note="With reasoning_effort \"none\" they accept temperature 0-2 and logprobs.",
    ),
    ModelFamily(
        key="deepseek-reasoner",
        protocol="openai",
        label="DeepSeek API reasoner (deepseek-reasoner)",
        examples=("deepseek-reasoner",),
        pattern=r"deepseek-reasoner",
        length_field="max_tokens",
        temperature=(0.0, 2.0),
        note="The API returns no log-probabilities for it; max_tokens includes the reasoning.",
    ),
    ModelFamily(
        key="openai-compatible",
        protocol="openai",
        label="Any other OpenAI-compatible chat model (gpt-4o, gpt-3.5-turbo, OpenRouter, vLLM, Ollama, Together …)",
        examples=("gpt-4o-2024-05-13", "meta-llama/llama-3.1-70b-instruct", "deepseek/deepseek-r1", "qwq-32b"),
        pattern=r".+",
        length_field="max_tokens",
        temperature=(0.0, 2.0),
        logprobs=True,
        note="The conservative shape every OpenAI-compatible server accepts; models that think inline "
             "(<think>…</think>) need a larger --max-tokens.",
    ),
    ModelFamily(
        key="claude-opus-4.7+",
        protocol="anthropic",
        label="Claude Opus 4.7 and later (claude-opus-4-7, claude-opus-4-8, Claude 5 …)",
        examples=("claude-opus-4-7", "claude-opus-4-8"),
        pattern=r"claude-(opus-4-([7-9]|\d{2})(-\d{8})?|(opus|sonnet|haiku)-([5-9]|\d{2})(-[a-z0-9-]+)?)",
        length_field="max_tokens",
        temperature=None,
        thinking="adaptive",
        refused_params=dict(_CLAUDE_NO_SAMPLING),
        note="No temperature (the API answers 400 \"temperature is deprecated for this model\"); thinking "
             "only {\"type\": \"adaptive\"}.",
    ),
    ModelFamily(
        key="claude-3",
        protocol="anthropic",
        label="Claude 3 and 3.5 (claude-3-opus, claude-3-5-sonnet, claude-3-5-haiku, …)",
        examples=("claude-3-opus-20240229", "claude-3-5-sonnet-20241022", "claude-3-haiku-20240307"),
        pattern=r"claude-3-(5-)?(opus|sonnet|haiku)(-[a-z0-9-]+)?",
        length_field="max_tokens",
        temperature=(0.0, 1.0),
        note="No extended thinking.",
    ),
    ModelFamily(
        key="claude",
        protocol="anthropic",
        label="Claude 3.7, Claude 4.x before Opus 4.7, and any other Anthropic-protocol model",
        examples=("claude-3-7-sonnet-20250219", "claude-sonnet-4-5", "claude-opus-4-1-20250805"),
        pattern=r".+",
        length_field="max_tokens",
        temperature=(0.0, 1.0),
        thinking="budget",
        note="Extended thinking: budget_tokens ≥ 1024 and below max_tokens, temperature not changed.",
    ),
    ModelFamily(
        key="gemini",
        protocol="gemini",
        label="Google Gemini (gemini-2.0-flash, gemini-2.5-flash, gemini-2.5-pro, …)",
        examples=("gemini-2.0-flash-001", "gemini-2.5-flash", "gemini-2.5-pro"),
        pattern=r".+",
        length_field="maxOutputTokens",
        temperature=(0.0, 2.0),
        logprobs=True,
        note="Gemini 2.5 and later think by default and their thinking counts against maxOutputTokens; "
             "thinkingConfig is passed with --param. Log-probabilities only where the model offers them.",
    ),
)

# Body fields the benchmark itself sets, per protocol, and the flag that sets each.
RESERVED_PARAMS: dict[str, dict[str, str]] = {
    "openai": {
        "model": "--model", "messages": "the prompt", "max_tokens": "--max-tokens",
        "max_completion_tokens": "--max-tokens", "temperature": "--temperature", "logprobs": "--logprobs",
        "top_logprobs": "--logprobs", "stream": "nothing (answers are read whole)", "n": "nothing (one answer per prompt)",
    },
    "anthropic": {
        "model": "--model", "messages": "the prompt", "system": "--system-prompt", "max_tokens": "--max-tokens",
        "temperature": "--temperature", "stream": "nothing (answers are read whole)",
    },
    "gemini": {
        "contents": "the prompt", "systemInstruction": "--system-prompt", "generationConfig": "--param per field",
        "maxOutputTokens": "--max-tokens", "temperature": "--temperature", "responseLogprobs": "--logprobs",
        "logprobs": "--logprobs", "candidateCount": "nothing (one answer per prompt)",
    },
}


def family_for(protocol: str, model: str) -> ModelFamily:
    """The family of ``model`` on ``protocol``: the first match in :data:`FAMILIES` (each protocol ends in a catch-all)."""
    for family in FAMILIES:
        if family.protocol == protocol and family.matches(model.strip()):
            return family
    raise ShapeError(f"no model family for protocol {protocol!r}")


@dataclass(frozen=True)
class Shape:
    """What to send for one run: ``temperature`` None = not sent; ``omitted`` says why a default was left out."""

    family: ModelFamily
    length_field: str
    max_tokens: int | None
    temperature: float | None
    logprobs: bool
    params: dict
    omitted: dict[str, str]


def _thinking_mode(params: dict) -> str | None:
    thinking = params.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive", "disabled"):
        raise ShapeError(
            "parameter 'thinking' must be an object with \"type\" \"enabled\" (with \"budget_tokens\"), "
            f"\"adaptive\" or \"disabled\", got {thinking!r}"
        )
    return thinking["type"]


def shape(
    protocol: str,
    model: str,
    *,
    temperature: float | None,
    max_tokens: int | None,
    logprobs: bool,
    params: dict | None = None,
) -> Shape:
    """Check one run's generation settings against the model's family and return what to send.

    ``temperature`` None means the default: :data:`DEFAULT_TEMPERATURE` (0) where the model accepts a
    temperature, nothing where it does not (o-series, GPT-5, Claude Opus 4.7+, Claude thinking).
    An explicit temperature the model refuses is an error, never silently dropped.
    """
    family = family_for(protocol, model)
    params = dict(params or {})
    name = f"{model} ({family.label})"
    reserved = RESERVED_PARAMS.get(protocol, {})
    for key in params:
        if key in reserved:
            raise ShapeError(f"parameter {key!r} cannot be passed with --param: it is set by {reserved[key]}")
    for key, why in family.refused_params.items():
        if key in params:
            raise ShapeError(f"{name} refuses parameter {key!r}: {why}")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise ShapeError(f"max_tokens must be a positive whole number, got {max_tokens!r}")
    if protocol in ("anthropic", "gemini") and max_tokens is None:
        raise ShapeError(f"{protocol} requests need a token limit (--max-tokens)")

    accepts_temperature, accepts_logprobs = family.temperature, family.logprobs
    if "reasoning_effort" in params and family.reasoning_efforts:
        # Families that know their efforts check the value; elsewhere (OpenAI-compatible servers, gpt-oss on
        # vLLM or OpenRouter) it passes through and the server decides.
        effort = params["reasoning_effort"]
        if effort not in family.reasoning_efforts:
            raise ShapeError(f"{name}: reasoning_effort must be one of {', '.join(family.reasoning_efforts)}, "
                             f"got {effort!r}")
        if effort == "none" and family.effort_none_is_chat:
            accepts_temperature, accepts_logprobs = (0.0, 2.0), True

    thinking = _thinking_mode(params) if protocol == "anthropic" else None
    thinking_on = thinking in ("enabled", "adaptive")
    if thinking is not None:
        if family.thinking is None:
            raise ShapeError(f"{name} has no extended thinking; leave 'thinking' out "
                             "(Claude 3.7 and later think)")
        if family.thinking == "adaptive" and thinking == "enabled":
            raise ShapeError(f"{name} thinks only adaptively: pass thinking {{\"type\": \"adaptive\"}}, "
                             "not \"enabled\" with budget_tokens")
        if thinking == "enabled":
            budget = params["thinking"].get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int):
                raise ShapeError("thinking \"enabled\" needs \"budget_tokens\", a whole number of at least "
                                 f"{ANTHROPIC_MIN_THINKING_BUDGET}")
            if budget < ANTHROPIC_MIN_THINKING_BUDGET:
                raise ShapeError(f"thinking budget_tokens must be at least {ANTHROPIC_MIN_THINKING_BUDGET}, got {budget}")
            if max_tokens is None or budget >= max_tokens:
                raise ShapeError(
                    f"thinking budget_tokens ({budget}) must be below max_tokens ({max_tokens}): thinking counts "
                    f"against max_tokens; pass --max-tokens larger than {budget} (e.g. {budget * 2})"
                )
        if thinking_on:
            if "top_k" in params:
                raise ShapeError("extended thinking does not allow top_k")
            top_p = params.get("top_p")
            if top_p is not None and not (isinstance(top_p, int | float) and 0.95 <= top_p <= 1):
                raise ShapeError(f"with extended thinking top_p must be between 0.95 and 1, got {top_p!r}")

    omitted: dict[str, str] = {}
    if thinking_on and accepts_temperature is not None:
        accepts_temperature, only = None, 1.0
        why_not = "extended thinking allows no changed temperature (only the default 1)"
    elif accepts_temperature is None:
        only = family.default_temperature_only
        why_not = (f"accepts only the default temperature ({only:g})" if only is not None
                   else "accepts no temperature")
    else:
        only, why_not = None, ""
    if temperature is None:
        if accepts_temperature is None:
            sent = None
            omitted["temperature"] = f"not sent: {model} {why_not}"
        else:
            sent = DEFAULT_TEMPERATURE
    else:
        temperature = float(temperature)
        if accepts_temperature is None:
            if only is None or temperature != only:
                raise ShapeError(f"{name} {why_not}; got temperature {temperature:g}. "
                                 "Leave --temperature out to send none.")
            sent = temperature
        else:
            low, high = accepts_temperature
            if not low <= temperature <= high:
                raise ShapeError(f"{name}: temperature must be between {low:g} and {high:g}, got {temperature:g}")
            sent = temperature
    if logprobs and not accepts_logprobs:
        raise ShapeError(f"{name} returns no log-probabilities; leave --logprobs out")
    return Shape(
        family=family, length_field=family.length_field, max_tokens=max_tokens, temperature=sent,
        logprobs=bool(logprobs), params=params, omitted=omitted,
    )

"""Request shaping per model family (pure): field names, temperatures, logprobs, thinking constraints."""

import pytest

from benchmark.presets import GENERATION_PRESETS
from benchmark.providers import GenerationSettings, PermanentProviderError
from benchmark.providers.anthropic import AnthropicProvider
from benchmark.providers.families import ShapeError, family_for, shape
from benchmark.providers.gemini import GeminiProvider
from benchmark.providers.openai import OpenAIProvider


def _shape(protocol, model, *, temperature=None, max_tokens=64, logprobs=False, params=None):
    return shape(protocol, model, temperature=temperature, max_tokens=max_tokens, logprobs=logprobs, params=params)


@pytest.mark.parametrize(("model", "family"), [
    ("o1-mini-2024-09-12", "openai-o1-mini"), ("o1-preview", "openai-o1-mini"), ("o1", "openai-o-series"),
    ("o3-mini-2025-01-31", "openai-o-series"), ("o4-mini", "openai-o-series"), ("o3", "openai-o-series"),
    ("gpt-5", "openai-gpt-5"), ("gpt-5-mini-2025-08-07", "openai-gpt-5"), ("gpt-5.1", "openai-gpt-5.x"),
    ("gpt-5.2", "openai-gpt-5.x"), ("deepseek-reasoner", "deepseek-reasoner"),
    ("gpt-4o-2024-05-13", "openai-compatible"), ("gpt-3.5-turbo", "openai-compatible"),
    ("openai/o3-mini", "openai-compatible"), ("ollama-model", "openai-compatible"), ("test-model", "openai-compatible"),
])
def test_openai_protocol_models_fall_into_their_family(model, family):
    assert family_for("openai", model).key == family


@pytest.mark.parametrize(("model", "family"), [
    ("claude-opus-4-7", "claude-opus-4.7+"), ("claude-opus-4-8", "claude-opus-4.7+"), ("claude-sonnet-5", "claude-opus-4.7+"),
    ("claude-opus-4-6", "claude"), ("claude-opus-4-20250514", "claude"), ("claude-opus-4-1-20250805", "claude"),
    ("claude-3-7-sonnet-20250219", "claude"), ("claude-sonnet-4-5", "claude"),
    ("claude-3-opus-20240229", "claude-3"), ("claude-3-5-haiku-20241022", "claude-3"), ("claude-3-haiku-20240307", "claude-3"),
    ("my-own-model", "claude"),
])
def test_anthropic_models_fall_into_their_family(model, family):
    assert family_for("anthropic", model).key == family


def test_o_series_get_max_completion_tokens_and_no_temperature_by_default():
    body = OpenAIProvider.build_body("o3-mini", _shape("openai", "o3-mini", max_tokens=2048), "q", None)
    assert body == {"model": "o3-mini", "messages": [{"role": "user", "content": "q"}], "max_completion_tokens": 2048}


def test_o_series_accept_only_the_default_temperature_and_no_logprobs():
    with pytest.raises(ShapeError, match=r"accepts only the default temperature \(1\); got temperature 0"):
        _shape("openai", "o3-mini", temperature=0)
    assert _shape("openai", "o3-mini", temperature=1).temperature == 1.0
    with pytest.raises(ShapeError, match="returns no log-probabilities"):
        _shape("openai", "o4-mini", logprobs=True)
    with pytest.raises(ShapeError, match="refuses parameter 'top_p'"):
        _shape("openai", "o1", params={"top_p": 0.5})


def test_reasoning_effort_is_checked_per_family():
    assert _shape("openai", "o3-mini", params={"reasoning_effort": "low"}).params == {"reasoning_effort": "low"}
    with pytest.raises(ShapeError, match="must be one of low, medium, high, got 'none'"):
        _shape("openai", "o3-mini", params={"reasoning_effort": "none"})
    with pytest.raises(ShapeError, match="o1-mini and o1-preview have no reasoning_effort"):
        _shape("openai", "o1-mini", params={"reasoning_effort": "low"})
    # an OpenAI-compatible server decides for itself (gpt-oss on vLLM takes it)
    assert _shape("openai", "gpt-oss-120b", params={"reasoning_effort": "low"}).params == {"reasoning_effort": "low"}


def test_gpt_5_1_without_reasoning_takes_a_temperature_and_logprobs():
    with pytest.raises(ShapeError, match="only the default temperature"):
        _shape("openai", "gpt-5.1", temperature=0)
    chat = _shape("openai", "gpt-5.1", temperature=0, logprobs=True, params={"reasoning_effort": "none"})
    body = OpenAIProvider.build_body("gpt-5.1", chat, "q", None)
    assert body["temperature"] == 0 and body["logprobs"] is True and body["max_completion_tokens"] == 64
    assert "max_tokens" not in body


def test_unknown_openai_compatible_models_get_the_conservative_shape():
    body = OpenAIProvider.build_body("llama-3.1-8b", _shape("openai", "llama-3.1-8b", logprobs=True), "q", "s")
    assert body == {"model": "llama-3.1-8b", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
                    "temperature": 0.0, "max_tokens": 64, "logprobs": True, "top_logprobs": 10}
    with pytest.raises(ShapeError, match="between 0 and 2, got 2.5"):
        _shape("openai", "llama-3.1-8b", temperature=2.5)


def test_claude_opus_4_7_gets_no_temperature_and_only_adaptive_thinking():
    checked = _shape("anthropic", "claude-opus-4-7")
    assert checked.temperature is None and "temperature" in checked.omitted
    assert "temperature" not in AnthropicProvider.build_body("claude-opus-4-7", checked, "q", None)
    with pytest.raises(ShapeError, match="accepts no temperature; got temperature 0"):
        _shape("anthropic", "claude-opus-4-7", temperature=0)
    with pytest.raises(ShapeError, match="thinks only adaptively"):
        _shape("anthropic", "claude-opus-4-7", max_tokens=4096, params={"thinking": {"type": "enabled", "budget_tokens": 2048}})
    with pytest.raises(ShapeError, match="refuses parameter 'top_k'"):
        _shape("anthropic", "claude-opus-4-8", params={"top_k": 5})
    assert _shape("anthropic", "claude-opus-4-7", params={"thinking": {"type": "adaptive"}}).params


def test_anthropic_temperature_is_0_to_1():
    assert _shape("anthropic", "claude-3-opus-20240229", temperature=1).temperature == 1.0
    with pytest.raises(ShapeError, match="between 0 and 1, got 1.5"):
        _shape("anthropic", "claude-3-opus-20240229", temperature=1.5)


def test_extended_thinking_needs_a_budget_of_1024_below_max_tokens_and_no_changed_temperature():
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    with pytest.raises(ShapeError, match=r"budget_tokens \(1024\) must be below max_tokens \(64\).*--max-tokens"):
        _shape("anthropic", "claude-3-7-sonnet-20250219", params=thinking)
    with pytest.raises(ShapeError, match="at least 1024, got 512"):
        _shape("anthropic", "claude-sonnet-4-5", max_tokens=4096, params={"thinking": {"type": "enabled", "budget_tokens": 512}})
    with pytest.raises(ShapeError, match="extended thinking allows no changed temperature"):
        _shape("anthropic", "claude-sonnet-4-5", max_tokens=2048, temperature=0, params=thinking)
    with pytest.raises(ShapeError, match="has no extended thinking"):
        _shape("anthropic", "claude-3-5-sonnet-20241022", max_tokens=2048, params=thinking)
    with pytest.raises(ShapeError, match="top_p must be between 0.95 and 1"):
        _shape("anthropic", "claude-sonnet-4-5", max_tokens=2048, params={**thinking, "top_p": 0.5})
    ok = _shape("anthropic", "claude-sonnet-4-5", max_tokens=2048, params=thinking)
    body = AnthropicProvider.build_body("claude-sonnet-4-5", ok, "q", None)
    assert body == {"model": "claude-sonnet-4-5", "max_tokens": 2048, "messages": [{"role": "user", "content": "q"}],
                    "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert _shape("anthropic", "claude-sonnet-4-5", max_tokens=2048, temperature=1, params=thinking).temperature == 1.0


def test_anthropic_has_no_logprobs():
    with pytest.raises(ShapeError, match="returns no log-probabilities"):
        _shape("anthropic", "claude-3-opus-20240229", logprobs=True)


def test_parameters_the_benchmark_sets_cannot_come_through_param():
    with pytest.raises(ShapeError, match="'max_tokens' cannot be passed with --param: it is set by --max-tokens"):
        _shape("openai", "gpt-4o", params={"max_tokens": 5})
    with pytest.raises(ShapeError, match="'temperature' cannot be passed"):
        _shape("anthropic", "claude-3-opus-20240229", params={"temperature": 0.5})
    with pytest.raises(ShapeError, match="'maxOutputTokens' cannot be passed"):
        _shape("gemini", "gemini-2.0-flash-001", params={"maxOutputTokens": 5})


def test_gemini_nests_generation_parameters_in_generation_config():
    checked = _shape("gemini", "gemini-2.5-flash", logprobs=True,
                     params={"thinkingConfig": {"thinkingBudget": 0}, "safetySettings": []})
    body = GeminiProvider.build_body("gemini-2.5-flash", checked, "q", "persona")
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "q"}]}],
        "systemInstruction": {"parts": [{"text": "persona"}]},
        "safetySettings": [],
        "generationConfig": {"temperature": 0.0, "maxOutputTokens": 64, "responseLogprobs": True, "logprobs": 5,
                             "thinkingConfig": {"thinkingBudget": 0}},
    }


def test_a_provider_refuses_a_combination_when_it_is_built():
    with pytest.raises(PermanentProviderError, match="openai model 'o3-mini': .*only the default temperature"):
        OpenAIProvider(model="o3-mini", base_url="http://127.0.0.1:1/v1", settings=GenerationSettings(temperature=0))


def test_describe_request_records_the_parameters_and_what_is_left_out():
    described = OpenAIProvider.describe_request("o3-mini", GenerationSettings(max_tokens=4096, params={"reasoning_effort": "low"}))
    assert described == {"family": "openai-o-series",
                         "parameters": {"model": "o3-mini", "max_completion_tokens": 4096, "reasoning_effort": "low"},
                         "omitted": {"temperature": "not sent: o3-mini accepts only the default temperature (1)"}}


@pytest.mark.parametrize("key", sorted(GENERATION_PRESETS))
def test_every_preset_shapes_for_its_example_model(key):
    preset = GENERATION_PRESETS[key]
    model = {"openai-reasoning": "o3-mini", "anthropic-thinking": "claude-3-7-sonnet-20250219",
             "anthropic-adaptive": "claude-opus-4-7", "inline-think": "deepseek/deepseek-r1",
             "gemini-thinking": "gemini-2.5-flash"}[key]
    checked = _shape(preset.provider, model, max_tokens=preset.max_tokens, params=preset.params)
    assert checked.max_tokens == preset.max_tokens and checked.params == preset.params


@pytest.mark.parametrize(("tokens", "index"), [
    (["Like", " me"], 0),
    (["**", "Like", " me", "**"], 1),
    (["\"", "Somewhat", " like", " me", "\"", "."], 1),
    (["\n", " ", "*", "*", "Not", " like"], 4),
    (["<", "think", ">\n", "hmm", " yes", "\n</", "think", ">\n\n", "**", "Very", " much"], 9),
    (["<think>", "still", " thinking"], None),
    (["**", "**"], None),
])
def test_the_answer_token_skips_decoration_and_inline_reasoning(tokens, index):
    from benchmark.providers.openai import answer_token_index

    assert answer_token_index(tokens) == index

"""Runs against stand-ins that behave like today's APIs: o-series, Claude Opus 4.7, extended thinking, Gemini,
reasoning models that think inline, decorated answers with log-probabilities. Each run either completes or
is refused before any request, with the reason."""

import asyncio
import json

import httpx
import pytest
from django.core.management import CommandError, call_command

from benchmark.models import Answer, Completion, Run
from benchmark.parsing import parse_rating
from benchmark.providers import GenerationSettings, get_provider
from benchmark.providers.netguard import guarded_session
from benchmark.services import BenchmarkError, parse_param

pytestmark = pytest.mark.django_db


def _run(server, model, *extra, provider="openai", out=None):
    base_url = {"openai": server.base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}[provider]
    args = ["run_benchmark", "--itembank", "test-bank", "--provider", provider, "--base-url", base_url, "--model", model,
            "--concurrency", "4", "--max-attempts", "2", "--skip-checks", "--verbosity", "0", *extra]
    if out:
        args += ["--out", str(out)]
    call_command(*args)
    return Run.objects.latest("id")


def _post(url, body) -> tuple[int, dict]:
    """A raw POST to a stand-in (no provider code in between): status and decoded body."""
    response = httpx.post(url, json=body, timeout=5)
    return response.status_code, response.json()


# --- the stand-ins refuse what the real APIs refuse ------------------------------------------------

@pytest.mark.parametrize(("extra", "message"), [
    ({"max_tokens": 64}, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."),
    ({"temperature": 0}, "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported."),
    ({"logprobs": True}, "Unsupported parameter: 'logprobs' is not supported with this model."),
])
def test_the_o_series_stand_in_answers_the_old_body_with_the_real_400s(llm_server, extra, message):
    server = llm_server()
    status, body = _post(f"{server.base_url}/chat/completions",
                         {"model": "o3-mini", "messages": [{"role": "user", "content": "q"}], **extra})
    assert status == 400 and body["error"]["message"] == message and body["error"]["type"] == "invalid_request_error"


def test_the_opus_4_7_stand_in_refuses_any_temperature(llm_server):
    server = llm_server()
    status, body = _post(f"{server.anthropic_base_url}/v1/messages", {
        "model": "claude-opus-4-7", "max_tokens": 64, "temperature": 0, "messages": [{"role": "user", "content": "q"}]})
    assert status == 400 and body == {"type": "error", "error": {"type": "invalid_request_error",
                                                                 "message": "`temperature` is deprecated for this model."}}


# --- o-series ------------------------------------------------------------------------------------

def test_an_o_series_run_completes_with_max_completion_tokens_and_no_temperature(bank, llm_server):
    server = llm_server(reasoning_tokens=300)
    run = _run(server, "o3-mini", "--preset", "openai-reasoning")
    assert run.status == Run.Status.COMPLETED and run.parsed == run.answered == 72
    assert server.counts["400"] == 0
    sent = Completion.objects.filter(model="o3-mini").first().request
    assert sent["max_completion_tokens"] == 16384 and sent["reasoning_effort"] == "medium"
    assert "max_tokens" not in sent and "temperature" not in sent
    assert run.settings["temperature"] is None
    assert run.settings["request"]["parameters"] == {"model": "o3-mini", "max_completion_tokens": 16384,
                                                     "reasoning_effort": "medium"}
    assert "temperature" in run.settings["request"]["omitted"]


def test_an_o_series_run_whose_reasoning_fills_the_limit_reports_every_answer_cut_off(bank, llm_server):
    server = llm_server(reasoning_tokens=300)
    with pytest.raises(CommandError, match=r"72 of the 72 answers were cut off at the token limit \(max_tokens 64"):
        _run(server, "o3-mini")
    run = Run.objects.latest("id")
    assert run.status == Run.Status.FAILED
    assert set(run.answers.values_list("finish_reason", flat=True)) == {"length"}


@pytest.mark.parametrize(("flags", "reason"), [
    (("--temperature", "0"), r"o3-mini \(OpenAI o-series.*\) accepts only the default temperature \(1\); got temperature 0"),
    (("--logprobs",), r"o3-mini \(.*\) returns no log-probabilities; leave --logprobs out"),
    (("--param", "top_p=0.5"), r"o3-mini \(.*\) refuses parameter 'top_p': reasoning models accept no sampling"),
])
def test_an_o_series_run_with_a_refused_setting_stops_before_any_request(bank, llm_server, flags, reason):
    server = llm_server()
    with pytest.raises(CommandError, match="refused before any request: openai model 'o3-mini': " + reason):
        _run(server, "o3-mini", *flags)
    assert server.counts["requests"] == 0 and not Run.objects.exists()


# --- Claude --------------------------------------------------------------------------------------

def test_an_opus_4_7_run_completes_without_temperature(bank, llm_server):
    server = llm_server()
    run = _run(server, "claude-opus-4-7", provider="anthropic")
    assert run.status == Run.Status.COMPLETED and server.counts["400"] == 0
    assert all("temperature" not in c.request for c in Completion.objects.filter(model="claude-opus-4-7"))
    assert set(run.answers.values_list("finish_reason", flat=True)) == {"end_turn"}


@pytest.mark.parametrize(("flags", "reason"), [
    (("--temperature", "0"), "accepts no temperature; got temperature 0"),
    (("--preset", "anthropic-thinking"), "thinks only adaptively"),
])
def test_an_opus_4_7_run_with_a_refused_setting_stops_before_any_request(bank, llm_server, flags, reason):
    server = llm_server()
    with pytest.raises(CommandError, match="refused before any request: anthropic model 'claude-opus-4-7': .*" + reason):
        _run(server, "claude-opus-4-7", *flags, provider="anthropic")
    assert server.counts["requests"] == 0


def test_an_opus_4_7_run_thinks_adaptively_with_its_preset(bank, llm_server):
    server = llm_server(think_tokens=200)
    run = _run(server, "claude-opus-4-7", "--preset", "anthropic-adaptive", provider="anthropic")
    assert run.status == Run.Status.COMPLETED and run.parsed == 72
    assert run.settings["request"]["parameters"]["thinking"] == {"type": "adaptive"}


def test_extended_thinking_with_the_default_64_tokens_is_refused_before_any_request(bank, llm_server):
    server = llm_server()
    with pytest.raises(CommandError, match=r"budget_tokens \(1024\) must be below max_tokens \(64\)"):
        _run(server, "claude-3-7-sonnet-20250219", "--param", 'thinking={"type":"enabled","budget_tokens":1024}',
             provider="anthropic")
    assert server.counts["requests"] == 0


def test_extended_thinking_answers_score_from_the_text_block_only(bank, llm_server):
    server = llm_server(think_tokens=600)
    run = _run(server, "claude-3-7-sonnet-20250219", "--max-tokens", "2048",
               "--param", 'thinking={"type":"enabled","budget_tokens":1024}', provider="anthropic")
    assert run.status == Run.Status.COMPLETED and run.parsed == 72 and server.counts["400"] == 0
    body = Completion.objects.filter(model="claude-3-7-sonnet-20250219").first().request
    assert body["max_tokens"] == 2048 and body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert "temperature" not in body
    assert all(len(text.split()) <= 6 for text in run.answers.values_list("raw_text", flat=True))


def test_an_anthropic_temperature_above_1_is_refused(bank, llm_server):
    server = llm_server()
    with pytest.raises(CommandError, match="temperature must be between 0 and 1, got 1.5"):
        _run(server, "claude-3-opus-20240229", "--temperature", "1.5", provider="anthropic")
    assert server.counts["requests"] == 0


# --- reasoning models that think inline ------------------------------------------------------------

def test_an_inline_thinking_model_scores_with_2048_tokens(bank, llm_server, tmp_path):
    server = llm_server(think_tokens=500)
    out = tmp_path / "out.json"
    run = _run(server, "deepseek-r1-distill-qwen-7b", "--max-tokens", "2048", out=out)
    document = json.loads(out.read_text())
    assert run.status == Run.Status.COMPLETED and document["parse"]["parsed"] == 72
    assert document["cut_off"] == {"count": 0, "share": 0.0, "finish_reasons": {}}
    assert document["scores"]["pvq"]
    assert all(text.startswith("<think>") and len(text.split()) > 500 for text in run.answers.values_list("raw_text", flat=True))


def test_an_inline_thinking_model_at_64_tokens_reports_its_cut_off_answers(bank, llm_server, capsys):
    server = llm_server(think_tokens=500)
    with pytest.raises(CommandError) as caught:
        _run(server, "deepseek-r1-distill-qwen-7b")
    message = str(caught.value)
    assert "only 0 of 72 answers (0%) could be read" in message
    assert "72 of the 72 answers were cut off at the token limit (max_tokens 64, finish reason length)" in message
    assert "--max-tokens" in message
    run = Run.objects.latest("id")
    assert run.status == Run.Status.FAILED and run.answers.filter(finish_reason="length").count() == 72
    assert all(len(text.split()) == 64 for text in run.answers.values_list("raw_text", flat=True))


def test_the_cut_off_count_is_in_the_run_detail_api(bank, llm_server, client):
    server = llm_server(think_tokens=500)
    with pytest.raises(CommandError):
        _run(server, "deepseek-r1-distill-qwen-7b")
    run = Run.objects.latest("id")
    Run.objects.filter(pk=run.pk).update(is_published=True)
    detail = client.get(f"/api/v1/runs/{run.pk}/").json()
    assert detail["cut_off"] == {"count": 72, "share": 1.0, "finish_reasons": {"length": 72}}


def test_a_cached_answer_keeps_its_finish_reason(bank, llm_server):
    server = llm_server(think_tokens=100)
    nothing = "none of the items keyed to a dimension has a parsed answer"  # every answer cut off: the run fails
    with pytest.raises(CommandError, match=nothing):
        _run(server, "qwq-32b", "--max-tokens", "50", "--min-parse-rate", "0")
    sent = server.counts["requests"]
    with pytest.raises(CommandError, match=nothing):
        _run(server, "qwq-32b", "--max-tokens", "50", "--min-parse-rate", "0")
    second = Run.objects.latest("id")
    assert server.counts["requests"] == sent and second.status == Run.Status.FAILED
    assert second.answers.filter(finish_reason="length").count() == 72
    assert Completion.objects.filter(model="qwq-32b", finish_reason="length").count() == 72


# --- Gemini ---------------------------------------------------------------------------------------

def test_a_gemini_run_completes_over_generate_content(bank, llm_server, tmp_path, settings, monkeypatch):
    server = llm_server(api_key="g-key")
    out = tmp_path / "out.json"
    settings.BENCHMARK_CREDENTIALS = {"gem": {"provider": "gemini", "env": "TEST_GEMINI_KEY", "hosts": ["127.0.0.1"]}}
    monkeypatch.setenv("TEST_GEMINI_KEY", "g-key")
    run = _run(server, "gemini-2.0-flash-001", "--logprobs", "--credential", "gem", provider="gemini", out=out)
    assert run.status == Run.Status.COMPLETED and run.parsed == 72 and server.counts["401"] == 0
    assert set(run.answers.values_list("finish_reason", flat=True)) == {"STOP"}
    body = Completion.objects.filter(model="gemini-2.0-flash-001").first().request
    assert body["generationConfig"] == {"temperature": 0.0, "maxOutputTokens": 64, "responseLogprobs": True, "logprobs": 5}
    assert json.loads(out.read_text())["logprob_scores"]["pvq"]


def test_gemini_thinking_counts_against_max_output_tokens(llm_server):
    server = llm_server(think_tokens=100)
    provider = get_provider("gemini", model="gemini-2.5-flash", base_url=server.gemini_base_url,
                            settings=GenerationSettings(max_tokens=64))

    async def go(p):
        async with guarded_session(limit=1) as session:
            return await p.complete(session, p.request_body("q", None), timeout=5)

    cut = asyncio.run(go(provider))
    assert cut.text == "" and cut.finish_reason == "MAX_TOKENS"
    roomy = get_provider("gemini", model="gemini-2.5-flash", base_url=server.gemini_base_url,
                         settings=GenerationSettings(max_tokens=4096, params={"thinkingConfig": {"includeThoughts": True}}))
    answered = asyncio.run(go(roomy))
    assert parse_rating(answered.text) is not None and answered.finish_reason == "STOP"


# --- log-probabilities of decorated answers --------------------------------------------------------

_FIRST_WORD_VALUE = {"very": 6.0, "like": 5.0, "somewhat": 4.0, "a": 3.0, "not": 1.5}


def test_decorated_answers_get_an_expected_rating_from_their_first_answer_token(bank, llm_server):
    server = llm_server()
    run = _run(server, "gpt-4o", "--logprobs")
    answers = list(run.answers.all())
    decorated = [a for a in answers if a.raw_text.strip()[0] in "*\""]
    assert decorated, "the stand-in decorates some answers"
    for answer in answers:
        first = answer.raw_text.strip(" *\"\n.").split()[0].lower()
        # the stand-in gives the answer's own token 0.9 and "somewhat" 0.1 (or "very" 0.1 when it is "somewhat")
        other = 6.0 if first == "somewhat" else 4.0
        assert answer.expected_rating == pytest.approx(0.9 * _FIRST_WORD_VALUE[first] + 0.1 * other)
    stored = Completion.objects.get(pk=decorated[0].completion_id)
    assert "**" not in stored.logprobs and '"' not in stored.logprobs


def test_the_stand_in_returns_the_literal_first_token(llm_server):
    server = llm_server()
    for index in range(40):
        _, payload = _post(f"{server.base_url}/chat/completions", {"model": "gpt-4o", "logprobs": True, "top_logprobs": 2,
                                                                  "messages": [{"role": "user", "content": f"q{index}"}]})
        text = payload["choices"][0]["message"]["content"]
        tokens = [entry["token"] for entry in payload["choices"][0]["logprobs"]["content"]]
        assert "".join(tokens) == text
        if text.startswith("**"):
            assert tokens[0] == "**"
            return
    pytest.fail("no decorated answer in 40 prompts")


# --- --param --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "parsed"), [
    ('reasoning_effort="low"', ("reasoning_effort", "low")), ("reasoning_effort=low", ("reasoning_effort", "low")),
    ("top_p=0.9", ("top_p", 0.9)), ("seed=7", ("seed", 7)), ("store=false", ("store", False)),
    ('thinking={"type":"enabled","budget_tokens":1024}', ("thinking", {"type": "enabled", "budget_tokens": 1024})),
    ('stop=["\\n"]', ("stop", ["\n"])),
])
def test_param_values_are_json_or_a_bare_word(raw, parsed):
    assert parse_param(raw) == parsed


@pytest.mark.parametrize(("raw", "message"), [
    ("reasoning_effort", "expected KEY=VALUE"), ("=3", "expected KEY=VALUE"),
    ("thinking={type: enabled}", r"VALUE is not JSON \(Expecting property name"), ("note=two words", "not JSON"),
])
def test_a_bad_param_names_the_flag_value(raw, message):
    with pytest.raises(BenchmarkError, match=message) as caught:
        parse_param(raw)
    assert repr(raw) in str(caught.value)


def test_params_are_sent_and_recorded_on_the_run(bank, llm_server):
    server = llm_server()
    run = _run(server, "gpt-4o", "--param", "top_p=0.5", "--param", "seed=7", "--max-tokens", "20")
    assert run.settings["params"] == {"top_p": 0.5, "seed": 7} and run.settings["max_tokens"] == 20
    assert run.settings["request"] == {"family": "openai-compatible", "omitted": {}, "parameters": {
        "model": "gpt-4o", "temperature": 0.0, "max_tokens": 20, "top_p": 0.5, "seed": 7}}
    body = Completion.objects.filter(model="gpt-4o").first().request
    assert body["top_p"] == 0.5 and body["seed"] == 7 and body["max_tokens"] == 20


def test_an_explicit_max_tokens_overrides_the_preset_and_is_checked(bank, llm_server):
    server = llm_server()
    run = _run(server, "qwq-32b", "--preset", "inline-think", "--max-tokens", "1500")
    assert run.settings["max_tokens"] == 1500 and run.settings["preset"] == "inline-think"
    with pytest.raises(CommandError, match="max_tokens.*between 1 and 1000000, got 0"):
        _run(server, "qwq-32b", "--preset", "inline-think", "--max-tokens", "0")


def test_a_preset_for_another_provider_is_refused(bank, llm_server):
    server = llm_server()
    with pytest.raises(CommandError, match="preset 'anthropic-thinking' is for the anthropic provider, not openai"):
        _run(server, "gpt-4o", "--preset", "anthropic-thinking")
    assert server.counts["requests"] == 0


def test_resuming_a_run_recorded_before_shaping_is_refused_before_any_request(bank, llm_server):
    server = llm_server()
    run = _run(server, "gpt-4o", "--max-tokens", "10")
    Answer.objects.filter(run=run).delete()
    Run.objects.filter(pk=run.pk).update(model="o3-mini", status=Run.Status.FAILED,
                                         settings={**run.settings, "temperature": 0.0})
    sent = server.counts["requests"]
    with pytest.raises(CommandError, match="only the default temperature"):
        call_command("run_benchmark", "--resume", str(run.pk), "--skip-checks", "--verbosity", "0")
    assert server.counts["requests"] == sent


def test_imported_answers_keep_their_finish_reason_and_count_as_cut_off(bank, tmp_path, client):
    items = list(bank.items.values_list("item_id", flat=True))
    lines = []
    for number, item_id in enumerate(items):
        for index in range(6):
            cut = number < 3 and index == 0
            lines.append(json.dumps({"item_id": item_id, "prompt_index": index,
                                     "text": "<think>\nweighing it" if cut else "like me",
                                     "finish_reason": "length" if cut else "stop"}))
    answers = tmp_path / "answers.jsonl"
    answers.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.json"
    call_command("score_answers", "--answers", str(answers), "--itembank", "test-bank", "--model", "elsewhere",
                 "--out", str(out), "--publish", "--verbosity", "0")
    document = json.loads(out.read_text())
    assert document["cut_off"] == {"count": 3, "share": 3 / 72, "finish_reasons": {"length": 3}}
    run = Run.objects.get(pk=document["run_id"])
    assert run.answers.filter(finish_reason="stop").count() == 69
    page = client.get(f"/results/models/{run.llm_id}/?run={run.pk}").content.decode()
    assert 'id="cut-off"' in page and "<strong>3 of 72 answers</strong> (length)" in page

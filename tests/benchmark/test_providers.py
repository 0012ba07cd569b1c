"""Providers against the local test server over real HTTP on 127.0.0.1."""

import asyncio

import httpx
import pytest

from benchmark.providers import GenerationSettings, PermanentProviderError, ProviderError, get_provider
from benchmark.providers.http import parse_retry_after
from benchmark.providers.netguard import guarded_session
from benchmark.providers.testserver import GARBAGE, answer_for


def _complete(provider, prompt="hello", system=None):
    async def go():
        async with guarded_session(limit=1) as session:
            return await provider.complete(session, provider.request_body(prompt, system), timeout=5)

    return asyncio.run(go())


def test_openai_provider_gets_the_servers_deterministic_answer(llm_server):
    server = llm_server(api_key="sk-test")
    provider = get_provider("openai", model="m", base_url=server.base_url, api_key="sk-test")
    completed = _complete(provider, "hello", "be brief")
    body = provider.request_body("hello", "be brief")
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    assert body["temperature"] == 0
    import json

    assert completed.text == answer_for(json.dumps(["m", None, body["messages"]], sort_keys=True))


def test_anthropic_provider_speaks_the_messages_api(llm_server):
    server = llm_server(api_key="ant-test")
    provider = get_provider("anthropic", model="claude", base_url=server.anthropic_base_url, api_key="ant-test")
    body = provider.request_body("hello", "persona")
    assert body["system"] == "persona" and body["messages"] == [{"role": "user", "content": "hello"}]
    assert body["max_tokens"] == 64
    assert _complete(provider, "hello", "persona").text.strip(' *".\n').lower().endswith("like me")


def test_a_wrong_key_is_a_permanent_error_naming_the_model(llm_server):
    server = llm_server(api_key="right")
    provider = get_provider("openai", model="gpt-x", base_url=server.base_url, api_key="wrong")
    with pytest.raises(PermanentProviderError, match=r"openai model 'gpt-x': HTTP 401 .*invalid api key"):
        _complete(provider)


def test_a_missing_key_for_the_public_api_is_refused_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(PermanentProviderError, match="no API key for https://api.openai.com/v1"):
        get_provider("openai", model="gpt-4o")


def test_rate_limits_are_retryable_and_carry_retry_after(llm_server):
    server = llm_server(rate_limit_every=1, retry_after="3")
    provider = get_provider("openai", model="m", base_url=server.base_url)
    with pytest.raises(ProviderError) as caught:
        _complete(provider)
    assert caught.value.retryable and caught.value.status == 429 and caught.value.retry_after == 3.0


def test_server_errors_are_retryable(llm_server):
    provider = get_provider("openai", model="m", base_url=llm_server(error_every=1).base_url)
    with pytest.raises(ProviderError) as caught:
        _complete(provider)
    assert caught.value.retryable and caught.value.status == 500


def test_an_unknown_route_is_permanent(llm_server):
    provider = get_provider("openai", model="m", base_url=llm_server().base_url + "/wrong")
    with pytest.raises(PermanentProviderError, match="404"):
        _complete(provider)


def test_a_refused_connection_is_retryable(llm_server):
    server = llm_server()
    url = server.base_url
    server.stop()
    with pytest.raises(ProviderError) as caught:
        _complete(get_provider("openai", model="m", base_url=url))
    assert caught.value.retryable


def test_logprobs_are_requested_and_read(llm_server):
    server = llm_server()
    provider = get_provider("openai", model="m", base_url=server.base_url, settings=GenerationSettings(logprobs=True))
    completed = _complete(provider)
    assert provider.request_body("x", None)["logprobs"] is True
    assert completed.top_logprobs and "somewhat" in completed.top_logprobs


def test_garbage_answers_come_back_as_text(llm_server):
    provider = get_provider("openai", model="m", base_url=llm_server(garbage_every=1).base_url)
    assert _complete(provider).text == GARBAGE


def test_unknown_provider_names_the_choices():
    with pytest.raises(PermanentProviderError, match="anthropic, gemini, openai"):
        get_provider("mistral", model="x")


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "2"}, 2.0), ({"retry-after": "0.5"}, 0.5), ({"retry-after-ms": "250"}, 0.25), ({}, None),
    ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
])
def test_retry_after_is_read_in_every_form(headers, seconds):
    assert parse_retry_after(httpx.Headers(headers)) == seconds


@pytest.mark.parametrize("value", ["soon", "tomorrow at noon", "12 seconds"])
def test_an_unreadable_retry_after_is_ignored_rather_than_crashing(value):
    assert parse_retry_after(httpx.Headers({"retry-after": value})) is None


def test_a_retry_after_date_without_a_zone_is_read_as_gmt():
    import email.utils
    import time

    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True).removesuffix(" GMT")
    assert 55 <= parse_retry_after(httpx.Headers({"retry-after": in_a_minute})) <= 60


def test_the_cache_key_ignores_credentials_but_not_parameters():
    a = get_provider("openai", model="m", base_url="http://h/v1", api_key="one")
    b = get_provider("openai", model="m", base_url="http://h/v1", api_key="two")
    hot = get_provider("openai", model="m", base_url="http://h/v1", settings=GenerationSettings(temperature=1.0))
    body = a.request_body("p", None)
    assert a.cache_key(body) == b.cache_key(b.request_body("p", None))
    assert a.cache_key(body) != hot.cache_key(hot.request_body("p", None))
    assert a.cache_key(body) != a.cache_key(a.request_body("p", "system"))


def test_the_test_server_reports_its_counters_for_other_processes(llm_server):
    server = llm_server(rate_limit_every=1)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    with pytest.raises(ProviderError):
        _complete(provider)
    response = httpx.get(server.anthropic_base_url + "/stats", timeout=5)
    assert response.json() == {"requests": 1, "429": 1}

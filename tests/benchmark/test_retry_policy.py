"""Retry policy by meaning (issue 17): each real API behaviour against the stand-in server on 127.0.0.1."""

import asyncio

import pytest

from benchmark.models import Completion, Run
from benchmark.providers import PermanentProviderError, ProviderError, get_provider
from benchmark.providers.http import QuotaExhausted, answer_error
from benchmark.providers.netguard import guarded_session
from benchmark.runner import PendingRequest, RetryPolicy, RunAborted, run_requests
from benchmark.services import BenchmarkError, run_create, run_execute

PATIENT = RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.01, timeout=5)


def _send(provider, body=None):
    async def go():
        async with guarded_session(limit=1) as session:
            return await provider.complete(session, body or provider.request_body("hello", None), timeout=5)

    return asyncio.run(go())


def _requests(provider, n):
    bodies = [provider.request_body(f"prompt {index}", None) for index in range(n)]
    return [PendingRequest(tag=index, key=provider.cache_key(body), body=body) for index, body in enumerate(bodies)]


def _openai(server, model="m"):
    return get_provider("openai", model=model, base_url=server.base_url)


def test_a_429_with_retry_after_ms_is_retried_after_that_many_milliseconds(llm_server):
    server = llm_server(rate_limit_every=1, retry_after="3", retry_after_ms="200")
    with pytest.raises(ProviderError) as caught:
        _send(_openai(server))
    assert caught.value.retryable and caught.value.status == 429
    assert caught.value.retry_after == pytest.approx(0.2)  # retry-after-ms wins over the coarser Retry-After
    assert PATIENT.delay(1, caught.value) >= 0.2


def test_a_run_through_429s_with_retry_after_ms_gets_every_answer(llm_server):
    server = llm_server(rate_limit_every=3, retry_after_ms="10", retry_after="5")
    provider = _openai(server)
    results = []
    stats = run_requests(provider, _requests(provider, 12), on_batch=results.extend, concurrency=2, policy=PATIENT)
    assert len(results) == 12 and server.counts["429"] == stats.retries > 0


def test_anthropics_529_overloaded_is_retried_until_answered(llm_server):
    server = llm_server(overloaded_every=2)
    provider = get_provider("anthropic", model="claude", base_url=server.anthropic_base_url)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(_two(provider))
    assert caught.value.retryable and caught.value.status == 529 and "Overloaded" in str(caught.value)
    results = []
    run_requests(provider, _requests(provider, 8), on_batch=results.extend, concurrency=2, policy=PATIENT)
    assert len(results) == 8 and server.counts["529"] > 0


async def _two(provider):
    """Send two requests; the second of a server failing every 2nd request fails."""
    async with guarded_session(limit=1) as session:
        await provider.complete(session, provider.request_body("one", None), timeout=5)
        await provider.complete(session, provider.request_body("two", None), timeout=5)


@pytest.mark.parametrize("status", [520, 521, 522, 523, 524])
def test_cloudflare_proxy_errors_are_retried_and_reported_readably(llm_server, status):
    server = llm_server(proxy_error_every=1, proxy_status=status)
    with pytest.raises(ProviderError) as caught:
        _send(_openai(server))
    assert caught.value.retryable and caught.value.status == status
    assert f"HTTP {status}" in str(caught.value) and "Cloudflare Ray ID" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_proxy_errors_mid_run_do_not_abort_it(llm_server):
    server = llm_server(proxy_error_every=3, proxy_status=522)
    provider = _openai(server)
    results = []
    run_requests(provider, _requests(provider, 10), on_batch=results.extend, concurrency=2, policy=PATIENT)
    assert len(results) == 10 and server.counts["522"] > 0


def test_x_should_retry_false_makes_a_server_error_permanent(llm_server):
    server = llm_server(error_every=1, should_retry="false")
    provider = _openai(server, model="claude-ish")
    with pytest.raises(RunAborted, match=r"HTTP 500 .*x-should-retry: false") as caught:
        run_requests(provider, _requests(provider, 3), on_batch=lambda batch: None, concurrency=1, policy=PATIENT)
    assert not caught.value.cause.retryable
    assert server.counts["requests"] == 1  # not retried


def test_x_should_retry_true_makes_an_otherwise_permanent_error_retryable(llm_server):
    server = llm_server(api_key="right", should_retry="true")
    provider = get_provider("openai", model="m", base_url=server.base_url, api_key="wrong")
    with pytest.raises(ProviderError) as caught:
        _send(provider)
    assert caught.value.retryable and caught.value.status == 401


def test_an_exhausted_quota_fails_at_once_with_a_clear_message(llm_server):
    server = llm_server(quota_exhausted=True, should_retry="true")  # not even the server's own verdict retries it
    provider = _openai(server, model="gpt-4o")
    with pytest.raises(RunAborted) as caught:
        run_requests(provider, _requests(provider, 5), on_batch=lambda batch: None, concurrency=1, policy=PATIENT)
    assert isinstance(caught.value.cause, QuotaExhausted) and not caught.value.cause.retryable
    message = str(caught.value)
    assert "openai model 'gpt-4o': quota exhausted" in message and "You exceeded your current quota" in message
    assert "add credit" in message
    assert server.counts["requests"] == 1  # a rate limit would have been retried; the quota is not


def test_a_run_on_an_exhausted_quota_fails_naming_the_cause(bank, llm_server):
    server = llm_server(quota_exhausted=True)
    run = run_create(bank=bank, provider="openai", model="gpt-4o", base_url=server.base_url,
                     settings={"concurrency": 4})
    with pytest.raises(BenchmarkError, match="quota exhausted"):
        run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "add credit" in run.error
    assert server.counts["requests"] <= 4  # the requests already in flight, none retried


def test_a_400_fails_fast_saying_retrying_will_not_help(llm_server):
    server = llm_server()
    with pytest.raises(PermanentProviderError, match=r"HTTP 400 .*malformed request.*retrying will not help"):
        _send(_openai(server), body={"model": "m"})  # no messages: the server refuses it


def test_a_redirect_is_an_error_and_is_not_followed(llm_server):
    target = llm_server()
    server = llm_server(redirect_to=target.base_url + "/chat/completions")
    provider = _openai(server)
    with pytest.raises(RunAborted, match=r"HTTP 307 redirect from .* to http://127\.0\.0\.1:\d+/v1/chat/completions") as caught:
        run_requests(provider, _requests(provider, 2), on_batch=lambda batch: None, concurrency=1, policy=PATIENT)
    assert not caught.value.cause.retryable and "set the base URL to the final address" in str(caught.value)
    assert target.counts["requests"] == 0 and server.counts["requests"] == 1


def test_openrouters_200_with_finish_reason_error_is_a_retryable_error(llm_server):
    server = llm_server(error_answer_every=1)
    with pytest.raises(ProviderError) as caught:
        _send(_openai(server))
    assert caught.value.retryable
    assert "carried an error instead of an answer: Upstream provider returned an error" in str(caught.value)


def test_an_error_in_a_200_is_never_cached_as_an_answer(bank, llm_server):
    server = llm_server(error_answer_every=4)
    run = run_create(bank=bank, provider="openai", model="m", base_url=server.base_url,
                     settings={"concurrency": 3, "max_attempts": 6})
    run_execute(run.pk)
    run.refresh_from_db()
    assert server.counts["error_answer"] > 0
    assert run.status == Run.Status.COMPLETED and run.answered == 72
    assert not Completion.objects.filter(response_text="").exists()
    assert run.failed == 0  # every stored answer is a real one, which the parser reads


@pytest.mark.parametrize(("payload", "problem"), [
    ({"choices": [{"finish_reason": "error", "message": {"content": ""}}]}, "finish_reason 'error'"),
    ({"choices": [{"finish_reason": "error", "error": {"code": 502, "message": "boom"}}]}, "boom"),
    ({"error": {"code": 502, "message": "upstream down"}, "choices": []}, "upstream down"),
    ({"error": "plain text"}, "plain text"),
    ({"choices": [{"finish_reason": "stop", "message": {"content": "Like me"}}], "error": None}, None),
    ({"content": [{"type": "text", "text": "Like me"}], "stop_reason": "end_turn"}, None),
])
def test_answer_error_reads_each_shape_of_an_error_inside_a_200(payload, problem):
    assert answer_error(payload) == problem

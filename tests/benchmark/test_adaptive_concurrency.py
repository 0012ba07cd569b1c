"""``--concurrency auto``: additive increase while answers come back fast, multiplicative decrease on 429/overload.

Against the stand-in server on 127.0.0.1; no assertion on speed, only on what the limit did.
"""

import json
import time

import pytest
from django.core.management import CommandError, call_command

from benchmark.models import Run
from benchmark.providers import get_provider
from benchmark.providers.base import ProviderError
from benchmark.providers.http import QuotaExhausted, RequestTimedOut
from benchmark.runner import AUTO, AUTO_INITIAL, ConcurrencyLimit, PendingRequest, RetryPolicy, run_requests
from benchmark.services import BenchmarkError, run_create

PATIENT = RetryPolicy(max_attempts=30, base_delay=0.001, max_delay=0.02, timeout=10)


def _requests(provider, n):
    bodies = [provider.request_body(f"prompt {index}", None) for index in range(n)]
    return [PendingRequest(tag=index, key=provider.cache_key(body), body=body) for index, body in enumerate(bodies)]


def _limit(**kwargs):
    return ConcurrencyLimit(**kwargs)


RATE_LIMITED = ProviderError("429", retryable=True, status=429)


def test_the_limit_backs_off_on_a_server_that_rate_limits_above_its_capacity(llm_server):
    server = llm_server(latency=0.05, capacity=4, immediate_rejections=True, retry_after_ms="20")
    provider = get_provider("openai", model="m", base_url=server.base_url)
    results = []
    stats = run_requests(provider, _requests(provider, 120), on_batch=results.extend, concurrency=AUTO,
                         max_concurrency=64, policy=PATIENT)
    assert sorted(result.tag for result in results) == list(range(120))
    assert server.counts["429"] > 0 and stats.concurrency_decreases >= 1
    # It started above the capacity (8 > 4), was told so and stayed near it instead of climbing to 64.
    assert stats.concurrency_peak < 64
    assert 1 <= stats.concurrency_settled <= 2 * 4


def test_the_limit_rises_while_answers_come_back_fast_and_without_429s(llm_server):
    server = llm_server(latency=0.02)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    results = []
    stats = run_requests(provider, _requests(provider, 300), on_batch=results.extend, concurrency=AUTO,
                         max_concurrency=24, policy=PATIENT)
    assert len(results) == 300 and server.counts["429"] == 0
    assert AUTO_INITIAL < stats.concurrency_peak <= 24 and stats.concurrency_settled <= 24
    assert server.peak_in_flight > AUTO_INITIAL  # more requests really were in flight than at the start


def test_a_fixed_concurrency_never_changes(llm_server):
    server = llm_server(latency=0.01, capacity=2, immediate_rejections=True, retry_after_ms="5")
    provider = get_provider("openai", model="m", base_url=server.base_url)
    stats = run_requests(provider, _requests(provider, 30), on_batch=lambda batch: None, concurrency=5, policy=PATIENT)
    assert server.counts["429"] > 0
    assert stats.concurrency_settled == stats.concurrency_peak == 5 and stats.concurrency_decreases == 0


def test_a_429_halves_the_limit_once_per_congestion_event():
    limit = _limit(initial=32, maximum=64, adaptive=True)
    before = time.monotonic()
    limit.failed(RATE_LIMITED, sent_at=before)
    assert limit.limit == 16
    limit.failed(RATE_LIMITED, sent_at=before)  # sent before the decrease: the same burst
    assert limit.limit == 16 and limit.decreases == 1
    limit.failed(RATE_LIMITED, sent_at=time.monotonic())  # sent after it: a new signal
    assert limit.limit == 8 and limit.decreases == 2


@pytest.mark.parametrize(("error", "backs_off"), [
    (ProviderError("429", retryable=True, status=429), True),
    (ProviderError("529", retryable=True, status=529), True),
    (ProviderError("503", retryable=True, status=503), True),
    (RequestTimedOut("timed out", retryable=True), True),
    (ProviderError("500", retryable=True, status=500), False),
    (ProviderError("522", retryable=True, status=522), False),
    (QuotaExhausted("quota", status=429), False),  # the run stops; not a reason to slow down
])
def test_only_overload_signals_lower_the_limit(error, backs_off):
    limit = _limit(initial=16, maximum=64, adaptive=True)
    limit.failed(error, sent_at=time.monotonic())
    assert (limit.limit < 16) is backs_off


def test_the_limit_never_drops_below_one_nor_rises_above_the_maximum():
    limit = _limit(initial=2, maximum=3, adaptive=True)
    for _ in range(5):
        limit.failed(RATE_LIMITED, sent_at=time.monotonic())
    assert limit.limit == 1
    for _ in range(50):
        limit.in_flight = int(limit.limit)
        limit.answered(0.01)
    assert limit.limit == 3


def test_slow_answers_do_not_raise_the_limit():
    limit = _limit(initial=4, maximum=64, adaptive=True)
    limit.in_flight = 4
    limit.answered(0.1)
    assert limit.limit == 5  # slow start: one more per fast answer
    limit.in_flight = 5
    limit.answered(0.5)  # five times the fastest answer: the server is queueing
    assert limit.limit == 5


def test_an_idle_limit_does_not_grow():
    limit = _limit(initial=8, maximum=64, adaptive=True)
    limit.in_flight = 1  # only one request in flight: the limit is not what holds the run back
    limit.answered(0.01)
    assert limit.limit == 8


def test_after_a_decrease_the_limit_grows_by_one_per_round_trip():
    limit = _limit(initial=16, maximum=64, adaptive=True)
    limit.failed(RATE_LIMITED, sent_at=time.monotonic())
    assert limit.limit == 8
    for _ in range(8):  # one window of answers at limit 8
        limit.in_flight = 8
        limit.answered(0.01)
    assert 8.9 < limit.limit < 9.1


@pytest.mark.django_db
def test_run_benchmark_concurrency_auto_reports_the_concurrency_it_settled_on(bank, llm_server, tmp_path):
    server = llm_server(latency=0.02, capacity=3, immediate_rejections=True, retry_after_ms="10")
    out = tmp_path / "out.json"
    call_command("run_benchmark", "--itembank", bank.name, "--provider", "openai", "--base-url", server.base_url,
                 "--model", "m", "--concurrency", "auto", "--max-concurrency", "16", "--max-attempts", "30",
                 "--out", str(out), "--skip-checks", "--verbosity", "0")
    document = json.loads(out.read_text())
    assert document["status"] == Run.Status.COMPLETED and document["parse"]["answered"] == 72
    assert document["settings"]["concurrency"] == "auto" and document["settings"]["max_concurrency"] == 16
    assert 1 <= document["concurrency_settled"] <= 16
    assert server.counts["429"] > 0


@pytest.mark.django_db
def test_a_fixed_concurrency_is_reported_as_settled(bank, llm_server, tmp_path):
    out = tmp_path / "out.json"
    call_command("run_benchmark", "--itembank", bank.name, "--provider", "openai", "--base-url",
                 llm_server().base_url, "--model", "m", "--concurrency", "3", "--out", str(out), "--skip-checks",
                 "--verbosity", "0")
    assert json.loads(out.read_text())["concurrency_settled"] == 3


def test_run_benchmark_refuses_a_concurrency_that_is_neither_a_number_nor_auto():
    with pytest.raises(CommandError, match="expected a whole number or 'auto', got 'fast'"):
        call_command("run_benchmark", "--itembank", "x", "--provider", "openai", "--model", "m",
                     "--concurrency", "fast", "--skip-checks")


@pytest.mark.django_db
@pytest.mark.parametrize(("settings", "message"), [
    ({"concurrency": "fast"}, "setting 'concurrency': must be a whole number or 'auto', got 'fast'"),
    ({"concurrency": 0}, "setting 'concurrency': must be between 1 and 512 or 'auto', got 0"),
    ({"concurrency": AUTO, "max_concurrency": 1000}, "setting 'max_concurrency': must be between 1 and 512, got 1000"),
])
def test_run_settings_refuse_a_bad_concurrency(bank, settings, message):
    with pytest.raises(BenchmarkError, match=message):
        run_create(bank=bank, provider="openai", model="m", base_url="http://127.0.0.1:9/v1", settings=settings)

"""The async runner against the local server: concurrency, retries, Retry-After, permanent errors."""

import threading
import time

import pytest

from benchmark.providers import get_provider
from benchmark.providers.base import ProviderError
from benchmark.runner import PendingRequest, RetryPolicy, RunAborted, run_requests

FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, timeout=5)


def _requests(provider, n):
    requests = []
    for index in range(n):
        body = provider.request_body(f"prompt {index}", None)
        requests.append(PendingRequest(tag=index, key=provider.cache_key(body), body=body))
    return requests


def _arrivals(server) -> list[float]:
    """The times (``time.monotonic()``) at which ``server`` receives each request, filled as they arrive."""
    arrivals = []
    original = server.count

    def count(name):
        if name == "requests":
            arrivals.append(time.monotonic())
        return original(name)

    server.count = count
    return arrivals


def _collect():
    results = []
    return results, results.extend


def test_every_request_is_answered_once(llm_server):
    server = llm_server()
    provider = get_provider("openai", model="m", base_url=server.base_url)
    results, on_batch = _collect()
    stats = run_requests(provider, _requests(provider, 40), on_batch=on_batch, concurrency=8, policy=FAST)
    assert sorted(result.tag for result in results) == list(range(40))
    assert server.counts["requests"] == 40 and stats.sent == 40 and stats.retries == 0


def test_rate_limits_and_server_errors_are_retried_until_answered(llm_server):
    server = llm_server(rate_limit_every=3, error_every=5)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    results, on_batch = _collect()
    patient = RetryPolicy(max_attempts=30, base_delay=0.001, max_delay=0.01, timeout=5)
    stats = run_requests(provider, _requests(provider, 30), on_batch=on_batch, concurrency=4, policy=patient)
    assert len(results) == 30
    assert server.counts["429"] > 0 and server.counts["500"] > 0
    assert stats.retries == server.counts["429"] + server.counts["500"]
    assert server.counts["answered"] == 30


def test_retry_after_is_waited_for_before_retrying(llm_server):
    server = llm_server(rate_limit_every=2, retry_after="0.3")  # the 2nd request is refused
    provider = get_provider("openai", model="m", base_url=server.base_url)
    arrivals = _arrivals(server)
    results, on_batch = _collect()
    run_requests(provider, _requests(provider, 2), on_batch=on_batch, concurrency=1,
                 policy=RetryPolicy(max_attempts=3, base_delay=0, timeout=5))
    assert len(results) == 2 and len(arrivals) == 3
    assert arrivals[2] - arrivals[1] >= 0.3  # the retry came no earlier than Retry-After allowed


def test_backoff_without_retry_after_grows_exponentially_with_jitter():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    error = ProviderError("x", retryable=True)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = [policy.delay(attempt, error) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= cap
        assert len(set(delays)) > 1  # jitter


def test_a_permanent_error_stops_the_run_and_keeps_what_was_answered(llm_server):
    server = llm_server(fail_after=10)
    provider = get_provider("openai", model="my-model", base_url=server.base_url)
    results, on_batch = _collect()
    with pytest.raises(RunAborted, match=r"openai model 'my-model': HTTP 401 .*key revoked") as caught:
        run_requests(provider, _requests(provider, 50), on_batch=on_batch, concurrency=4, policy=FAST)
    assert not caught.value.cause.retryable
    assert len(results) == 10
    assert server.counts["requests"] < 50  # the remaining requests were never sent


def test_exhausted_retries_stop_the_run_with_the_last_cause(llm_server):
    server = llm_server(error_every=1)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    with pytest.raises(RunAborted, match=r"HTTP 500.*gave up after 5 attempts"):
        run_requests(provider, _requests(provider, 3), on_batch=lambda batch: None, concurrency=1, policy=FAST)


def test_the_caller_can_stop_a_run_between_batches(llm_server):
    server = llm_server(latency=0.01)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    results, on_batch = _collect()
    with pytest.raises(RunAborted, match="stopped on request"):
        run_requests(provider, _requests(provider, 200), on_batch=on_batch, concurrency=2, policy=FAST,
                     batch_size=5, flush_interval=0.05, stop_check_interval=0.05,
                     should_stop=lambda: len(results) >= 5)
    assert 5 <= len(results) < 200


def test_results_are_delivered_in_the_calling_thread(llm_server):
    provider = get_provider("openai", model="m", base_url=llm_server().base_url)
    threads = set()
    run_requests(provider, _requests(provider, 10), on_batch=lambda batch: threads.add(threading.get_ident()),
                 concurrency=3, policy=FAST)
    assert threads == {threading.get_ident()}


def test_concurrency_must_be_positive(llm_server):
    provider = get_provider("openai", model="m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="concurrency"):
        run_requests(provider, [], on_batch=lambda batch: None, concurrency=0)


def test_a_long_retry_after_is_honoured_beyond_our_own_backoff_cap():
    policy = RetryPolicy(max_delay=30.0)
    assert policy.delay(1, ProviderError("429", retryable=True, retry_after=45.0)) >= 45.0


def test_a_malformed_retry_after_falls_back_to_backoff_and_every_request_is_answered(llm_server):
    server = llm_server(rate_limit_every=2, retry_after="soon")
    provider = get_provider("openai", model="m", base_url=server.base_url)
    results, on_batch = _collect()
    run_requests(provider, _requests(provider, 6), on_batch=on_batch, concurrency=2, policy=FAST)
    assert sorted(result.tag for result in results) == list(range(6)) and server.counts["429"] > 0


def test_an_unexpected_error_stops_the_run_loudly_instead_of_leaving_answers_missing(llm_server):
    server = llm_server()
    provider = get_provider("openai", model="my-model", base_url=server.base_url)

    def broken(payload):
        raise RuntimeError("provider bug")

    provider.read_response = broken
    with pytest.raises(RunAborted, match=r"openai model 'my-model': unexpected RuntimeError: provider bug"):
        run_requests(provider, _requests(provider, 4), on_batch=lambda batch: None, concurrency=2, policy=FAST)


def test_a_run_stopped_while_a_request_waits_out_a_long_retry_after_ends_without_waiting_it_out(llm_server):
    server = llm_server(rate_limit_every=1, retry_after="3600")  # every request is told to come back in an hour
    provider = get_provider("openai", model="m", base_url=server.base_url)
    started = time.monotonic()
    with pytest.raises(RunAborted, match="stopped on request"):
        run_requests(provider, _requests(provider, 1), on_batch=lambda batch: None, concurrency=1,
                     policy=RetryPolicy(max_attempts=3, timeout=5, max_retry_after=3600), flush_interval=0.05,
                     should_stop=lambda: server.counts["429"] >= 1)
    assert time.monotonic() - started < 1800  # a hang-guard, not a speed claim: waiting out the hour fails


def test_the_stop_question_is_asked_at_most_once_per_interval(llm_server):
    server = llm_server(latency=0.01)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    asked = []

    def should_stop():
        asked.append(time.monotonic())
        return False

    started = time.monotonic()
    run_requests(provider, _requests(provider, 100), on_batch=lambda batch: None, concurrency=2, policy=FAST,
                 flush_interval=0.05, should_stop=should_stop, stop_check_interval=0.2)
    elapsed = time.monotonic() - started
    assert asked and len(asked) <= elapsed / 0.2 + 1  # 100 answers, yet a handful of questions
    assert all(later - earlier >= 0.2 for earlier, later in zip(asked, asked[1:], strict=False))


def test_a_stop_abandons_the_requests_in_flight_instead_of_waiting_for_their_answers(llm_server):
    server = llm_server(latency=30)  # an answer that would take half a minute
    provider = get_provider("openai", model="m", base_url=server.base_url)
    started = time.monotonic()
    with pytest.raises(RunAborted, match="stopped on request"):
        run_requests(provider, _requests(provider, 4), on_batch=lambda batch: None, concurrency=4,
                     policy=RetryPolicy(max_attempts=1, timeout=60), stop_check_interval=0.05,
                     should_stop=lambda: server.counts["requests"] >= 4)
    assert time.monotonic() - started < 25  # a hang-guard, not a speed claim: waiting for the answers fails


def test_a_request_waiting_out_a_retry_after_lends_its_slot_to_the_next_request(llm_server):
    # Concurrency 2: the 1st request takes 0.5 s; the 2nd is refused at once and told to wait 1 s. Its slot goes to
    # the 3rd request meanwhile, which therefore arrives before the 1st is answered (a worker holding its slot
    # through the wait would send the 3rd only after the 1st's answer).
    server = llm_server(latency=0.5, rate_limit_every=2, retry_after="1", immediate_rejections=True)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    answered_at_arrival = []
    original = server.count

    def count(name):
        if name == "requests":
            answered_at_arrival.append(server.counts["answered"])
        return original(name)

    server.count = count
    results, on_batch = _collect()
    stats = run_requests(provider, _requests(provider, 3), on_batch=on_batch, concurrency=2,
                         policy=RetryPolicy(max_attempts=3, base_delay=0, timeout=5))
    assert sorted(result.tag for result in results) == [0, 1, 2] and server.counts["429"] == stats.retries >= 1
    assert answered_at_arrival[:3] == [0, 0, 0]
    assert server.peak_in_flight <= 2


def test_a_server_refusing_everything_sees_at_most_the_concurrency_and_five_percent_per_retry_after(llm_server):
    server = llm_server(rate_limit_every=1, retry_after="0.2", immediate_rejections=True)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    with pytest.raises(RunAborted, match="gave up after 2 attempts"):
        run_requests(provider, _requests(provider, 200), on_batch=lambda batch: None, concurrency=20,
                     policy=RetryPolicy(max_attempts=2, base_delay=0, timeout=5))
    # 20 slots + 1 request waiting without one: 21 first attempts, then their retries; not all 200 queued requests.
    assert server.counts["requests"] <= 2 * 21
    assert server.peak_in_flight <= 20


def test_a_freed_slot_goes_to_the_request_waiting_longest_before_a_new_one():
    import asyncio

    from benchmark.runner import ConcurrencyLimit

    async def scenario() -> list[str]:
        limit = ConcurrencyLimit(initial=1, maximum=1, adaptive=False)
        order = []
        await limit.acquire()

        async def retry() -> None:  # woke up from its Retry-After and wants a slot
            await limit.acquire()
            order.append("retry")
            await limit.release()

        waiting = asyncio.create_task(retry())
        await asyncio.sleep(0)  # the retry is queued for the slot
        await limit.release()
        await limit.acquire()  # the worker that just finished takes its next request: it queues behind the retry
        order.append("next")
        await limit.release()
        await waiting
        return order

    assert asyncio.run(scenario()) == ["retry", "next"]


def test_the_first_requests_leave_over_the_ramp_and_on_ramped_is_called_once_they_are_out(llm_server):
    from benchmark.runner import RAMP_SECONDS

    server = llm_server(latency=0.3)
    provider = get_provider("openai", model="m", base_url=server.base_url)
    arrivals, ramped = _arrivals(server), []
    results, on_batch = _collect()
    run_requests(provider, _requests(provider, 16), on_batch=on_batch, concurrency=16, policy=FAST,
                 on_ramped=lambda: ramped.append((threading.current_thread().name, server.counts["requests"])))
    assert sorted(result.tag for result in results) == list(range(16))
    # 16 workers, the k-th waiting k/16 of the ramp before its first request: the arrivals span at least 15/16 of
    # it (a lower bound: a sleep does not end early; 0.9 for the clock's resolution).
    assert max(arrivals) - min(arrivals) >= 0.9 * RAMP_SECONDS * 15 / 16
    assert len(ramped) == 1
    thread, received = ramped[0]
    assert thread == "benchmark-runner" and received >= 1  # in the event loop's thread, with requests out


@pytest.mark.django_db
def test_scoring_preparation_waits_for_the_ramp_and_finishes_without_one(monkeypatch, tmp_path):
    import scipy.stats  # noqa: F401 - imported already, so that the preparation would start at once if it did not wait
    from django.db.backends.utils import CursorWrapper

    from benchmark import protocol, scoring, selectors, services
    from benchmark.synthetic import synthetic_items, write_itembank

    queried_from = []
    for name in ("execute", "executemany"):  # any connection, any thread
        run_sql = getattr(CursorWrapper, name)
        monkeypatch.setattr(CursorWrapper, name, lambda self, *args, _run=run_sql, **kwargs: (
            queried_from.append(threading.current_thread().name), _run(self, *args, **kwargs))[1])

    bank = services.itembank_import(path=write_itembank(tmp_path / "bank.jsonl", synthetic_items(12, seed=3)), name="b")
    selectors.bank_correlation_columns(bank)  # as the selection check reads them before any request
    started, given = threading.Event(), []
    monkeypatch.setattr(scoring, "warm_bootstrap", lambda selection: (given.append(selection), started.set()))
    fields = {"selection": protocol.selection_rule(threshold=0.3, alpha=0.05, fdr=False), "mode": "positive"}
    preparation = services._ScoringPreparation(bank, fields)
    assert not started.wait(0.3)  # nothing before the runner says its first requests are out
    preparation.ramped()
    assert started.wait(services._ScoringPreparation.START_TIMEOUT)
    preparation.finish()
    assert queried_from and "benchmark-prepare-scoring" not in queried_from  # the thread read nothing from the database
    expected = scoring.apply_selection(selectors.bank_correlations(bank), fields["selection"])
    assert given[0].equals(expected) and len(expected)  # the run's selection, built in the thread
    assert selectors.bank_selection(bank, fields).equals(expected)  # and remembered for the scoring and the report

    started.clear()
    services._ScoringPreparation(bank, fields, families=["bfi"]).finish()  # a run that ends before its ramp:
    assert started.is_set() and set(given[1]["family"]) == {"bfi"}  # finish() starts it and waits; only its families

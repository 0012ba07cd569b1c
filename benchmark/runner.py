"""The async request runner: N requests in flight, retries with backoff and jitter, results streamed back.

Pure Python + httpx, no Django. The caller passes the requests still missing (cache hits are
resolved before, by the caller) and a callback that stores each batch of results; the event loop
runs in a helper thread while the callback runs in the calling thread, so database writes stay in
the caller's thread (and its transaction and connection). Results stored before a failure stay
stored: a stopped run resumes by sending only what is still missing.

Retry policy: retryable errors (429, 5xx, timeouts, connection errors, malformed bodies) are retried
up to ``max_attempts`` times. The wait is the server's ``Retry-After`` when given (in full, up to
``max_retry_after``, 10 minutes), otherwise "full jitter" exponential backoff: uniform(0, min(max_delay, base_delay · 2^attempt)) (Brooker, 2015).
A permanent error (401, 403, 404, other 4xx) or exhausted retries stop the whole run with
:class:`RunAborted` naming the model and the cause.
"""

import asyncio
import queue
import random
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import httpx

from benchmark.providers.base import Completed, Provider, ProviderError
from benchmark.providers.netguard import guarded_client


@dataclass(frozen=True)
class PendingRequest:
    """One request to send: ``tag`` identifies it for the caller (e.g. ``(item_pk, prompt_index)``)."""

    tag: Hashable
    key: str
    body: dict


@dataclass(frozen=True)
class RequestResult:
    tag: Hashable
    key: str
    body: dict
    completed: Completed
    attempts: int


@dataclass(frozen=True)
class RetryPolicy:
    """``max_delay`` caps our own backoff; a server's ``Retry-After`` is honoured in full up to ``max_retry_after``."""

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 120.0
    max_retry_after: float = 600.0

    def delay(self, attempt: int, error: ProviderError) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if error.retry_after is not None:
            # Retrying before the server's Retry-After only earns another 429 and burns an attempt.
            return min(error.retry_after, self.max_retry_after) + random.uniform(0, 0.05)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass
class RunnerStats:
    sent: int = 0  # HTTP requests made, retries included
    retries: int = 0
    answered: int = 0
    elapsed: float = 0.0
    errors: list[str] = field(default_factory=list)


class RunAborted(Exception):
    """The run stopped before every request was answered; ``cause`` is the provider error, if any."""

    def __init__(self, message: str, cause: ProviderError | None = None):
        super().__init__(message)
        self.cause = cause


_DONE = object()
_STOP_POLL = 0.1  # seconds between checks of the stop flag while waiting to retry


async def _wait_unless_stopped(seconds: float, stop: threading.Event) -> None:
    """Sleep ``seconds``, but return within ``_STOP_POLL`` once ``stop`` is set (a long Retry-After must not hold a
    paused or failed run)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        await asyncio.sleep(min(left, _STOP_POLL))


async def _run_async(
    provider: Provider,
    requests: list[PendingRequest],
    *,
    concurrency: int,
    policy: RetryPolicy,
    out: queue.Queue,
    stop: threading.Event,
    stats: RunnerStats,
) -> None:
    todo: asyncio.Queue[PendingRequest] = asyncio.Queue()
    for request in requests:
        todo.put_nowait(request)
    failure: list[ProviderError] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while not stop.is_set() and not failure:
            try:
                request = todo.get_nowait()
            except asyncio.QueueEmpty:
                return
            attempt = 0
            while True:
                attempt += 1
                stats.sent += 1
                try:
                    completed = await provider.complete(client, request.body, timeout=policy.timeout)
                except ProviderError as error:
                    if not error.retryable or attempt >= policy.max_attempts:
                        if error.retryable:
                            error = ProviderError(
                                f"{error} (gave up after {attempt} attempts)", retryable=False, status=error.status
                            )
                        failure.append(error)
                        stop.set()
                        return
                    stats.retries += 1
                    await _wait_unless_stopped(policy.delay(attempt, error), stop)
                    if stop.is_set():
                        return
                    continue
                stats.answered += 1
                out.put(RequestResult(request.tag, request.key, request.body, completed, attempt))
                break

    async def guarded(client: httpx.AsyncClient) -> None:
        try:
            await worker(client)
        except Exception as exc:  # an unforeseen error must stop the run loudly, never end it with answers missing
            failure.append(ProviderError(
                f"{provider.name} model {provider.model!r}: unexpected {exc.__class__.__name__}: {exc}", retryable=False
            ))
            stop.set()

    try:
        async with guarded_client(limits=limits) as client:
            await asyncio.gather(*(guarded(client) for _ in range(max(1, min(concurrency, len(requests))))))
    finally:
        out.put((_DONE, failure[0] if failure else None))


def run_requests(
    provider: Provider,
    requests: list[PendingRequest],
    *,
    on_batch: Callable[[list[RequestResult]], None],
    concurrency: int = 16,
    policy: RetryPolicy | None = None,
    batch_size: int = 64,
    flush_interval: float = 0.5,
    should_stop: Callable[[], bool] | None = None,
) -> RunnerStats:
    """Send ``requests`` with ``concurrency`` in flight; call ``on_batch`` (in this thread) with results.

    ``on_batch`` is called with up to ``batch_size`` results at least every ``flush_interval``
    seconds while results arrive. ``should_stop`` is polled between batches (e.g. a run paused
    from the web). Raises :class:`RunAborted` when a permanent error, exhausted retries or
    ``should_stop`` ended the run early; every result received before is passed to ``on_batch`` first.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    policy = policy or RetryPolicy()
    stats = RunnerStats()
    started = time.perf_counter()
    if not requests:
        return stats
    out: queue.Queue = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(
            _run_async(provider, requests, concurrency=concurrency, policy=policy, out=out, stop=stop, stats=stats)
        ),
        name="benchmark-runner",
        daemon=True,
    )
    thread.start()
    batch: list[RequestResult] = []
    last_flush = time.monotonic()
    failure: ProviderError | None = None
    stopped_by_caller = False
    try:
        while True:
            try:
                message = out.get(timeout=flush_interval)
            except queue.Empty:
                message = None
            finished = isinstance(message, tuple) and message[0] is _DONE
            if finished:
                failure = message[1]
            elif message is not None:
                batch.append(message)
            if batch and (finished or len(batch) >= batch_size or time.monotonic() - last_flush >= flush_interval):
                on_batch(batch)
                batch = []
                last_flush = time.monotonic()
            if finished:
                break
            if should_stop is not None and not stop.is_set() and should_stop():
                stopped_by_caller = True
                stop.set()
    finally:
        stop.set()
        thread.join()
    stats.elapsed = time.perf_counter() - started
    if failure is not None:
        stats.errors.append(str(failure))
        raise RunAborted(str(failure), failure)
    if stopped_by_caller:
        raise RunAborted("stopped on request")
    if stats.answered < len(requests):  # the event loop died without reporting why
        raise RunAborted(f"the runner stopped with {stats.answered} of {len(requests)} requests answered")
    return stats

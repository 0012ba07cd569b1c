"""The async request runner: N requests in flight, retries with backoff and jitter, results streamed back.

Pure Python + aiohttp, no Django. The caller passes the requests still missing (cache hits are
resolved before, by the caller) and a callback that stores each batch of results; the event loop
runs in a helper thread while the callback runs in the calling thread, so database writes stay in
the caller's thread (and its transaction and connection). Results stored before a failure stay
stored: a stopped run resumes by sending only what is still missing.

HTTP client: aiohttp, chosen by measurement (``python -m bench runner``): against the same local
server answering in 1 s at 128 connections, a bare ``httpx.AsyncClient`` loop spent about 22 ms of
CPU per request and a bare aiohttp loop about 0.3 ms. One connection pool (``aiohttp.ClientSession``
with the address guard of :mod:`benchmark.providers.netguard`) serves the whole run.

Concurrency is a fixed number, or ``"auto"``: additive increase, multiplicative decrease (AIMD, as
TCP congestion control; Jacobson, 1988). The limit starts at :data:`AUTO_INITIAL` and grows by one
per fast answer (doubling per round trip) until the first overload signal, then by one per round
trip; it grows only while the answers come back fast (within :data:`FAST_FACTOR` × the fastest
answer seen) and the limit is in use. An overload signal (429 rate limit, 503, 529 overloaded, a
timeout) halves it, once per round trip: signals from requests sent before the last decrease are
the same congestion event. It never exceeds ``max_concurrency``. An exhausted quota is not a rate
limit and stops the run (see :mod:`benchmark.providers.http`).

A request waiting out a ``Retry-After`` or a backoff is not in flight: with a fixed number, its slot
goes to the next request meanwhile, so N stay in flight while a few wait (a fair FIFO semaphore, so a
retry gets the next free slot before new requests). At most :data:`SPARE_SHARE` of N (at least one)
requests wait that way; beyond, a waiting request keeps its slot, so a server refusing everything sees
at most N + 5 % requests per ``Retry-After``. (Each slot holding its request through the wait, as a
plain loop of N workers does, left a slot idle for every 429's whole wait: with 1 % of requests
refused for 1 s, a refusal in the last round trip added a second to a 25 s run.) The first requests leave over :data:`RAMP_SECONDS` (worker k
of W waits k/W of it), not in one burst: a burst of answers queues in the event loop, and against a server
answering in about the same time it comes back every round trip (measured: 15 ms per round trip in a
burst, 3 ms spread out, at 1 s and 128 in flight).

Retry policy: retryable errors (429, 5xx, timeouts, connection errors, malformed bodies, a 200
carrying an error) are retried up to ``max_attempts`` times. The wait is the server's
``Retry-After`` when given (in full, up to ``max_retry_after``, 10 minutes), otherwise "full jitter"
exponential backoff: uniform(0, min(max_delay, base_delay · 2^attempt)) (Brooker, 2015). A permanent
error (400, 401, 403, 404, other 4xx, a redirect, an exhausted quota) or exhausted retries stop the
whole run with :class:`RunAborted` naming the model and the cause.
"""

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from benchmark.providers.base import Completed, Provider, ProviderError
from benchmark.providers.http import OVERLOAD_STATUS, RequestTimedOut
from benchmark.providers.netguard import guarded_session

AUTO = "auto"
AUTO_INITIAL = 8  # requests in flight when an adaptive run starts
FAST_FACTOR = 2.0  # an answer slower than this × the fastest one seen does not raise the limit
DECREASE_FACTOR = 0.5
RAMP_SECONDS = 0.1  # the first requests are spread over this long (see the module docstring)
RAMP_MARGIN = 0.05  # on_ramped is called this long after the ramp, when the first requests are written
SPARE_SHARE = 0.05  # with a fixed concurrency N, up to this share of N waits out a retry delay without a slot


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
    concurrency_settled: int = 0  # the limit on requests in flight when the run ended
    concurrency_peak: int = 0  # the highest limit reached
    concurrency_decreases: int = 0  # multiplicative decreases (adaptive runs)


class RunAborted(Exception):
    """The run stopped before every request was answered; ``cause`` is the provider error, if any."""

    def __init__(self, message: str, cause: ProviderError | None = None):
        super().__init__(message)
        self.cause = cause


def is_overload(error: ProviderError) -> bool:
    """Whether ``error`` asks for less load (429 rate limit, 503, 529 overloaded, a timeout)."""
    return isinstance(error, RequestTimedOut) or (error.retryable and error.status in OVERLOAD_STATUS)


class ConcurrencyLimit:
    """The number of requests allowed in flight: fixed, or adapted by AIMD (see the module docstring).

    Used from one event loop only; ``acquire`` waits for a free slot, ``release`` frees it. ``workers``
    is how many requests may be under way at once, in flight or waiting out a retry delay.
    """

    def __init__(self, *, initial: int, maximum: int, adaptive: bool):
        self.adaptive = adaptive
        self.maximum = maximum
        self.limit = float(min(initial, maximum))
        self.threshold = float(maximum)  # slow start below, one per round trip above
        self.in_flight = 0
        self.peak = int(self.limit)
        self.decreases = 0
        self.fastest = float("inf")
        self.decreased_at = float("-inf")
        self._free = asyncio.Condition()
        # Fixed: N slots, handed out first come, first served (asyncio.Semaphore queues its waiters).
        self._slots = None if adaptive else asyncio.Semaphore(maximum)
        self.workers = maximum if adaptive else maximum + max(1, int(maximum * SPARE_SHARE))

    async def acquire(self) -> None:
        if self._slots is not None:
            await self._slots.acquire()
            self.in_flight += 1
            return
        async with self._free:
            await self._free.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1

    async def release(self) -> None:
        if self._slots is not None:
            self.in_flight -= 1
            self._slots.release()
            return
        async with self._free:
            self.in_flight -= 1
            self._free.notify(max(0, int(self.limit) - self.in_flight))

    def answered(self, latency: float) -> None:
        """An answer came back ``latency`` seconds after its request was sent (call before ``release``)."""
        if not self.adaptive:
            return
        self.fastest = min(self.fastest, latency)
        in_use = self.in_flight >= int(self.limit) - 1
        if latency > FAST_FACTOR * self.fastest or not in_use or self.limit >= self.maximum:
            return
        self.limit = min(float(self.maximum), self.limit + (1.0 if self.limit < self.threshold else 1.0 / self.limit))
        self.peak = max(self.peak, int(self.limit))

    def failed(self, error: ProviderError, sent_at: float) -> None:
        """A request sent at ``sent_at`` (``time.monotonic()``) failed with ``error``."""
        if not self.adaptive or not is_overload(error) or sent_at < self.decreased_at:
            return
        self.limit = max(1.0, float(int(self.limit * DECREASE_FACTOR)))
        self.threshold = self.limit
        self.decreased_at = time.monotonic()
        self.decreases += 1


_STOP_POLL = 0.05  # seconds between checks of the stop flag inside the event loop


@dataclass
class _Outbox:
    """Results handed from the event loop's thread to the caller's: appended there, drained here.

    A deque (thread-safe append/popleft) read every ``flush_interval`` rather than a wake-up per
    result: thousands of thread switches a minute would cost more CPU than the requests themselves.
    """

    results: deque = field(default_factory=deque)
    finished: threading.Event = field(default_factory=threading.Event)
    failure: list[ProviderError] = field(default_factory=list)


async def _run_async(
    provider: Provider,
    requests: list[PendingRequest],
    *,
    limit: ConcurrencyLimit,
    policy: RetryPolicy,
    out: _Outbox,
    stop: threading.Event,
    stats: RunnerStats,
    on_ramped: Callable[[], None] | None = None,
) -> None:
    todo: asyncio.Queue[PendingRequest] = asyncio.Queue()
    for request in requests:
        todo.put_nowait(request)

    def fail(error: ProviderError) -> None:
        out.failure.append(error)
        stop.set()

    async def worker(session, start_after: float) -> None:
        await asyncio.sleep(start_after)  # the ramp: the first requests leave spread out, not in one burst
        while not stop.is_set():
            try:
                request = todo.get_nowait()
            except asyncio.QueueEmpty:
                return
            attempt = 0
            while True:
                attempt += 1
                await limit.acquire()
                if stop.is_set():  # stopped while this request waited for a slot
                    await limit.release()
                    return
                sent_at = time.monotonic()
                stats.sent += 1
                try:
                    completed = await provider.complete(session, request.body, timeout=policy.timeout)
                except ProviderError as error:
                    limit.failed(error, sent_at)
                    if not error.retryable or attempt >= policy.max_attempts:
                        if error.retryable:
                            error = ProviderError(
                                f"{error} (gave up after {attempt} attempts)", retryable=False, status=error.status
                            )
                        fail(error)  # before the slot is freed: no waiting request may take it
                        await limit.release()
                        return
                    await limit.release()
                    stats.retries += 1
                    await asyncio.sleep(policy.delay(attempt, error))
                    continue
                limit.answered(time.monotonic() - sent_at)
                await limit.release()
                stats.answered += 1
                out.results.append(RequestResult(request.tag, request.key, request.body, completed, attempt))
                break

    async def guarded(session, start_after: float) -> None:
        try:
            await worker(session, start_after)
        except Exception as exc:  # an unforeseen error must stop the run loudly, never end it with answers missing
            fail(ProviderError(
                f"{provider.name} model {provider.model!r}: unexpected {exc.__class__.__name__}: {exc}", retryable=False
            ))

    try:
        async with guarded_session(limit=limit.maximum, timeout=policy.timeout) as session:
            count = max(1, min(limit.workers, len(requests)))
            workers = [asyncio.create_task(guarded(session, RAMP_SECONDS * index / count)) for index in range(count)]
            if on_ramped is not None:
                asyncio.get_running_loop().call_later(RAMP_SECONDS + RAMP_MARGIN, on_ramped)
            # A stop (pause, a permanent error elsewhere) ends the run within _STOP_POLL: requests still in
            # flight or waiting out a Retry-After are abandoned, and sent again when the run resumes.
            while not stop.is_set() and not all(task.done() for task in workers):
                await asyncio.wait(workers, timeout=_STOP_POLL)
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
    finally:
        stats.concurrency_settled, stats.concurrency_peak = int(limit.limit), limit.peak
        stats.concurrency_decreases = limit.decreases
        out.finished.set()


def run_requests(
    provider: Provider,
    requests: list[PendingRequest],
    *,
    on_batch: Callable[[list[RequestResult]], None],
    concurrency: int | str = 16,
    max_concurrency: int = 256,
    policy: RetryPolicy | None = None,
    batch_size: int = 64,
    flush_interval: float = 0.5,
    should_stop: Callable[[], bool] | None = None,
    stop_check_interval: float = 1.0,
    on_ramped: Callable[[], None] | None = None,
) -> RunnerStats:
    """Send ``requests`` with ``concurrency`` in flight; call ``on_batch`` (in this thread) with results.

    ``concurrency`` is a number, or ``"auto"`` for AIMD between 1 and ``max_concurrency``.
    ``on_batch`` is called with up to ``batch_size`` results at least every ``flush_interval``
    seconds while results arrive. ``should_stop`` (e.g. a database query: was the run paused from
    the web?) is called at most once per ``stop_check_interval`` seconds; once it says yes the
    requests in flight are abandoned. ``on_ramped`` is called (in the event loop's thread; it must not block)
    once the first requests are out, after the ramp: work the caller does in another thread meanwhile
    (``run_execute`` prepares the scoring) then waits for it, rather than delaying the first requests. Raises :class:`RunAborted` when a permanent error, exhausted
    retries or ``should_stop`` ended the run early; every result received before is passed to
    ``on_batch`` first.
    """
    adaptive = concurrency == AUTO
    if not adaptive and (not isinstance(concurrency, int) or concurrency < 1):
        raise ValueError(f"concurrency must be at least 1 or {AUTO!r}, got {concurrency!r}")
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
    policy = policy or RetryPolicy()
    stats = RunnerStats()
    started = time.perf_counter()
    if not requests:
        return stats
    out = _Outbox()
    stop = threading.Event()

    def loop() -> None:
        async def main() -> None:  # the limit's asyncio.Condition belongs to this thread's event loop
            limit = ConcurrencyLimit(initial=AUTO_INITIAL if adaptive else concurrency,
                                     maximum=max_concurrency if adaptive else concurrency, adaptive=adaptive)
            await _run_async(provider, requests, limit=limit, policy=policy, out=out, stop=stop, stats=stats,
                             on_ramped=on_ramped)

        asyncio.run(main())

    thread = threading.Thread(target=loop, name="benchmark-runner", daemon=True)
    thread.start()
    last_flush = last_stop_check = time.monotonic()
    wait = min(flush_interval, stop_check_interval)
    stopped_by_caller = False
    try:
        while True:
            finished = out.finished.wait(timeout=wait)  # set only after the last result was appended
            now = time.monotonic()
            if out.results and (finished or len(out.results) >= batch_size or now - last_flush >= flush_interval):
                waiting = len(out.results)  # what arrived until now; later results wait for the next round
                for start in range(0, waiting, batch_size):
                    on_batch([out.results.popleft() for _ in range(min(batch_size, waiting - start))])
                last_flush = now
            if finished:
                break
            if should_stop is not None and not stop.is_set() and now - last_stop_check >= stop_check_interval:
                last_stop_check = now
                if should_stop():
                    stopped_by_caller = True
                    stop.set()
    finally:
        stop.set()
        thread.join()
    stats.elapsed = time.perf_counter() - started
    if out.failure:
        failure = out.failure[0]
        stats.errors.append(str(failure))
        raise RunAborted(str(failure), failure)
    if stopped_by_caller:
        raise RunAborted("stopped on request")
    if stats.answered < len(requests):  # the event loop died without reporting why
        raise RunAborted(f"the runner stopped with {stats.answered} of {len(requests)} requests answered")
    return stats

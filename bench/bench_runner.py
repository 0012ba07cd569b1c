"""Benchmark runner throughput: 520 items × 6 prompts at concurrency 32 against a 200 ms server.

The local OpenAI-compatible test server (its own process, like a real API) answers after 200 ms
and rate-limits every 50th request with 429 + Retry-After: 1. The latency floor is
requests × latency / concurrency (3,120 × 0.2 s / 32 = 19.5 s); the goal is elapsed / floor ≤ 1.5.
The run goes through the real pipeline (prompts, cache lookup, async runner, parser, database
writes, scoring) on a throw-away test database with an empty completion cache.
Run alone: ``python -m bench runner``.
"""

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

N_ITEMS = 520
CONCURRENCY = 32
LATENCY = 0.2
RATE_LIMIT_EVERY = 50
GOAL = 1.5
ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    server = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "benchmark.providers.testserver", "--port", "0", "--latency", str(LATENCY),
         "--rate-limit-every", str(RATE_LIMIT_EVERY), "--retry-after", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = server.stdout.readline().split()[2]
        _measure(base_url)
    finally:
        server.terminate()
        server.wait(timeout=10)
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def _measure(base_url: str) -> None:
    from benchmark.models import PROMPT_COUNT, Run
    from benchmark.services import itembank_import, run_create, run_execute
    from benchmark.synthetic import synthetic_items, write_itembank

    with tempfile.TemporaryDirectory() as tmp:
        path = write_itembank(Path(tmp) / "bank.jsonl", synthetic_items(N_ITEMS, seed=1))
        bank = itembank_import(path=path, name="bench-runner")
    run = run_create(bank=bank, provider="openai", model="bench-model", base_url=base_url,
                     settings={"concurrency": CONCURRENCY})
    started = time.perf_counter()
    report = run_execute(run.pk)
    elapsed = time.perf_counter() - started
    stats_url = base_url.removesuffix("/v1") + "/stats"
    with urllib.request.urlopen(stats_url, timeout=10) as response:  # noqa: S310 - 127.0.0.1 test server
        counts = json.load(response)
    run.refresh_from_db()
    requests = N_ITEMS * PROMPT_COUNT
    floor = requests * LATENCY / CONCURRENCY
    ratio = elapsed / floor
    complete = run.status == Run.Status.COMPLETED and run.answered == requests
    print(f"{N_ITEMS} items × {PROMPT_COUNT} prompts = {requests} answers at concurrency {CONCURRENCY}, "
          f"server latency {LATENCY * 1000:.0f} ms, 429 + Retry-After: 1 every {RATE_LIMIT_EVERY}th request")
    print(f"server saw {counts.get('requests', 0)} requests ({counts.get('429', 0)} rate-limited); "
          f"runner sent {report.sent} with {report.retries} retries; answers recorded {run.answered}/{requests}, "
          f"parsed {run.parsed}; status {run.status}")
    print(f"elapsed {elapsed:.2f} s, latency floor {floor:.2f} s -> ratio {ratio:.2f} (goal <= {GOAL}) "
          f"{'OK' if ratio <= GOAL and complete else 'MISSED'}")

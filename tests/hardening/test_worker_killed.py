"""A Celery pool process killed mid-task: the task is re-delivered and the run completes exactly once.

Production shape: a real ``celery worker`` (prefork, one pool process) on Redis and the PostgreSQL test
database, a benchmark run against the local LLM test server. ``make drills`` also kills the whole worker.
"""

import os
import signal
import subprocess
import time

import pytest
import redis
from django.db.models import Count

from benchmark.models import Answer, Run, Score
from benchmark.services import run_create
from benchmark.tasks import run_benchmark_task
from tests.celery_workers import celery_workers, redis_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def prefork_worker(transactional_db):
    broker = redis_database(13)  # this package's Redis database
    redis.Redis.from_url(broker).flushdb()
    with celery_workers(broker=broker, pool="prefork", name="hardening") as (worker,):
        yield worker


def _pool_pids(worker) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in out.split()]


def _wait(run, predicate, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while not predicate(run):
        assert time.monotonic() < deadline, f"{what}: run {run.status} at {run.progress_done}/{run.progress_total}"
        time.sleep(0.2)
        run.refresh_from_db()


def test_a_run_whose_pool_process_is_killed_is_redelivered_and_completes_once(prefork_worker, bank, llm_server):
    server = llm_server(latency=0.03)
    run = run_create(bank=bank, provider="openai", model="m", base_url=server.base_url, settings={"concurrency": 1})
    run_benchmark_task.delay(run.pk)
    _wait(run, lambda r: r.progress_done >= 6, "first answers")
    assert run.progress_done < run.progress_total, "the run finished before the kill: nothing was tested"
    pool = _pool_pids(prefork_worker)
    assert pool
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # let requests already on the wire reach the server
    asked_before, stored_before = server.counts["answered"], Answer.objects.filter(run=run).count()

    _wait(run, lambda r: r.status == Run.Status.COMPLETED, "completion after the kill")
    assert Answer.objects.filter(run=run).count() == run.progress_total
    duplicated = Answer.objects.filter(run=run).values("item_id", "prompt_index").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicated.exists()
    per_dimension = Score.objects.filter(run=run).values("family", "dimension").annotate(n=Count("id"))
    assert per_dimension and all(row["n"] == 1 for row in per_dimension)
    # The re-delivered task resumed: nothing stored before the kill was asked again.
    assert server.counts["answered"] - asked_before <= run.progress_total - stored_before

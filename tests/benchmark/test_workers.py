"""Production shape: a run split into chunks executed by two real Celery workers through Redis on PostgreSQL."""

import time

import pytest

from benchmark.models import Run
from benchmark.services import run_create
from benchmark.tasks import run_benchmark_task
from tests.celery_workers import celery_workers, redis_database

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def two_workers(transactional_db):
    with celery_workers(broker=redis_database(11), count=2, env={"BENCHMARK_CHUNK_ITEMS": "2"}, name="bench") as workers:
        yield workers


def test_two_workers_share_a_runs_chunks_and_the_run_completes(two_workers, bank, llm_server):
    from django_celery_results.models import TaskResult

    server = llm_server(latency=0.05)
    run = run_create(bank=bank, provider="openai", model="m", base_url=server.base_url, settings={"concurrency": 2})
    run_benchmark_task.delay(run.pk)
    deadline = time.monotonic() + 120
    while True:
        run.refresh_from_db()
        if run.status in (Run.Status.COMPLETED, Run.Status.FAILED):
            break
        assert time.monotonic() < deadline, f"run stuck at {run.progress_done}/{run.progress_total} ({run.status})"
        time.sleep(0.3)
    assert run.status == Run.Status.COMPLETED, run.error
    assert run.answers.count() == 72 and run.scores.exists()
    assert server.counts["answered"] == 72  # no item was requested twice
    chunk_workers = set(
        TaskResult.objects.filter(task_name="benchmark.tasks.run_benchmark_chunk_task").values_list("worker", flat=True)
    )
    assert len(chunk_workers) == 2

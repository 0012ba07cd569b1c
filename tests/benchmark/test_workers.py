"""Production shape: a run split into chunks executed by two real Celery workers through Redis on PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from benchmark.models import Run
from benchmark.services import run_create
from benchmark.tasks import run_benchmark_task
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def two_workers(transactional_db):
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    # A Redis database of its own, so workers started by other tests never take these tasks.
    broker = urlsplit(os.environ["REDIS_URL"])._replace(path="/11").geturl()
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker, "DJANGO_DEBUG": "1",
           "BENCHMARK_CHUNK_ITEMS": "2"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--queues", "celery", "--hostname", f"bench{index}@%h"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for index in range(2)
    ]
    previous = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield workers
    finally:
        app.conf.task_always_eager, app.conf.broker_url = previous
        app._pool = None
        app.amqp._producer_pool = None
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


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

"""A run whose worker died is detected by its heartbeat, shown as interrupted, and resumed.

Real processes killed with SIGKILL: a ``run_benchmark`` process (on a throw-away SQLite file, or on the
PostgreSQL test database when the tests run on PostgreSQL), and a Celery worker (PostgreSQL + Redis).
Nothing waits for the stale threshold: the process is dead, so its last heartbeat is in the past and
``benchmark_reap --stale-after 0`` must find it, while a live process would have written a new one.
"""

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from benchmark.models import Answer, Run
from benchmark.services import run_create, run_resume, runs_interrupt_stale
from benchmark.tasks import run_benchmark_task
from tests.benchmark.processes import TIMEOUT, kill_when, manage, start, subprocess_env, wait_until_idle
from tests.celery_workers import celery_workers, redis_database


@pytest.fixture
def shared_database(request, tmp_path):
    """(DATABASE_URL for a subprocess, a function running one SQL query on that database)."""
    if settings.DATABASE_IS_POSTGRES:
        request.getfixturevalue("transactional_db")  # the subprocess must see committed rows, and we its rows
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

        def query(sql: str) -> list[tuple]:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()

        return url, query
    path = tmp_path / "dead.sqlite3"

    def query(sql: str) -> list[tuple]:
        with sqlite3.connect(path, timeout=10) as sqlite:
            return sqlite.execute(sql).fetchall()

    return f"sqlite:///{path}", query


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_run_benchmark_process_is_reaped_as_interrupted_and_resumes(shared_database, bank_file, llm_server):
    url, query = shared_database
    env = subprocess_env(url, BENCHMARK_HEARTBEAT_SECONDS="0")
    if not settings.DATABASE_IS_POSTGRES:
        migrated = manage(env, "migrate", "benchmark", "--skip-checks", "--verbosity", "0")
        assert migrated.returncode == 0, migrated.stderr

    server = llm_server(latency=0.05)
    process = start(env, "run_benchmark", "--items", str(bank_file), "--provider", "openai",
                    "--base-url", server.base_url, "--model", "dead-model", "--concurrency", "2", "--skip-checks",
                    "--verbosity", "0")
    kill_when(process, lambda: query("SELECT COUNT(*) FROM benchmark_answer")[0][0] >= 12,
              waiting_for="12 answers were stored")

    stored = query("SELECT COUNT(*) FROM benchmark_answer")[0][0]
    assert 12 <= stored < 72
    ((run_id, status, heartbeat),) = query("SELECT id, status, heartbeat_at FROM benchmark_run")
    assert status == "running" and heartbeat is not None  # the dead process cannot say it died

    # The default threshold (300 s) has not passed: a reaper cannot tell a dead process from a slow one yet.
    assert manage(env, "benchmark_reap", "--skip-checks").stdout == ""
    reaped = manage(env, "benchmark_reap", "--stale-after", "0", "--skip-checks")
    assert reaped.returncode == 0, reaped.stderr
    ((bank_name,),) = query("SELECT name FROM benchmark_itembank")
    assert reaped.stdout == (f"run {run_id} (dead-model on {bank_name}) interrupted; resume with: "
                             f"manage.py run_benchmark --resume {run_id}\n")
    ((status, error),) = query("SELECT status, error FROM benchmark_run")
    assert status == "interrupted" and error.startswith("interrupted: no heartbeat from the process running it")

    wait_until_idle(server)
    server.behaviour.latency = 0
    server.counts.clear()
    resumed = manage(env, "run_benchmark", "--resume", str(run_id), "--skip-checks", "--verbosity", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert server.counts["requests"] == 72 - stored
    ((status, answered, error),) = query("SELECT status, answered, error FROM benchmark_run")
    assert (status, answered, error) == ("completed", 72, "")


@pytest.fixture
def broker(transactional_db):
    url = redis_database(14)  # this file's Redis database
    redis.Redis.from_url(url).flushdb()
    return url


def _wait(run, predicate, what: str):
    deadline = time.monotonic() + TIMEOUT
    run.refresh_from_db()
    while not predicate(run):
        assert time.monotonic() < deadline, f"{what}: run {run.status} at {run.progress_done}/{run.progress_total}"
        time.sleep(0.2)
        run.refresh_from_db()


def _is_dead(pid: int) -> bool:
    """The killed worker is a zombie until reaped (celery_workers reaps it when it stops the workers)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.mark.postgres
@pytest.mark.redis
def test_a_run_whose_celery_worker_was_killed_is_interrupted_then_resumed_on_another_worker(broker, bank, llm_server):
    server = llm_server(latency=0.05)
    run = run_create(bank=bank, provider="openai", model="m", base_url=server.base_url, settings={"concurrency": 1})
    with celery_workers(broker=broker, name="doomed") as (worker,):
        run_benchmark_task.delay(run.pk)
        _wait(run, lambda r: r.progress_done >= 6, "first answers")
        os.kill(worker.pid, signal.SIGKILL)  # the solo pool runs the chunk in the worker process itself
        deadline = time.monotonic() + TIMEOUT
        while not _is_dead(worker.pid):
            assert time.monotonic() < deadline, "the worker did not die"
            time.sleep(0.05)
    stored = Answer.objects.filter(run=run).count()
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and stored < run.progress_total

    assert runs_interrupt_stale() == []  # within the default threshold
    assert runs_interrupt_stale(stale_after=0) == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.INTERRUPTED

    wait_until_idle(server)  # the killed worker's last request is still answered, and counted
    server.counts.clear()
    with celery_workers(broker=broker, name="rescuer"):
        run_resume(run=run)  # no surrounding transaction: enqueued at once
        _wait(run, lambda r: r.status in (Run.Status.COMPLETED, Run.Status.FAILED), "completion after the resume")
    assert run.status == Run.Status.COMPLETED, run.error
    assert Answer.objects.filter(run=run).count() == run.progress_total
    assert server.counts["answered"] == run.progress_total - stored

"""A run_benchmark process killed with SIGKILL mid-run resumes where it stopped.

Real processes on a throw-away SQLite file (the in-memory test database cannot be shared with a
subprocess) against the local OpenAI-compatible server: what was stored before the kill survives it,
and ``--resume`` sends exactly the requests whose answers were not stored.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def _manage(env, *args, **kwargs):
    return subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
        **kwargs,
    )


def _stored_answers(database: Path) -> int:
    with sqlite3.connect(database, timeout=10) as connection:
        return connection.execute("SELECT COUNT(*) FROM benchmark_answer").fetchone()[0]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_killed_mid_way_resumes_sending_only_what_was_not_stored(tmp_path, bank_file, llm_server):
    database = tmp_path / "killed.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DJANGO_DEBUG": "1",
           "DATABASE_URL": f"sqlite:///{database}", "CELERY_BROKER_URL": "",
           "BENCHMARK_ENDPOINT_HOSTS": "127.0.0.1"}
    migrated = _manage(env, "migrate", "benchmark", "--skip-checks", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr

    server = llm_server(latency=0.05)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "run_benchmark", "--items", str(bank_file), "--provider", "openai",
         "--base-url", server.base_url, "--model", "killed-model", "--concurrency", "2", "--skip-checks", "--verbosity", "0"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while _stored_answers(database) < 12:
            assert process.poll() is None, "the run finished before it could be killed"
            assert time.monotonic() < deadline, "no answers stored in time"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=TIMEOUT)

    stored = _stored_answers(database)
    assert 12 <= stored < 72
    with sqlite3.connect(database) as connection:
        run_id, status = connection.execute("SELECT id, status FROM benchmark_run").fetchone()
    assert status == "running"  # a killed process leaves no trace but its stored answers

    server.behaviour.latency = 0
    server.counts.clear()
    resumed = _manage(env, "run_benchmark", "--resume", str(run_id), "--skip-checks", "--verbosity", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert server.counts["requests"] == 72 - stored
    with sqlite3.connect(database) as connection:
        status, answered = connection.execute("SELECT status, answered FROM benchmark_run").fetchone()
    assert status == "completed" and answered == 72


"""A run_benchmark process killed with SIGKILL mid-run resumes where it stopped.

Real processes on a throw-away SQLite file (the in-memory test database cannot be shared with a
subprocess) against the local OpenAI-compatible server: what was stored before the kill survives it,
and ``--resume`` sends exactly the requests whose answers were not stored.
"""

import signal
import sqlite3
from pathlib import Path

import pytest

from tests.benchmark.processes import kill_when, manage, start, subprocess_env, wait_until_idle


def _stored_answers(database: Path) -> int:
    with sqlite3.connect(database, timeout=10) as connection:
        return connection.execute("SELECT COUNT(*) FROM benchmark_answer").fetchone()[0]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_killed_mid_way_resumes_sending_only_what_was_not_stored(tmp_path, bank_file, llm_server):
    database = tmp_path / "killed.sqlite3"
    env = subprocess_env(f"sqlite:///{database}")
    migrated = manage(env, "migrate", "benchmark", "--skip-checks", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr

    server = llm_server(latency=0.05)
    process = start(env, "run_benchmark", "--items", str(bank_file), "--provider", "openai",
                    "--base-url", server.base_url, "--model", "killed-model", "--concurrency", "2", "--skip-checks",
                    "--verbosity", "0")
    kill_when(process, lambda: _stored_answers(database) >= 12, waiting_for="12 answers were stored")

    stored = _stored_answers(database)
    assert 12 <= stored < 72
    with sqlite3.connect(database) as connection:
        run_id, status = connection.execute("SELECT id, status FROM benchmark_run").fetchone()
    assert status == "running"  # a killed process leaves no trace but its stored answers

    wait_until_idle(server)
    server.behaviour.latency = 0
    server.counts.clear()
    resumed = manage(env, "run_benchmark", "--resume", str(run_id), "--skip-checks", "--verbosity", "0")
    assert resumed.returncode == 0, resumed.stderr
    assert server.counts["requests"] == 72 - stored
    with sqlite3.connect(database) as connection:
        status, answered = connection.execute("SELECT status, answered FROM benchmark_run").fetchone()
    assert status == "completed" and answered == 72


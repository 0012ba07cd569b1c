"""Real ``manage.py`` processes for the tests that kill one mid-run (test_killed_run, test_dead_worker, test_batch)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def subprocess_env(database_url: str, **extra: str) -> dict:
    """The environment of a test's ``manage.py`` process: the given database, no broker, the local servers allowed."""
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DJANGO_DEBUG": "1",
            "DATABASE_URL": database_url, "CELERY_BROKER_URL": "", "BENCHMARK_ENDPOINT_HOSTS": "127.0.0.1", **extra}


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    """Run ``manage.py ARGS`` to the end, output captured."""
    return subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )


def start(env: dict, *args: str) -> subprocess.Popen:
    """Start ``manage.py ARGS`` in the background, output discarded."""
    return subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], *, waiting_for: str) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` holds; fail if it ends first or ``ready`` takes over TIMEOUT."""
    try:
        deadline = time.monotonic() + TIMEOUT
        while not ready():
            assert process.poll() is None, f"the process ended before {waiting_for}"
            assert time.monotonic() < deadline, f"no {waiting_for} in time"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=TIMEOUT)


def wait_until_idle(server, timeout: float = TIMEOUT) -> None:
    """Wait until the test server answers no request: a killed client's last request is still answered (and
    counted) into its dead socket, and must not be counted as one of the next client's."""
    deadline = time.monotonic() + timeout
    while server.requests_in_flight:
        if time.monotonic() > deadline:
            raise AssertionError(f"the test server still answers {server.requests_in_flight} request(s)")
        time.sleep(0.01)

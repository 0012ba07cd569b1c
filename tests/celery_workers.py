"""Real `celery worker` processes on the PostgreSQL test database, for production-shape tests.

Each caller passes a Redis database of its own, so workers started by other tests never take its tasks.
While the workers run, this process sends tasks through Redis instead of running them eagerly.
"""

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from django.db import connection

from config.celery import app

ROOT = Path(__file__).resolve().parents[1]


def redis_database(number: int) -> str:
    """The REDIS_URL of the test run, pointed at Redis database ``number``."""
    return urlsplit(os.environ["REDIS_URL"])._replace(path=f"/{number}").geturl()


def _reset_broker_connections():
    """Make the app open new broker connections with the current broker_url."""
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_workers(*, broker: str, count: int = 1, pool: str = "solo", env: dict | None = None, name: str = "test"):
    """Start ``count`` workers on ``broker`` and the test database; yield their processes; stop them."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    worker_env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker, "DJANGO_DEBUG": "1",
                  "BENCHMARK_ENDPOINT_HOSTS": "127.0.0.1,localhost",
                  **(env or {})}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", pool, "--concurrency", "1",
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--queues", "celery",
             "--hostname", f"{name}{index}@%h"],
            cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        for index in range(count)
    ]
    previous = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    _reset_broker_connections()
    try:
        yield workers
    finally:
        app.conf.task_always_eager, app.conf.broker_url = previous
        _reset_broker_connections()
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()

"""Production shape: a task queued through Redis runs on a real worker and writes to PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app
from surveys.models import Participant
from surveys.tasks import expire_reservations
from tests.factories import ParticipantFactory

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _reset_broker_connections():
    """Make the app open new broker connections with the current broker_url."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real `celery worker` process on the test database, stopped after the test."""
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    broker = os.environ["REDIS_URL"]
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker, "DJANGO_DEBUG": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--queues", "celery"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    previous = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    _reset_broker_connections()
    try:
        yield worker
    finally:
        app.conf.task_always_eager, app.conf.broker_url = previous
        _reset_broker_connections()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_a_task_queued_through_redis_is_executed_by_a_worker_and_lands_in_postgres(celery_worker_process):
    expired = ParticipantFactory(expires_at=timezone.now() - timedelta(minutes=5))
    ParticipantFactory(expires_at=timezone.now() + timedelta(minutes=30))

    result = expire_reservations.delay()
    assert result.get(timeout=90) == 1

    expired.refresh_from_db()
    assert expired.status == Participant.Status.EXPIRED
    deadline = time.monotonic() + 10
    from django_celery_results.models import TaskResult

    while not TaskResult.objects.filter(task_id=result.id, status="SUCCESS").exists():
        assert time.monotonic() < deadline, "the worker's result never reached the database"
        time.sleep(0.2)

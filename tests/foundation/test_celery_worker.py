"""Production shape: a task queued through Redis runs on a real worker and writes to PostgreSQL."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import Participant
from surveys.tasks import expire_reservations
from tests.celery_workers import celery_workers, redis_database
from tests.factories import ParticipantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def celery_worker_process(transactional_db):
    with celery_workers(broker=redis_database(15), name="foundation") as (worker,):
        yield worker


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

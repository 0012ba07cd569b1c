"""A task's state and result read the same way in eager mode and on a worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.tasks import task_status
from surveys.models import Participant
from surveys.tasks import expire_reservations
from tests.factories import ParticipantFactory


@pytest.mark.django_db
def test_an_eager_task_result_is_readable_through_the_result_backend():
    ParticipantFactory(expires_at=timezone.now() - timedelta(minutes=1))
    ParticipantFactory(expires_at=timezone.now() + timedelta(minutes=30))

    result = expire_reservations.delay()

    status = task_status(result.id)
    assert status["state"] == "SUCCESS"
    assert status["result"] == 1
    assert Participant.objects.filter(status=Participant.Status.EXPIRED).count() == 1

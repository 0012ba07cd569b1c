import pytest
from django.utils import timezone

from prolific.services import prolific_settings_update
from prolific.testserver import FakeProlific
from surveys.models import AttentionCheckResponse, Participant
from tests.factories import ParticipantFactory, StudyFactory

TOKEN = "tok-0123456789abcdefWXYZ"
PROLIFIC_STUDY = "60f6acb180a7b59ac0621f9e"


@pytest.fixture
def fake(settings):
    """A fake Prolific on 127.0.0.1 with short retry waits, and the platform pointed at it."""
    with FakeProlific(token=TOKEN, page_size=3) as server:
        server.add_study(PROLIFIC_STUDY, name="Value Portrait wave 1")
        settings.PROLIFIC_API_BASE_URL = server.url
        settings.PROLIFIC_RETRY_BASE_SECONDS = 0.001
        settings.PROLIFIC_RETRY_MAX_SECONDS = 0.01
        settings.PROLIFIC_MAX_ATTEMPTS = 4
        yield server


@pytest.fixture
def study(db):
    study = StudyFactory(slug="wave1", prolific_study_id=PROLIFIC_STUDY)
    prolific_settings_update(study=study, token=TOKEN)
    return study


def participant_on_prolific(fake, study, *, status, prolific_status="AWAITING REVIEW", failed_checks=None, **kwargs):
    """A participant here with a matching submission on the fake Prolific; returns (participant, submission id).

    A completed or failed-checks participant answered every page (as the survey does, it finished them);
    ``failed_checks`` attention checks are recorded as failed (default: one more than the study allows
    for a failed-checks participant, none otherwise).
    """
    finished = status in (Participant.Status.COMPLETED, Participant.Status.FAILED_CHECKS)
    if finished:
        kwargs.setdefault("completed_at", timezone.now())
    participant = ParticipantFactory(study=study, status=status, **kwargs)
    if failed_checks is None:
        failed_checks = study.max_failed_checks + 1 if status == Participant.Status.FAILED_CHECKS else 0
    AttentionCheckResponse.objects.bulk_create(
        AttentionCheckResponse(
            participant=participant, check_key=f"check-{i}", step=i + 1, expected=3, answer=1, passed=False,
            answered_at=timezone.now(),
        )  # fmt: skip
        for i in range(failed_checks)
    )
    submission_id = fake.add_submission(PROLIFIC_STUDY, participant.prolific_pid, status=prolific_status)
    participant.prolific_session_id = submission_id
    participant.save(update_fields=["prolific_session_id"])
    return participant, submission_id

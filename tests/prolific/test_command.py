"""manage.py prolific <slug> configure|check|reconcile|review [--send] [--dry-run]."""

import io

import pytest
from django.core.management import CommandError, call_command

from prolific.models import ReviewAction
from prolific.services import study_token
from surveys.models import Participant
from tests.prolific.conftest import participant_on_prolific

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("prolific", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_configure_reads_the_token_from_stdin_and_never_prints_it(monkeypatch, study):
    monkeypatch.setattr("sys.stdin", io.StringIO("piped-token-value-5555\n"))
    output = run("wave1", "configure", "--token-stdin", "--prolific-study-id", "pstudy")
    assert "piped-token-value-5555" not in output and "…5555" in output
    assert study_token(study=study) == "piped-token-value-5555"


def test_reconcile_then_review_then_send(fake, study):
    passed, sid = participant_on_prolific(fake, study, status=Participant.Status.COMPLETED)
    failed, _ = participant_on_prolific(fake, study, status=Participant.Status.FAILED_CHECKS)

    assert "Fetched 2 submissions" in run("wave1", "reconcile")
    preview = run("wave1", "review")
    assert passed.pseudonym in preview and "approve" in preview and "FAILED_CHECK" in preview
    assert f'"submission_ids": ["<{passed.pseudonym}>"]' in preview  # ids printed as pseudonyms
    assert sid not in preview and passed.prolific_pid not in preview
    assert fake.requests_to("POST", "submissions") == []

    sent = run("wave1", "review", "--send")
    assert "Sent: 1 approve, 1 reject" in sent
    assert fake.status_of(sid) == "APPROVED"
    assert ReviewAction.objects.filter(state=ReviewAction.State.CONFIRMED).count() == 2
    assert "Nothing to send." in run("wave1", "review", "--send")


def test_reconcile_dry_run_changes_nothing(fake, study):
    participant, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="RETURNED")
    assert "Dry run, nothing changed." in run("wave1", "reconcile", "--dry-run")
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE


def test_contradictory_or_unknown_arguments_are_refused(study):
    with pytest.raises(CommandError, match="contradict"):
        run("wave1", "review", "--send", "--dry-run")
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        run("nope", "check")
    with pytest.raises(CommandError, match="only applies to the review step"):
        run("wave1", "reconcile", "--send")


def test_a_missing_environment_token_is_a_clear_command_error(study, settings):
    settings.PROLIFIC_TOKEN_ENV_VARS = {"PROLIFIC_TOKEN_NOT_SET_ANYWHERE": "*"}
    run("wave1", "configure", "--token-env", "PROLIFIC_TOKEN_NOT_SET_ANYWHERE")
    with pytest.raises(CommandError, match="PROLIFIC_TOKEN_NOT_SET_ANYWHERE"):
        run("wave1", "check")

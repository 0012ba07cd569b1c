"""Per-study rules and the admin's audit trail of manual decisions."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from psychometrics.models import Analysis, ParticipantOverride, StudyAnalysisSettings
from psychometrics.stats.filtering import TOO_FAST
from surveys.models import Participant

pytestmark = pytest.mark.django_db


def test_a_studys_own_rules_are_used_and_recorded(completed_study):
    StudyAnalysisSettings.objects.create(
        study=completed_study, min_completion_seconds=None, min_median_fraction=None, max_failed_checks=5,
        threshold=0.4, alpha=0.01,
    )
    call_command("analyze", "values", stdout=StringIO(), stderr=StringIO())
    analysis = Analysis.objects.get()
    assert analysis.rules["min_completion_seconds"] is None and analysis.rules["max_failed_checks"] == 5
    assert (analysis.threshold, analysis.alpha) == (0.4, 0.01)
    reasons = analysis.summary["participants"]["excluded_by_reason"]
    assert TOO_FAST not in reasons and "failed_attention_checks" not in reasons
    assert reasons["ended_by_failed_checks"] == 1  # the survey itself ended them: always excluded


def test_the_admin_adds_manual_decisions_through_the_service_and_never_edits_them(client, completed_study, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", password="pw")
    client.force_login(admin)
    participant = Participant.objects.filter(study=completed_study, status="completed").first()
    response = client.post(
        reverse("admin:psychometrics_participantoverride_add"),
        {"participant": participant.pk, "decision": "exclude", "note": "talked to them: random answers"},
    )
    assert response.status_code == 302
    override = ParticipantOverride.objects.get()
    assert override.created_by == admin and override.note == "talked to them: random answers"
    change_url = reverse("admin:psychometrics_participantoverride_change", args=[override.pk])
    client.post(change_url, {"participant": participant.pk, "decision": "include", "note": "edited"})
    override.refresh_from_db()
    assert override.decision == "exclude"
    delete = client.post(reverse("admin:psychometrics_participantoverride_delete", args=[override.pk]), {"post": "yes"})
    assert delete.status_code == 403 and ParticipantOverride.objects.exists()

"""The webhook endpoint: signature, de-duplication, out-of-order tolerance, freed places."""

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from prolific.models import ProlificSubmission, WebhookEvent
from prolific.services import prolific_settings_update, submissions_reconcile
from surveys.models import Participant
from tests.factories import StudyFactory
from tests.prolific.conftest import participant_on_prolific

pytestmark = pytest.mark.django_db
URL = "/prolific/webhook/"
SECRET = "whsec-study-secret"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """As Prolific documents it: base64(HMAC-SHA256(secret, timestamp + body))."""
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


def deliver(payload, *, event_id, event_ts=None, secret=SECRET, signed_at=None, signature=None):
    body = json.dumps(payload).encode()
    signed_at = signed_at or str(int(time.time()))
    headers = {
        "HTTP_X_PROLIFIC_REQUEST_SIGNATURE": signature or sign(secret, signed_at, body),
        "HTTP_X_PROLIFIC_REQUEST_TIMESTAMP": signed_at,
        "HTTP_X_EVENT_ID": event_id,
        "HTTP_X_TIMESTAMP": str(event_ts or time.time()),
    }
    return Client(enforce_csrf_checks=True).post(URL, body, content_type="application/json", **headers)


def status_change(submission_id, pid, status):
    return {"resource_id": submission_id, "event_type": "submission.status.change", "participant_id": pid, "status": status}


@pytest.fixture
def active(fake, study):
    prolific_settings_update(study=study, webhook_secret=SECRET)
    participant, sid = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="ACTIVE")
    return participant, sid


def test_a_signed_return_event_frees_the_place_at_once(active):
    participant, sid = active
    response = deliver(status_change(sid, participant.prolific_pid, "RETURNED"), event_id="ev1")
    assert response.status_code == 200
    assert response.json() == {"outcome": "applied", "duplicate": False, "place_freed": True}
    participant.refresh_from_db()
    assert participant.status == Participant.Status.RETURNED
    assert ProlificSubmission.objects.get(submission_id=sid).status == "RETURNED"


def test_the_workspace_secret_from_settings_is_accepted_too(settings, active):
    settings.PROLIFIC_WEBHOOK_SECRET = "workspace-secret"
    participant, sid = active
    response = deliver(status_change(sid, participant.prolific_pid, "TIMED-OUT"), event_id="ev1", secret="workspace-secret")
    assert response.status_code == 200
    participant.refresh_from_db()
    assert participant.status == Participant.Status.EXPIRED


def test_a_wrong_signature_is_refused_and_changes_nothing(active):
    participant, sid = active
    response = deliver(status_change(sid, participant.prolific_pid, "RETURNED"), event_id="ev1", secret="guess")
    assert response.status_code == 403
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE
    assert not WebhookEvent.objects.exists()


def test_missing_signature_headers_or_a_stale_timestamp_are_refused(active):
    participant, sid = active
    body = json.dumps(status_change(sid, participant.prolific_pid, "RETURNED"))
    assert Client().post(URL, body, content_type="application/json", HTTP_X_EVENT_ID="e").status_code == 401
    old = str(int(time.time()) - 3600)
    assert deliver(json.loads(body), event_id="ev1", signed_at=old).status_code == 401


def test_a_redelivered_event_is_applied_once(fake, study, active):
    participant, sid = active
    payload = status_change(sid, participant.prolific_pid, "RETURNED")
    assert deliver(payload, event_id="ev1").json()["duplicate"] is False
    again = deliver(payload, event_id="ev1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert WebhookEvent.objects.count() == 1


def test_an_older_event_arriving_late_does_not_move_the_status_back(active):
    participant, sid = active
    now = time.time()
    deliver(status_change(sid, participant.prolific_pid, "RETURNED"), event_id="late-sent-second", event_ts=now)
    stale = deliver(status_change(sid, participant.prolific_pid, "AWAITING REVIEW"), event_id="sent-first", event_ts=now - 60)
    assert stale.json()["outcome"] == "stale"
    assert ProlificSubmission.objects.get(submission_id=sid).status == "RETURNED"


def test_an_event_for_a_submission_not_yet_reconciled_is_matched_by_session_id(fake, study):
    prolific_settings_update(study=study, webhook_secret=SECRET)
    participant, sid = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="ACTIVE")
    assert not ProlificSubmission.objects.exists()
    assert deliver(status_change(sid, participant.prolific_pid, "RETURNED"), event_id="ev1").json()["place_freed"]


def test_an_event_for_nobody_here_is_recorded_as_unmatched(settings, db):
    settings.PROLIFIC_WEBHOOK_SECRET = SECRET
    response = deliver(status_change("unknown-sub", "unknown-pid", "APPROVED"), event_id="ev1")
    assert response.json()["outcome"] == "unmatched"


def test_reconcile_and_webhooks_agree(fake, study, active):
    participant, sid = active
    fake.set_status(sid, "RETURNED")
    submissions_reconcile(study=study)
    response = deliver(status_change(sid, participant.prolific_pid, "RETURNED"), event_id="ev1")
    assert response.json()["place_freed"] is False  # already freed by the reconcile


def test_a_signature_over_the_reserialised_body_is_accepted_as_in_prolifics_example(active):
    """Prolific's verification example signs ``json.dumps(body)``; the wire body may be compact."""
    participant, sid = active
    payload = status_change(sid, participant.prolific_pid, "RETURNED")
    signed_at = str(int(time.time()))
    compact = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "HTTP_X_PROLIFIC_REQUEST_SIGNATURE": sign(SECRET, signed_at, json.dumps(payload).encode()),
        "HTTP_X_PROLIFIC_REQUEST_TIMESTAMP": signed_at,
        "HTTP_X_EVENT_ID": "ev-compact",
        "HTTP_X_TIMESTAMP": signed_at,
    }
    response = Client().post(URL, compact, content_type="application/json", **headers)
    assert response.status_code == 200 and response.json()["place_freed"] is True
    tampered = json.dumps({**payload, "status": "APPROVED"}, separators=(",", ":")).encode()
    headers["HTTP_X_EVENT_ID"] = "ev-tampered"
    assert Client().post(URL, tampered, content_type="application/json", **headers).status_code == 403


def test_an_underscored_status_in_an_event_is_understood(active):
    participant, sid = active
    response = deliver(status_change(sid, participant.prolific_pid, "TIMED_OUT"), event_id="ev-underscore")
    assert response.json() == {"outcome": "applied", "duplicate": False, "place_freed": True}
    participant.refresh_from_db()
    assert participant.status == Participant.Status.EXPIRED


def test_timestamps_in_milliseconds_are_read_as_such(active):
    """Prolific documents 'a UNIX timestamp' without a unit: milliseconds must not look 50,000 years off."""
    participant, sid = active
    now_ms = str(int(time.time() * 1000))
    response = deliver(status_change(sid, participant.prolific_pid, "RETURNED"), event_id="ev-ms", signed_at=now_ms, event_ts=now_ms)
    assert response.status_code == 200
    event = WebhookEvent.objects.get(event_id="ev-ms")
    assert abs(event.event_at.timestamp() - int(now_ms) / 1000) < 1


# --- the signature is verified over the raw body before anything reads the body (issue 11) ---------

NESTED = b"[" * 100_000 + b"]" * 100_000


def _refuse_parsing(monkeypatch):
    """Make any JSON parsing fail the test (``json.loads`` itself: both modules use the json module)."""

    def parse(*args, **kwargs):
        raise AssertionError("the body was parsed before its signature was verified")

    monkeypatch.setattr("prolific.views.json.loads", parse)
    monkeypatch.setattr("prolific.webhooks.json.loads", parse)


def test_an_unsigned_or_malformed_signature_request_is_refused_without_a_query_or_parsing(
    active, monkeypatch, django_assert_num_queries
):
    _refuse_parsing(monkeypatch)
    now = str(int(time.time()))
    with django_assert_num_queries(0):
        unsigned = Client().post(URL, NESTED, content_type="application/json", HTTP_X_EVENT_ID="e")
        malformed = Client().post(URL, NESTED, content_type="application/json", HTTP_X_EVENT_ID="e",
                                  HTTP_X_PROLIFIC_REQUEST_SIGNATURE="not-a-signature", HTTP_X_PROLIFIC_REQUEST_TIMESTAMP=now)
    assert unsigned.status_code == 401 and malformed.status_code == 403


def test_a_huge_nested_body_with_a_wrong_signature_is_refused_unparsed_reading_only_the_secrets(
    active, monkeypatch, django_assert_num_queries
):
    _refuse_parsing(monkeypatch)
    monkeypatch.setattr("prolific.views.webhook_match", lambda **kwargs: pytest.fail("matched before verifying"))
    signed_at = str(int(time.time()))
    headers = {"HTTP_X_PROLIFIC_REQUEST_SIGNATURE": sign("guess", signed_at, NESTED),
               "HTTP_X_PROLIFIC_REQUEST_TIMESTAMP": signed_at, "HTTP_X_EVENT_ID": "ev-nested"}
    with django_assert_num_queries(1):  # the stored webhook secrets, nothing chosen by the body
        response = Client().post(URL, NESTED, content_type="application/json", **headers)
    monkeypatch.undo()
    assert response.status_code == 403 and response.json() == {"error": "Signature does not match."}


def test_a_signed_but_deeply_nested_body_is_a_400_not_a_500(settings, active):
    settings.DEBUG = False
    signed_at = str(int(time.time()))
    headers = {"HTTP_X_PROLIFIC_REQUEST_SIGNATURE": sign(SECRET, signed_at, NESTED),
               "HTTP_X_PROLIFIC_REQUEST_TIMESTAMP": signed_at, "HTTP_X_EVENT_ID": "ev-nested"}
    response = Client(raise_request_exception=False).post(URL, NESTED, content_type="application/json", **headers)
    assert response.status_code == 400 and response.json() == {"error": "Body is JSON nested too deeply."}
    assert not WebhookEvent.objects.exists()


def test_another_studys_secret_cannot_sign_events_about_this_study(fake, study, active):
    other = StudyFactory(slug="other-study")
    prolific_settings_update(study=other, webhook_secret="whsec-other-study")
    participant, sid = active
    response = deliver(status_change(sid, participant.prolific_pid, "RETURNED"), event_id="ev1", secret="whsec-other-study")
    assert response.status_code == 403
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE and not WebhookEvent.objects.exists()

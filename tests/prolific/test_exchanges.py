"""Recorded exchanges (tests/prolific/data/exchanges): Prolific's documented answers go through the client's parsing,
and the requests the client builds match the documented requests.

A small replay server on 127.0.0.1 answers each recorded request with its recorded status, headers and body and
keeps what it received, so the method, path, query, headers and JSON body the client sends are checked as sent.
Webhook signatures are computed here independently, the way Prolific's "Verifying" page does it.
"""

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from prolific.client import ProlificClient, ProlificRejected
from prolific.models import ProlificSubmission, WebhookEvent
from prolific.services import _state_from_response, submissions_reconcile
from prolific.webhooks import request_signer
from surveys.models import Participant
from tests.factories import ParticipantFactory, StudyFactory

pytestmark = pytest.mark.django_db

EXCHANGES = Path(__file__).parent / "data" / "exchanges"
TOKEN = "tok-0123456789abcdefWXYZ"


def load(name: str) -> dict:
    return json.loads((EXCHANGES / name).read_text())


def exchanges_of(recorded: dict) -> list[dict]:
    return recorded.get("exchanges") or [recorded]


class Replay:
    """Answers each recorded request (matched by method, path and query) with its recorded answer."""

    def __init__(self, recorded: dict):
        self.exchanges = exchanges_of(recorded)
        self.received: list[dict] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                got = {
                    "method": self.command, "path": url.path, "query": parse_qs(url.query),
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(raw) if raw else None,
                }  # fmt: skip
                replay.received.append(got)
                for exchange in replay.exchanges:
                    want = exchange["request"]
                    wanted = (want["method"], want["path"], want.get("query", {}))
                    if wanted == (got["method"], got["path"], got["query"]):
                        body = json.dumps(exchange["response"]).encode()
                        self.send_response(exchange["status"])
                        self.send_header("Content-Type", "application/json")
                        for name, value in exchange.get("response_headers", {}).items():
                            self.send_header(name, value)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                self.send_response(418)  # not a recorded request: the test fails on the client's error
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def replaying(name: str):
    recorded = load(name)
    return recorded, Replay(recorded)


def client_for(replay: Replay) -> ProlificClient:
    return ProlificClient(token=TOKEN, base_url=replay.url, max_attempts=1, sleep=lambda s: None)


def assert_sent_as_documented(replay: Replay, recorded: dict) -> None:
    """Every recorded request was sent, in order, exactly as documented, with the token header."""
    wanted = [e["request"] for e in exchanges_of(recorded)]
    assert [(r["method"], r["path"], r["query"]) for r in replay.received] == [
        (w["method"], w["path"], w.get("query", {})) for w in wanted
    ]
    for got, want in zip(replay.received, wanted, strict=True):
        assert got["body"] == want["body"]
        assert got["headers"]["authorization"] == f"Token {TOKEN}"
        if want["body"] is not None:
            assert got["headers"]["content-type"] == "application/json"


# -- studies and submissions ------------------------------------------------------------------------------
def test_study_get_reads_the_documented_study():
    recorded, replay = replaying("study_get.json")
    with replay, client_for(replay) as client:
        detail = client.study_get("60d9aadeb86739de712faee0")
    assert_sent_as_documented(replay, recorded)
    assert detail == recorded["response"]
    # what the platform's "check token and study" shows
    assert (detail["name"], detail["status"]) == ("Study about API's", "UNPUBLISHED")


def test_submissions_list_takes_the_documented_answer_without_links_as_the_only_page():
    recorded, replay = replaying("submissions_list.json")
    with replay, client_for(replay) as client:
        rows = client.submissions_list("60d9aadeb86739de712faee0")
    assert_sent_as_documented(replay, recorded)
    assert rows == recorded["response"]["results"]


def test_submissions_list_follows_absolute_next_links_on_its_own_base_url():
    recorded, replay = replaying("submissions_list_paginated.json")
    with replay, client_for(replay) as client:
        rows = client.submissions_list("60d9aadeb86739de712faee0")
    # the second request went to the replay server (our base URL), not to the link's api.prolific.com
    assert_sent_as_documented(replay, recorded)
    assert [r["id"] for r in rows] == ["60d9aadeb86739de712faee0", "60d9aadeb86739de712faee1"]


def test_reconcile_records_the_documented_submission_rows():
    recorded, replay = replaying("submissions_list_paginated.json")
    study = StudyFactory(slug="docs", prolific_study_id="60d9aadeb86739de712faee0")
    with replay, client_for(replay) as client:
        submissions_reconcile(study=study, client=client)
    subs = {s.submission_id: s for s in ProlificSubmission.objects.filter(study=study)}
    assert set(subs) == {"60d9aadeb86739de712faee0", "60d9aadeb86739de712faee1"}
    active, done = subs["60d9aadeb86739de712faee0"], subs["60d9aadeb86739de712faee1"]
    assert (active.status, active.prolific_pid) == ("ACTIVE", "60bf9310e8dec401be6e9615")
    assert (done.status, done.prolific_pid) == ("AWAITING REVIEW", "60bf9310e8dec401be6e9616")
    assert done.completed_at.isoformat() == "2021-05-20T11:19:42.001000+00:00"
    assert active.started_at.isoformat() == "2021-05-20T11:03:00.457000+00:00"
    assert active.completed_at is None


@pytest.mark.parametrize("name", ["submission_transition_approve.json", "submission_transition_reject.json"])
def test_a_transition_sends_the_documented_body_and_reads_the_new_status(name):
    recorded, replay = replaying(name)
    body = recorded["request"]["body"]
    with replay, client_for(replay) as client:
        answer = client.submission_transition(
            "625d4a831bcda2d59ac5a251", action=body["action"], message=body.get("message"),
            rejection_category=body.get("rejection_category"), subject="P1",
        )  # fmt: skip
    assert_sent_as_documented(replay, recorded)
    assert answer == recorded["response"]
    expected = {"APPROVE": "APPROVED", "REJECT": "REJECTED"}[body["action"]]
    assert _state_from_response(answer, expected) == "confirmed"


def test_prolifics_error_envelope_reaches_the_researcher_with_the_field_and_message():
    recorded, replay = replaying("submission_transition_error.json")
    body = recorded["request"]["body"]
    with replay, client_for(replay) as client, pytest.raises(ProlificRejected) as caught:
        client.submission_transition(
            "625d4a831bcda2d59ac5a251", action="REJECT", message=body["message"],
            rejection_category=body["rejection_category"], subject="P1",
        )  # fmt: skip
    assert_sent_as_documented(replay, recorded)
    assert caught.value.status_code == 400
    assert "message: ['Ensure this field has at least 100 characters.']" in str(caught.value)
    assert "625d4a831bcda2d59ac5a251" not in str(caught.value)  # no Prolific id in what users and logs see


def test_bulk_approve_sends_submission_ids_and_accepts_the_bare_string_answer():
    recorded, replay = replaying("submissions_bulk_approve.json")
    with replay, client_for(replay) as client:
        answer = client.submissions_bulk_approve(["60f25f799fbd8a136cc6a9b0", "5ce69ff9b1e73b000146186d"])
    assert_sent_as_documented(replay, recorded)
    assert answer == "The request to bulk approve has been made successfully."


def test_request_return_sends_the_documented_reasons():
    recorded, replay = replaying("submission_request_return.json")
    with replay, client_for(replay) as client:
        answer = client.submission_request_return(
            "625d4a831bcda2d59ac5a251", reasons=["Withdrew consent.", "Did not finish study."], subject="P1"
        )
    assert_sent_as_documented(replay, recorded)
    assert answer == recorded["response"]


# -- webhook setup (Prolific's "Subscribing") --------------------------------------------------------------
def test_creating_a_secret_reads_its_value():
    recorded, replay = replaying("hook_secret_create.json")
    with replay, client_for(replay) as client:
        value = client.hook_secret_create("63519c1d5b139662f8cde482")
    assert_sent_as_documented(replay, recorded)
    assert value == "cGNqFPb6y0RT3XO9XVSessBDYIbHQ-...."


def test_listing_subscriptions_asks_for_the_workspace_and_reads_results():
    recorded, replay = replaying("hook_subscriptions_list.json")
    with replay, client_for(replay) as client:
        subscriptions = client.hook_subscriptions_list("63722982f9cc073ecc730f6b")
    assert_sent_as_documented(replay, recorded)
    assert subscriptions == recorded["response"]["results"]


def test_creating_a_subscription_reads_the_results_envelope_and_the_x_hook_secret_header():
    recorded, replay = replaying("hook_subscription_create.json")
    body = recorded["request"]["body"]
    with replay, client_for(replay) as client:
        subscription, hook_secret = client.hook_subscription_create(
            workspace_id=body["workspace_id"], event_type=body["event_type"], target_url=body["target_url"]
        )
    assert_sent_as_documented(replay, recorded)
    assert subscription == recorded["response"]["results"][0]
    assert subscription["id"] == "63a0a9f1c5d5d0e4b4a2c7f1"
    assert hook_secret == recorded["response_headers"]["X-Hook-Secret"]


def test_confirming_a_subscription_sends_the_x_hook_secret_as_secret():
    recorded, replay = replaying("hook_subscription_confirm.json")
    with replay, client_for(replay) as client:
        secret = recorded["request"]["body"]["secret"]
        confirmed = client.hook_subscription_confirm("63a0a9f1c5d5d0e4b4a2c7f1", secret)
    assert_sent_as_documented(replay, recorded)
    assert confirmed == recorded["response"]
    assert confirmed["is_enabled"] is True


# -- webhook delivery (Prolific's "Receiving" and "Verifying") -------------------------------------------
def prolific_signature(secret: str, timestamp: str, body: dict) -> str:
    """Prolific's documented verification example, step by step: base64(HMAC-SHA256(secret, timestamp + json.dumps(body)))."""
    message = str.encode(timestamp + json.dumps(body))
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@pytest.fixture
def event():
    return load("webhook_submission_status_change.json")


def test_the_documented_signature_verifies_over_the_body_as_sent_or_as_json_dumps_writes_it(settings, event):
    settings.PROLIFIC_WEBHOOK_SECRET = event["secret"]
    timestamp = event["headers"]["X-Prolific-Request-Timestamp"]
    signature = prolific_signature(event["secret"], timestamp, event["body"])
    wire = event["wire_body"].encode()
    # compact on the wire, while Prolific's example signs the json.dumps form
    assert wire != json.dumps(event["body"]).encode()
    assert request_signer(timestamp=timestamp, raw_body=wire, signature=signature).workspace is True
    pretty = json.dumps(event["body"]).encode()
    assert request_signer(timestamp=timestamp, raw_body=pretty, signature=signature).workspace is True
    digest = hmac.new(event["secret"].encode(), timestamp.encode() + wire, hashlib.sha256).digest()
    raw_signed = base64.b64encode(digest)
    assert request_signer(timestamp=timestamp, raw_body=wire, signature=raw_signed.decode()).workspace is True


def test_a_signature_with_another_secret_or_timestamp_or_body_is_refused(settings, event):
    settings.PROLIFIC_WEBHOOK_SECRET = event["secret"]
    timestamp = event["headers"]["X-Prolific-Request-Timestamp"]
    wire = event["wire_body"].encode()
    right = prolific_signature(event["secret"], timestamp, event["body"])
    other_secret = prolific_signature("other", timestamp, event["body"])
    other_body = prolific_signature(event["secret"], timestamp, dict(event["body"], status="APPROVED"))
    assert request_signer(timestamp=timestamp, raw_body=wire, signature=right) is not None
    assert request_signer(timestamp=timestamp, raw_body=wire, signature=other_secret) is None
    assert request_signer(timestamp="1700000001", raw_body=wire, signature=right) is None
    assert request_signer(timestamp=timestamp, raw_body=wire, signature=other_body) is None


def test_the_documented_event_delivered_as_prolific_sends_it_frees_the_place(settings, event):
    settings.PROLIFIC_WEBHOOK_SECRET = event["secret"]
    settings.PROLIFIC_WEBHOOK_MAX_AGE_SECONDS = 0  # the recorded timestamp is in the past
    study = StudyFactory(slug="docs")
    participant = ParticipantFactory(
        study=study, status=Participant.Status.ACTIVE, prolific_pid=event["body"]["participant_id"],
        prolific_session_id=event["body"]["resource_id"],
    )  # fmt: skip
    timestamp = event["headers"]["X-Prolific-Request-Timestamp"]
    response = Client(enforce_csrf_checks=True).post(
        "/prolific/webhook/", event["wire_body"], content_type="application/json",
        HTTP_X_PROLIFIC_REQUEST_SIGNATURE=prolific_signature(event["secret"], timestamp, event["body"]),
        HTTP_X_PROLIFIC_REQUEST_TIMESTAMP=timestamp,
        HTTP_X_EVENT_ID=event["headers"]["X-Event-ID"], HTTP_X_TIMESTAMP=event["headers"]["X-Timestamp"],
    )  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json() == {"outcome": "applied", "duplicate": False, "place_freed": True}
    participant.refresh_from_db()
    assert participant.status == Participant.Status.RETURNED
    recorded = WebhookEvent.objects.get(event_id=event["headers"]["X-Event-ID"])
    assert (recorded.status, recorded.event_at.timestamp()) == ("RETURNED", 1700000000.0)

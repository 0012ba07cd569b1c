"""Webhook setup as Prolific documents it: workspace secret, subscription, X-Hook-Secret confirmation."""

import io
import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from prolific.client import ProlificError, ProlificRejected
from prolific.models import ApiCall, ProlificSettings
from prolific.secrets_box import secret_decrypt
from prolific.services import ProlificOpsError, prolific_settings_update, webhook_subscribe
from surveys.models import Participant
from tests.factories import StudyFactory
from tests.prolific.conftest import PROLIFIC_STUDY, TOKEN, participant_on_prolific
from tests.prolific.test_webhooks import sign, status_change

pytestmark = pytest.mark.django_db
TARGET = "https://platform.example.org/prolific/webhook/"
SUBSCRIPTIONS = r"^/api/v1/hooks/subscriptions/$"


def stored(study) -> ProlificSettings:
    return ProlificSettings.objects.get(study=study)


def test_it_creates_the_secret_subscribes_and_confirms_with_the_x_hook_secret(fake, study):
    result = webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)

    assert (result.secret_created, result.subscription_created) == (True, True)
    assert [r["json"] for r in fake.requests_to("POST", "/hooks/secrets/")] == [{"workspace_id": fake.workspace_id}]
    assert [r["json"] for r in fake.requests_to("POST", SUBSCRIPTIONS)] == [
        {"event_type": "submission.status.change", "target_url": TARGET, "workspace_id": fake.workspace_id}
    ]
    subscription = fake.state.subscriptions[result.subscription_id]
    assert subscription["is_enabled"] is True
    confirm = fake.requests_to("POST", rf"/hooks/subscriptions/{result.subscription_id}/")
    assert [r["json"] for r in confirm] == [{"secret": subscription["_hook_secret"]}]
    row = stored(study)
    assert secret_decrypt(row.webhook_secret_encrypted) == fake.state.hook_secrets[fake.workspace_id]["value"]
    assert (row.workspace_id, row.hook_subscription_id, row.hook_target_url) == (
        fake.workspace_id, result.subscription_id, TARGET
    )
    assert row.hook_confirmed_at == result.confirmed_at
    # Ids of the workspace and the subscription stay out of the call log.
    logged = " ".join(f"{c.path} {c.subject} {c.error}" for c in ApiCall.objects.all())
    assert fake.workspace_id not in logged and result.subscription_id not in logged
    assert "/api/v1/hooks/subscriptions/{subscription_id}/" in logged


def test_prolific_delivers_nothing_to_an_unconfirmed_subscription(fake, study):
    fake.fail_next("POST", r"/hooks/subscriptions/[^/]+/$", 400,
                   body={"error": {"status": 400, "title": "Bad Request", "detail": "Confirmation refused."}})  # fmt: skip
    with pytest.raises(ProlificRejected, match="Confirmation refused"):
        webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)
    row = stored(study)
    assert row.hook_subscription_id and row.hook_confirmed_at is None  # what was done is kept
    sid = fake.add_submission(PROLIFIC_STUDY, "pid-1", status="RETURNED")
    assert fake.deliver_status_change(sid) == []

    result = webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)  # again: completes it
    assert result.secret_created is False  # the stored workspace secret is kept
    assert len(fake.requests_to("POST", "/hooks/secrets/")) == 1
    assert stored(study).hook_confirmed_at is not None
    assert sum(s["is_enabled"] for s in fake.state.subscriptions.values()) == 1


def test_a_second_study_of_the_workspace_keeps_the_secret_and_the_subscription(fake, study):
    first = webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)
    other = StudyFactory(slug="wave2", prolific_study_id="70f6acb180a7b59ac0621f9e")
    prolific_settings_update(study=other, token=TOKEN)

    second = webhook_subscribe(study=other, workspace_id=fake.workspace_id, target_url=TARGET)

    # Creating a secret would replace the one the first study verifies with: Prolific keeps one per workspace.
    assert (second.secret_created, second.subscription_created) == (False, False)
    assert second.subscription_id == first.subscription_id
    assert len(fake.requests_to("POST", "/hooks/secrets/")) == 1
    assert len(fake.requests_to("POST", SUBSCRIPTIONS)) == 1
    assert secret_decrypt(stored(other).webhook_secret_encrypted) == secret_decrypt(stored(study).webhook_secret_encrypted)


def test_new_secret_replaces_the_workspace_secret(fake, study):
    webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)
    old = secret_decrypt(stored(study).webhook_secret_encrypted)
    result = webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET, new_secret=True)
    assert result.secret_created is True
    new = secret_decrypt(stored(study).webhook_secret_encrypted)
    assert new != old and new == fake.state.hook_secrets[fake.workspace_id]["value"]


def test_storing_the_x_hook_secret_as_the_signing_secret_makes_every_delivery_fail(fake, study, settings):
    """The mistake the old docs invited: the X-Hook-Secret is a confirmation code, not the signing secret."""
    settings.PROLIFIC_WEBHOOK_SECRET = ""
    result = webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)
    participant, sid = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="RETURNED")
    body = json.dumps(status_change(sid, participant.prolific_pid, "RETURNED")).encode()
    signed_at = str(int(time.time()))
    signing_secret = fake.state.hook_secrets[fake.workspace_id]["value"]  # what Prolific signs with

    def post(event_id):
        return Client().post(
            "/prolific/webhook/", body, content_type="application/json",
            HTTP_X_PROLIFIC_REQUEST_SIGNATURE=sign(signing_secret, signed_at, body),
            HTTP_X_PROLIFIC_REQUEST_TIMESTAMP=signed_at, HTTP_X_EVENT_ID=event_id,
        )  # fmt: skip

    prolific_settings_update(study=study, webhook_secret=fake.state.subscriptions[result.subscription_id]["_hook_secret"])
    assert post("ev-1").status_code == 403
    prolific_settings_update(study=study, webhook_secret=signing_secret)
    assert post("ev-2").status_code == 200


def test_an_answer_without_x_hook_secret_is_a_clear_error(fake, study):
    body = {"id": "64a1b2c3d4e5f60718293a4b", "event_type": "submission.status.change", "target_url": TARGET,
            "workspace_id": fake.workspace_id, "is_enabled": False}  # fmt: skip
    fake.fail_next("POST", SUBSCRIPTIONS, 201, body=body)
    with pytest.raises(ProlificError, match="no X-Hook-Secret header"):
        webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)


def test_prolific_refuses_a_target_that_is_not_https(fake, study):
    with pytest.raises(ProlificRejected, match="must use https"):
        webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url="http://platform.example.org/prolific/webhook/")


def test_it_refuses_a_missing_workspace_or_a_relative_address_before_calling_prolific(fake, study):
    with pytest.raises(ProlificOpsError, match="workspace id"):
        webhook_subscribe(study=study, workspace_id=" ", target_url=TARGET)
    with pytest.raises(ProlificOpsError, match="not an absolute"):
        webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url="/prolific/webhook/")
    assert fake.state.requests == []


def test_the_command_subscribes_and_never_prints_the_secrets(fake, study):
    out = io.StringIO()
    call_command("prolific", "wave1", "subscribe", "--workspace-id", fake.workspace_id, "--target-url", TARGET, stdout=out)
    text = out.getvalue()
    (subscription,) = fake.state.subscriptions.values()
    assert "created and confirmed" in text and TARGET in text
    assert fake.state.hook_secrets[fake.workspace_id]["value"] not in text and subscription["_hook_secret"] not in text
    with pytest.raises(CommandError, match="--workspace-id and --target-url"):
        call_command("prolific", "wave1", "subscribe", stdout=io.StringIO())


def test_the_page_walks_the_researcher_through_it(fake, study, client):
    user = get_user_model().objects.create_user("ada", password="pw-ada-123456")
    study.researchers.add(user)
    client.force_login(user)
    page = client.get("/studies/wave1/prolific/").content.decode()
    assert "Not set up" in page and "X-Hook-Secret" in page
    assert 'value="http://testserver/prolific/webhook/"' in page  # prefilled with this server's endpoint

    response = client.post("/studies/wave1/prolific/subscribe/", {"workspace_id": fake.workspace_id, "target_url": TARGET})

    assert response.status_code == 302
    (subscription,) = fake.state.subscriptions.values()
    assert subscription["is_enabled"] is True
    page = client.get("/studies/wave1/prolific/").content.decode()
    assert f"Subscribed: Prolific sends <code>submission.status.change</code> events to <code>{TARGET}</code>" in page
    assert fake.state.hook_secrets[fake.workspace_id]["value"] not in page


def test_the_page_shows_prolifics_refusal(fake, study, client):
    user = get_user_model().objects.create_user("ada", password="pw-ada-123456")
    study.researchers.add(user)
    client.force_login(user)
    response = client.post(
        "/studies/wave1/prolific/subscribe/", {"workspace_id": fake.workspace_id, "target_url": "http://x.example/prolific/webhook/"}
    )
    assert response.status_code == 400
    assert "must use https" in response.content.decode()


def test_it_reads_the_subscription_list_form_of_prolifics_reference_example(fake, study):
    """Prolific's API reference shows the create answer as ``{"results": [...]}``; the CLI reads a bare object."""
    example = {"results": [{
        "event_type": "submission.status.change", "target_url": TARGET, "workspace_id": fake.workspace_id,
        "id": "64a1b2c3d4e5f60718293a4b", "is_enabled": False,
    }]}  # fmt: skip
    fake.fail_next("POST", SUBSCRIPTIONS, 201, headers={"X-Hook-Secret": "one-time-code"}, body=example)
    fake.fail_next("POST", r"/hooks/subscriptions/64a1b2c3d4e5f60718293a4b/$", 200, body={**example["results"][0], "is_enabled": True})
    result = webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)
    assert result.subscription_id == "64a1b2c3d4e5f60718293a4b"
    confirm = fake.requests_to("POST", r"/hooks/subscriptions/64a1b2c3d4e5f60718293a4b/$")
    assert [r["json"] for r in confirm] == [{"secret": "one-time-code"}]


def test_the_admin_shows_the_subscription_read_only_and_no_secret(fake, study, client):
    webhook_subscribe(study=study, workspace_id=fake.workspace_id, target_url=TARGET)
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123456")
    client.force_login(admin)
    page = client.get(f"/admin/prolific/prolificsettings/{stored(study).pk}/change/").content.decode()
    assert TARGET in page
    assert 'name="hook_target_url"' not in page  # read-only
    assert fake.state.hook_secrets[fake.workspace_id]["value"] not in page

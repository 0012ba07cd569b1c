"""docs/prolific.md's setup, run as written against the fake Prolific and a live server, then a signed event."""

import io
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command

from prolific.models import ProlificSettings, ProlificSubmission, WebhookEvent
from prolific.secrets_box import secret_decrypt
from prolific.testserver import FakeProlific
from surveys.models import Participant
from tests.factories import ParticipantFactory, StudyFactory
from tests.prolific.conftest import PROLIFIC_STUDY, TOKEN

DOC = Path(__file__).resolve().parents[2] / "docs" / "prolific.md"
SECTION = "## Setting up a study, step by step"
WORKSPACE = "63722982f9cc073ecc730f6b"


def documented_commands() -> list[list[str]]:
    """The ``python manage.py prolific …`` lines of the section's first sh block, split as a shell would."""
    text = DOC.read_text()
    section = text[text.index(SECTION) :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)[1]
    commands = [shlex.split(line) for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands and all(c[:3] == ["python", "manage.py", "prolific"] for c in commands), commands
    return [c[3:] for c in commands]


def filled_in(args: list[str], values: dict[str, str]) -> list[str]:
    filled = []
    for arg in args:
        for placeholder, value in values.items():
            arg = arg.replace(placeholder, value)
        assert "<" not in arg, f"placeholder left in {arg!r}"
        filled.append(arg)
    return filled


@pytest.fixture
def fake(settings):
    with FakeProlific(token=TOKEN, workspace_id=WORKSPACE) as server:
        server.add_study(PROLIFIC_STUDY, name="Value Portrait wave 1")
        server.state.allow_http_targets = True  # the live test server speaks http on 127.0.0.1
        settings.PROLIFIC_API_BASE_URL = server.url
        yield server


@pytest.mark.django_db(transaction=True)
def test_the_documented_setup_subscribes_confirms_and_then_receives_a_signed_event(
    fake, live_server, monkeypatch, settings
):
    settings.PROLIFIC_WEBHOOK_SECRET = ""  # only what the setup stores may verify events
    study = StudyFactory(slug="wave1", prolific_study_id="")
    commands = documented_commands()
    assert [c[1] for c in commands] == ["configure", "check", "subscribe"]
    values = {
        "<slug>": study.slug, "<prolific-study-id>": PROLIFIC_STUDY, "<workspace-id>": WORKSPACE,
        "https://<host>": live_server.url,
    }  # fmt: skip
    outputs = []
    for args in commands:
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{TOKEN}\n"))  # what the researcher pastes
        out = io.StringIO()
        call_command("prolific", *filled_in(args, values), stdout=out, stderr=io.StringIO())
        outputs.append(out.getvalue())

    assert "Token and study id work" in outputs[1]
    assert "subscription of" in outputs[2] and "created and confirmed" in outputs[2]
    # On Prolific: one secret, one confirmed subscription of our endpoint.
    (subscription,) = fake.state.subscriptions.values()
    assert subscription["target_url"] == f"{live_server.url}/prolific/webhook/"
    assert subscription["event_type"] == "submission.status.change"
    assert subscription["is_enabled"] is True
    confirm = fake.requests_to("POST", rf"/api/v1/hooks/subscriptions/{subscription['id']}/")
    assert [r["json"] for r in confirm] == [{"secret": subscription["_hook_secret"]}]
    # Here: the signing secret (not the X-Hook-Secret) is stored, the subscription is confirmed.
    settings_row = ProlificSettings.objects.get(study=study)
    assert secret_decrypt(settings_row.webhook_secret_encrypted) == fake.state.hook_secrets[WORKSPACE]["value"]
    assert secret_decrypt(settings_row.webhook_secret_encrypted) != subscription["_hook_secret"]
    assert settings_row.hook_confirmed_at is not None

    # A participant returns the study on Prolific; Prolific sends the signed event to the live server.
    participant = ParticipantFactory(study=study, status=Participant.Status.ACTIVE)
    submission_id = fake.add_submission(PROLIFIC_STUDY, participant.prolific_pid, status="ACTIVE")
    participant.prolific_session_id = submission_id
    participant.save(update_fields=["prolific_session_id"])
    fake.set_status(submission_id, "RETURNED")
    (answer,) = fake.deliver_status_change(submission_id)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"outcome": "applied", "duplicate": False, "place_freed": True}
    assert WebhookEvent.objects.get().outcome == WebhookEvent.Outcome.APPLIED
    assert ProlificSubmission.objects.get(submission_id=submission_id).status == "RETURNED"
    participant.refresh_from_db()
    assert participant.status == Participant.Status.RETURNED

"""The study's Prolific page: researchers only, a button per step, the token never echoed."""

import re

import pytest
from django.contrib.auth import get_user_model

from prolific.models import ReviewAction
from surveys.models import Participant
from tests.prolific.conftest import TOKEN, participant_on_prolific

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(client, study):
    user = get_user_model().objects.create_user("ada", password="pw-ada-123456")
    study.researchers.add(user)
    client.force_login(user)
    return user


def test_the_page_needs_a_login_and_a_researcher_of_the_study(client, study):
    assert client.get("/studies/wave1/prolific/").status_code == 302
    stranger = get_user_model().objects.create_user("eve", password="pw-eve-123456")
    client.force_login(stranger)
    assert client.get("/studies/wave1/prolific/").status_code == 403
    assert client.post("/studies/wave1/prolific/reconcile/").status_code == 403


def test_the_page_shows_only_the_tokens_last_four_characters(client, researcher, study):
    page = client.get("/studies/wave1/prolific/").content.decode()
    assert TOKEN not in page
    assert f"…{TOKEN[-4:]}" in page


def test_saving_settings_stores_a_new_token_without_echoing_it(client, researcher, study):
    new_token = "brand-new-token-value-7777"
    response = client.post(
        "/studies/wave1/prolific/settings/",
        {"prolific_study_id": "abc123", "token": new_token, "rejection_message": "x" * 120, "return_reason": "Please return."},
        follow=True,
    )
    page = response.content.decode()
    assert "Prolific settings saved." in page and new_token not in page and "…7777" in page
    study.refresh_from_db()
    assert study.prolific_study_id == "abc123"


def test_a_short_rejection_message_is_refused_on_the_form(client, researcher, study):
    response = client.post(
        "/studies/wave1/prolific/settings/", {"rejection_message": "too short", "return_reason": "r"}
    )
    assert response.status_code == 400
    assert "at least 100 characters" in response.content.decode()


def test_check_reconcile_preview_and_send_buttons_work_end_to_end(client, researcher, fake, study):
    passed, passed_sid = participant_on_prolific(fake, study, status=Participant.Status.COMPLETED)
    returned, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="RETURNED")

    page = client.post("/studies/wave1/prolific/check/", follow=True).content.decode()
    assert "Value Portrait wave 1" in page

    page = client.post("/studies/wave1/prolific/reconcile/", follow=True).content.decode()
    assert "1 group places freed" in page and returned.pseudonym in page
    assert returned.prolific_pid not in page

    preview = client.get("/studies/wave1/prolific/review/").content.decode()
    assert passed.pseudonym in preview and "/api/v1/submissions/bulk-approve/" in preview
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview)[1]

    page = client.post("/studies/wave1/prolific/review/send/", {"digest": digest}, follow=True).content.decode()
    assert "Sent to Prolific: 1 approve" in page
    assert fake.status_of(passed_sid) == "APPROVED"
    assert ReviewAction.objects.get().state == ReviewAction.State.CONFIRMED


def test_sending_a_stale_preview_sends_nothing(client, researcher, fake, study):
    participant_on_prolific(fake, study, status=Participant.Status.COMPLETED)
    client.post("/studies/wave1/prolific/reconcile/")
    page = client.post("/studies/wave1/prolific/review/send/", {"digest": "0" * 16}, follow=True).content.decode()
    assert "changed since the preview" in page
    assert fake.requests_to("POST", "bulk-approve") == []


def test_a_bad_token_shows_a_clear_message(client, researcher, fake, study):
    fake.state.token = "rotated-on-prolific"
    page = client.post("/studies/wave1/prolific/check/", follow=True).content.decode()
    assert "refused the API token" in page


def test_a_new_study_explains_what_is_left_to_connect_instead_of_alarming(client):
    from tests.factories import StudyFactory

    fresh = StudyFactory(slug="fresh", prolific_study_id="")
    user = get_user_model().objects.create_user("newbie", password="pw-newbie-123456")
    fresh.researchers.add(user)
    client.force_login(user)
    page = client.get("/studies/fresh/prolific/").content.decode()
    assert "Not connected to Prolific yet." in page and "nothing is wrong" in page
    assert "Prolific study id: to do." in page and "API token: to do." in page
    assert "Webhook (optional): to do." in page


def test_a_connected_study_says_so_in_one_line(client, researcher, study):
    page = client.get("/studies/wave1/prolific/").content.decode()
    assert "Not connected to Prolific yet." not in page
    assert "Connected: study id and API token set" in page

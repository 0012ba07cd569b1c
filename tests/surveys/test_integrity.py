"""Integrity rules of the participant flow: resumption, idempotency, validation, codes."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from surveys import plan as plans
from surveys.models import (
    AttentionCheckResponse,
    InstrumentAnswer,
    PageSubmission,
    Participant,
    Rating,
    Study,
)
from surveys.services import MSG_MISSING, MSG_NOT_ON_PAGE, MSG_OUT_OF_SCALE
from tests.factories import ItemFactory
from tests.surveys.helpers import (
    VALID_PID,
    advance_to,
    answers_for,
    arrive,
    complete,
    current_page,
    entry_url,
)


def field_order(response) -> list[str]:
    return list(dict.fromkeys(re.findall(r'name="((?:item|check|pvq|bfi)-[^"]+)"', response.content.decode())))


def stored(participant):
    return (
        Rating.objects.filter(participant=participant).count(),
        InstrumentAnswer.objects.filter(participant=participant).count(),
        AttentionCheckResponse.objects.filter(participant=participant).count(),
        PageSubmission.objects.filter(participant=participant).count(),
    )


# --- arrival ---


@pytest.mark.parametrize(
    "query, message",
    [
        ("", b"no Prolific ID"),
        ("?PROLIFIC_PID=", b"no Prolific ID"),
        ("?PROLIFIC_PID=not-an-id", b"is not valid"),
        ("?PROLIFIC_PID=5f0c2d3e4a1b2c3d4e5f6a7b&SESSION_ID=<script>", b"SESSION_ID in the link is not valid"),
    ],
)
def test_it_explains_a_missing_or_malformed_prolific_link(demo_study, query, message):
    response = Client().get(f"/s/demo/{query}")
    assert response.status_code == 400
    assert message in response.content
    assert b"preview" in response.content
    assert not Participant.objects.exists()


def test_it_shows_a_closed_page_when_the_study_is_not_live(demo_study):
    Study.objects.filter(pk=demo_study.pk).update(status=Study.Status.CLOSED)
    response = Client().get(entry_url("demo"))
    assert b"This study is closed" in response.content
    assert not Participant.objects.exists()


def test_a_returning_participant_keeps_their_place_after_the_study_closes(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    Study.objects.filter(pk=demo_study.pk).update(status=Study.Status.CLOSED)
    assert client.get(entry_url("demo"))["Location"] == url


def test_an_unknown_study_is_a_clear_404(db):
    assert b"There is no study called" in Client().get(entry_url("nope")).content


# --- resumption ---


def test_the_same_pid_returns_to_the_same_participant_and_page_from_another_browser(demo_study):
    first = Client()
    url, participant = arrive(first, "demo")
    for _ in range(3):
        first.post(url, answers_for(participant))
    participant.refresh_from_db()

    other_browser = Client()
    response = other_browser.get(entry_url("demo"))
    assert response["Location"] == url
    assert Participant.objects.count() == 1
    page = other_browser.get(url)
    assert f"Page {participant.step + 1} of".encode() in page.content


def test_the_pid_is_matched_case_insensitively(demo_study):
    url, _ = arrive(Client(), "demo", VALID_PID)
    assert Client().get(entry_url("demo", VALID_PID.upper()))["Location"] == url


def test_refresh_shows_the_same_page_and_stores_nothing(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    before = stored(participant)
    first, second = client.get(url), client.get(url)
    assert first.templates[0].name == second.templates[0].name == "surveys/page_items.html"
    assert field_order(first) == field_order(second) and field_order(first)
    assert stored(participant) == before


def test_a_resubmitted_back_button_page_stores_nothing_and_returns_to_the_current_page(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    old_page = answers_for(participant)
    client.post(url, old_page)
    before = stored(participant)

    changed = {k: ("1" if k.startswith("item-") else v) for k, v in old_page.items()}
    response = client.post(url, changed)

    assert response.status_code == 303 and response["Location"] == url
    assert stored(participant) == before
    saved = {f"item-{r.item_id}": str(r.rating) for r in Rating.objects.filter(participant=participant)}
    assert saved == {k: v for k, v in old_page.items() if k.startswith("item-")}


def test_a_double_clicked_submit_stores_one_answer_per_item(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    data = answers_for(participant)
    client.post(url, data)
    client.post(url, data)
    page_items = [k for k in data if k.startswith("item-")]
    assert Rating.objects.filter(participant=participant).count() == len(page_items)
    assert PageSubmission.objects.filter(participant=participant, step=int(data["step"])).count() == 1


# --- bad POSTs store nothing ---


def bad_post_cases(participant):
    """(name, body, expected message) for every kind of bad POST on an item page."""
    good = answers_for(participant)
    item_field = next(k for k in good if k.startswith("item-"))
    other_item = ItemFactory(study=participant.study, group=participant.study.groups.exclude(pk=participant.group_id).first())
    missing = dict(good)
    del missing[item_field]
    return [
        ("rating above the scale", {**good, item_field: "7"}, MSG_OUT_OF_SCALE.split("'")[2][:20]),
        ("rating below the scale", {**good, item_field: "0"}, "is not an answer on the scale"),
        ("rating not a number", {**good, item_field: "abc"}, "is not an answer on the scale"),
        # str.isdigit() accepts these; int('²') raises (was a 500) and int('٣') reads 3.
        ("rating in superscript digits", {**good, item_field: "²"}, "is not an answer on the scale"),
        ("rating in Arabic-Indic digits", {**good, item_field: "٣"}, "is not an answer on the scale"),
        ("two answers for one response", {**good, item_field: ["3", "5"]}, "more than one answer for response"),
        ("item not in the assignment", {**good, f"item-{other_item.pk}": "3"}, MSG_NOT_ON_PAGE.split("'")[2][:20]),
        ("missing answer", missing, MSG_MISSING.split("{")[0]),
        ("forged future page", {**good, "step": str(participant.step + 1)}, "nothing was saved"),
        ("malformed page number", {**good, "step": "2; DROP TABLE"}, "is not valid"),
        ("missing page number", {k: v for k, v in good.items() if k != "step"}, "is not valid"),
        ("page number in superscript digits", {**good, "step": "²"}, "is not valid"),
    ]


def test_every_kind_of_bad_post_gets_a_clear_message_and_stores_nothing(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    participant.refresh_from_db()
    before, step = stored(participant), participant.step
    for name, body, message in bad_post_cases(participant):
        response = client.post(url, body)
        assert response.status_code == 400, name
        assert message.encode() in response.content, (name, response.content.decode()[:3000])
        participant.refresh_from_db()
        assert stored(participant) == before and participant.step == step, name


def test_a_non_form_client_gets_json_errors_with_status_400(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    body = {**answers_for(participant)}
    body[next(k for k in body if k.startswith("item-"))] = "9"
    response = client.post(url, body, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "is not an answer on the scale" in response.json()["errors"][0]


def test_an_invalid_page_keeps_the_answers_already_chosen(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.PVQ21_PAGE)
    body = answers_for(participant)
    del body["pvq-5"]
    response = client.post(url, body)
    assert response.status_code == 400
    assert f'name="pvq-1" value="{body["pvq-1"]}" checked'.encode() in response.content
    assert b"Please answer description" in response.content


def test_csrf_protection_stays_on(demo_study):
    client = Client(enforce_csrf_checks=True)
    url, participant = arrive(client, "demo")
    assert client.post(url, answers_for(participant)).status_code == 403
    participant.refresh_from_db()
    assert participant.step == 0


# --- completion codes ---


def test_declining_consent_ends_with_the_no_consent_code(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    client.post(url, {"step": "0", "consent": "no"})
    participant.refresh_from_db()
    assert participant.status == Participant.Status.NO_CONSENT and participant.consented_at is None
    page = client.get(url)
    assert b"cc=DEMO-NOCONSENT" in page.content
    assert client.get(entry_url("demo"))["Location"] == url


def test_more_failed_checks_than_allowed_ends_with_the_failed_checks_code(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant, fail_checks=True)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.FAILED_CHECKS
    assert AttentionCheckResponse.objects.filter(participant=participant, passed=False).count() == 4
    assert b"cc=DEMO-FAILCHK" in client.get(url).content


def test_failing_no_more_checks_than_allowed_still_completes(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    failed = 0
    while participant.status == Participant.Status.ACTIVE:
        page = current_page(participant)
        fail_here = bool(page.checks) and failed + len(page.checks) <= demo_study.max_failed_checks
        failed += len(page.checks) if fail_here else 0
        client.post(url, answers_for(participant, fail_checks=fail_here))
        participant.refresh_from_db()
    assert AttentionCheckResponse.objects.filter(participant=participant, passed=False).count() == 2 == failed
    assert participant.status == Participant.Status.COMPLETED


def test_a_completed_participant_who_returns_sees_their_code_again(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    again = Client().get(entry_url("demo"), follow=True)
    assert b"DEMO-COMPLETE" in again.content
    assert Participant.objects.count() == 1


def test_posting_after_completion_stores_nothing(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    before = stored(participant)
    assert client.post(url, {"step": "3", "item-1": "2"}).status_code == 303
    assert stored(participant) == before


# --- expiry ---


def test_an_expired_participant_cannot_save_and_is_marked_expired(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.INSTRUCTIONS)  # consented: the reservation's time limit applies
    Participant.objects.filter(pk=participant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(url, answers_for(participant))
    assert response.status_code == 410
    participant.refresh_from_db()
    assert participant.status == Participant.Status.EXPIRED
    assert stored(participant) == (0, 0, 0, 1)  # the consent page only
    assert b"Time is up" in client.get(url).content


def test_timestamps_are_recorded_for_arrival_every_page_and_completion(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    participant.refresh_from_db()
    times = list(PageSubmission.objects.filter(participant=participant).order_by("step").values_list("submitted_at", flat=True))
    assert participant.arrived_at <= times[0] and times == sorted(times) and times[-1] == participant.completed_at


def test_items_imported_later_do_not_shift_a_participant_who_already_started(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    before = field_order(client.get(url))
    for n in range(5):
        ItemFactory(study=demo_study, group=participant.group, query="A new query?", response=f"New response {n}.")
    assert field_order(client.get(url)) == before
    complete(client, url, participant)
    assert Rating.objects.filter(participant=participant).count() == 6


@pytest.mark.parametrize(
    "kind, change, message",
    [
        (plans.CONSENT, {"consent": "maybe"}, "Please choose whether you agree to take part."),
        (plans.ABOUT, {"gender": "robot"}, "Please choose an answer for gender."),
        (plans.ABOUT, {"age_band": "12-17"}, "Please choose an age band."),
        (plans.PVQ21_PAGE, {"pvq-1": "7"}, "'7' is not an answer on the scale for description"),
        (plans.BFI10_PAGE, {"bfi-3": "6"}, "'6' is not an answer on the scale for statement"),  # 6 exists on PVQ-21 only
        (plans.BFI10_PAGE, {"pvq-1": "3"}, "'pvq-1' is not part of this page"),
    ],
)
def test_bad_posts_on_every_kind_of_page_store_nothing(demo_study, kind, change, message):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, kind)
    before, step = stored(participant), participant.step
    response = client.post(url, {**answers_for(participant), **change})
    assert response.status_code == 400 and message.encode() in response.content.replace(b"&#x27;", b"'")
    participant.refresh_from_db()
    assert stored(participant) == before and participant.step == step
    if kind == plans.CONSENT:
        assert participant.consented_at is None and participant.status == Participant.Status.ACTIVE
    if kind == plans.ABOUT:
        assert (participant.gender, participant.age_band, participant.pvq_form) == ("", "", "")


def test_a_check_answer_outside_its_scale_stores_nothing(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.BFI10_PAGE)
    page = current_page(participant)
    assert page.checks, "the demo puts one check into BFI-10"
    before = stored(participant)
    response = client.post(url, {**answers_for(participant), f"check-{page.checks[0].key}": "6"})
    assert response.status_code == 400 and b"is not an answer on the scale" in response.content
    assert stored(participant) == before

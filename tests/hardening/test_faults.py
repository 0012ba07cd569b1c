"""Faults inside a request: a worker dying or the database dropping mid-page writes nothing half.

The real process kills and the real PostgreSQL restart are drills (``make drills``, loadtest/drills.py);
these tests pin the property they rely on: every page is one transaction, so a request that dies
after some of its inserts leaves the participant exactly where they were, and the retry stores the
page once.
"""

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from surveys import plan as plans
from surveys.models import AttentionCheckResponse, PageSubmission, Participant, Rating
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.helpers import answers_for, arrive, complete, current_page

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """Stands in for a process dying mid-request: not an Exception, so nothing in Django handles it."""


@pytest.fixture
def study():
    group = ItemGroupFactory(study=StudyFactory(slug="faults", attention_check_count=2))
    for n in range(6):
        ItemFactory(group=group, query=f"Query {n // 3}?")
    return group.study


def on_item_page(client, study):
    url, participant = arrive(client, study.slug)
    while current_page(participant).kind != plans.ITEMS:
        assert client.post(url, answers_for(participant)).status_code == 303
    return url, participant


def stored(participant):
    return (
        sorted(Rating.objects.filter(participant=participant).values_list("item_id", "rating")),
        AttentionCheckResponse.objects.filter(participant=participant).count(),
        PageSubmission.objects.filter(participant=participant).count(),
    )


def test_a_request_that_dies_after_inserting_ratings_leaves_nothing_and_the_participant_resumes(study):
    client = Client(raise_request_exception=True)
    url, participant = on_item_page(client, study)
    before, step = stored(participant), participant.step
    answers = answers_for(participant)

    with mock.patch("surveys.services.PageSubmission.objects.create", side_effect=WorkerKilled), pytest.raises(WorkerKilled):
        client.post(url, answers)

    participant.refresh_from_db()
    assert stored(participant) == before and participant.step == step
    page = client.get(url)
    assert page.status_code == 200
    assert f'name="step" value="{step}"' in page.content.decode()

    assert client.post(url, answers).status_code == 303
    ratings = dict(Rating.objects.filter(participant=participant).values_list("item_id", "rating"))
    expected = {int(k.split("-")[1]): int(v) for k, v in answers.items() if k.startswith("item-")}
    assert {pk: ratings[pk] for pk in expected} == expected
    assert PageSubmission.objects.filter(participant=participant, step=step).count() == 1


def test_a_database_that_drops_mid_page_gives_the_friendly_503_and_keeps_nothing_half_written(study):
    client = Client()
    url, participant = on_item_page(client, study)
    before, step = stored(participant), participant.step
    answers = answers_for(participant)

    with mock.patch(
        "surveys.services.PageSubmission.objects.create", side_effect=OperationalError("server closed the connection unexpectedly")
    ):
        response = client.post(url, answers)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Nothing you submitted was half-saved" in response.content
    participant.refresh_from_db()
    assert stored(participant) == before and participant.step == step

    assert client.post(url, answers).status_code == 303
    participant.refresh_from_db()
    assert participant.step == step + 1


def test_a_participant_whose_connection_dropped_after_the_commit_resubmits_without_duplicates(study):
    """The answer was stored but the redirect never arrived: the browser resubmits the same page."""
    client = Client()
    url, participant = on_item_page(client, study)
    answers = answers_for(participant)
    assert client.post(url, answers).status_code == 303
    after_first = stored(participant)

    assert client.post(url, answers).status_code == 303
    assert stored(participant) == after_first
    complete(client, url, participant)
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED

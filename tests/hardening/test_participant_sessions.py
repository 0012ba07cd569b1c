"""Issue 11, findings 2 and 3: a Prolific ID is not a key, and places are held by people, not links.

A known PROLIFIC_PID resumes only in the browser that started it or with the SESSION_ID of its
first arrival; a group place is reserved at consent; unconsented visits lapse and are capped per
client address and per study; STUDY_ID is required when the study has a Prolific study id.
"""

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from surveys.models import EntryEvent, Participant
from surveys.selectors import group_fill
from surveys.services import (
    MSG_FULL_AT_CONSENT,
    MSG_TOO_MANY_PLACES,
    MSG_TOO_MANY_STARTING,
    StudyFull,
    TooManyStarting,
    participant_arrive,
    participant_consent,
    reservations_expire,
)
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.helpers import answers_for, arrive, complete, entry_url

PID = "5f0c2d3e4a1b2c3d4e5f6a7b"
SESSION = "60a1b2c3d4e5f6a7b8c9d0e1"


def pid(n: int) -> str:
    return f"{n:024x}"


@pytest.fixture
def study(db):
    study = StudyFactory(slug="wave", time_limit_minutes=60, target_raters_per_item=46)
    for name in ("A", "B"):
        ItemFactory.create_batch(3, group=ItemGroupFactory(study=study, name=name))
    return study


def open_link(client: Client, slug: str, pid_: str = PID, *, session_id: str = SESSION, address: str = "10.0.0.1", **extra):
    return client.get(entry_url(slug, pid_, SESSION_ID=session_id, **extra), REMOTE_ADDR=address)


def token_of(response) -> str:
    return response["Location"].rstrip("/").rsplit("/", 1)[-1]


# --- finding 2: a PROLIFIC_PID takes over a participant's session ---


def test_a_known_pid_from_another_browser_with_another_session_id_is_refused_and_recorded(study, caplog):
    started = open_link(Client(), study.slug)
    assert started.status_code == 303
    participant = Participant.objects.get(study=study)

    caplog.set_level(logging.INFO)
    attacker = Client()
    refused = open_link(attacker, study.slug, session_id="attacker-session", STUDY_ID="other", address="192.0.2.9")
    assert refused.status_code == 409
    body = refused.content.decode()
    assert "continue on the" in body and "contact the researcher" in body
    assert 'name="viewport"' in body  # the participant layout, usable on a phone
    assert participant.token not in body and "Location" not in refused
    assert Participant.objects.filter(study=study).count() == 1
    event = EntryEvent.objects.get(study=study)
    assert (event.kind, event.pseudonym) == (EntryEvent.Kind.SESSION_ELSEWHERE, participant.pseudonym)
    assert PID not in caplog.text and participant.pseudonym in caplog.text
    # Without the SESSION_ID the attacker cannot answer in the participant's name either.
    assert open_link(attacker, study.slug, session_id="").status_code == 409


def test_the_same_pid_and_session_id_in_another_browser_resumes(study):
    first = open_link(Client(), study.slug)
    again = open_link(Client(), study.slug, address="10.9.9.9")  # a phone after a laptop: same Prolific session
    assert again.status_code == 303 and token_of(again) == token_of(first)
    assert not EntryEvent.objects.exists()


def test_the_browser_that_started_resumes_whatever_the_session_id(study):
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    client.post(url, answers_for(participant))  # consent
    again = open_link(client, study.slug, session_id="something-else")
    assert again.status_code == 303 and token_of(again) == participant.token
    assert client.get(again["Location"]).status_code == 200


def test_without_a_recorded_session_id_only_the_starting_browser_resumes(study):
    client = Client()
    first = open_link(client, study.slug, session_id="")
    assert open_link(client, study.slug, session_id="").status_code == 303
    assert token_of(open_link(client, study.slug, session_id="")) == token_of(first)
    assert open_link(Client(), study.slug, session_id="").status_code == 409


def test_a_finished_participant_is_not_shown_to_another_browser(study):
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    complete(client, url, participant)
    other = open_link(Client(), study.slug, session_id="guess")
    assert other.status_code == 409 and participant.token not in other.content.decode()


@pytest.mark.parametrize("study_id, problem", [
    (None, "The link has no Prolific study ID"),
    ("", "The link has no Prolific study ID"),
    ("someotherstudy", "belongs to a different Prolific study"),
])
def test_study_id_is_required_when_the_study_has_a_prolific_study_id(study, study_id, problem):
    study.prolific_study_id = "64f0aa11bb22cc33dd44ee55"
    study.save()
    params = {"PROLIFIC_PID": PID, "SESSION_ID": SESSION}
    if study_id is not None:
        params["STUDY_ID"] = study_id
    response = Client().get(f"/s/{study.slug}/", params)
    assert response.status_code == 400
    assert problem in response.content.decode()
    assert not Participant.objects.exists()
    assert EntryEvent.objects.get(study=study).kind == EntryEvent.Kind.STUDY_ID
    assert open_link(Client(), study.slug, STUDY_ID=study.prolific_study_id).status_code == 303


# --- finding 3: made-up PIDs fill a study ---


def test_ninety_one_invented_arrivals_do_not_fill_the_demo_sized_study(study):
    for n in range(91):  # the test settings lift the per-address cap: this is about places
        assert open_link(Client(), study.slug, pid(n), session_id=f"s{n}").status_code == 303
    assert sum(group_fill(study=study).values()) == 0
    url, real = arrive(Client(), study.slug, PID)
    page = Client().get(url)
    assert page.status_code == 200
    complete(Client(), url, real)
    real.refresh_from_db()
    assert real.status == Participant.Status.COMPLETED and real.group is not None
    assert sum(group_fill(study=study).values()) == 1


def test_a_place_is_reserved_at_consent_and_frozen_there(study):
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    assert participant.group is None and participant.assigned_items == []
    assert b"Page 1 of" not in client.get(url).content  # the page count is not known before the group
    client.post(url, answers_for(participant))
    participant.refresh_from_db()
    assert participant.consented_at is not None and participant.group is not None
    assert sorted(participant.assigned_items) == sorted(participant.group.items.values_list("pk", flat=True))
    assert participant.expires_at == participant.arrived_at + timedelta(minutes=study.time_limit_minutes)
    assert group_fill(study=study)[participant.group_id] == 1


def test_an_unconsented_visit_lapses_after_the_setting_and_can_start_again(study, settings):
    settings.UNCONSENTED_EXPIRY_MINUTES = 3
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    assert participant.expires_at - participant.arrived_at == timedelta(minutes=3)
    assert reservations_expire(now=participant.arrived_at + timedelta(minutes=2)) == 0
    assert reservations_expire(now=participant.arrived_at + timedelta(minutes=3, seconds=1)) == 1

    late = client.post(url, answers_for(participant))
    assert late.status_code == 410 and "open the study again from Prolific" in late.content.decode()
    participant.refresh_from_db()
    assert participant.consented_at is None and participant.group is None

    again = open_link(client, study.slug)  # the same browser, from the Prolific link
    assert again.status_code == 303 and token_of(again) == participant.token
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE
    assert client.post(url, answers_for(participant)).status_code == 303
    participant.refresh_from_db()
    assert participant.group is not None


def test_the_unconsented_window_is_never_longer_than_the_time_limit(study, settings):
    settings.UNCONSENTED_EXPIRY_MINUTES = 30
    study.time_limit_minutes = 5
    study.save()
    participant = participant_arrive(study=study, prolific_pid=PID)
    assert participant.expires_at - participant.arrived_at == timedelta(minutes=5)


def test_unconsented_visits_per_address_are_capped_with_429(study, settings):
    settings.UNCONSENTED_PER_ADDRESS = 3
    for n in range(3):
        assert open_link(Client(), study.slug, pid(n), address="203.0.113.5").status_code == 303
    refused = open_link(Client(), study.slug, pid(99), address="203.0.113.5")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many people are starting this study right now" in refused.content.decode()
    assert 'name="viewport"' in refused.content.decode()
    assert not Participant.objects.filter(prolific_pid=pid(99)).exists()
    assert EntryEvent.objects.get().kind == EntryEvent.Kind.ADDRESS_CAP
    assert open_link(Client(), study.slug, pid(99), address="203.0.113.6").status_code == 303


def test_a_consent_frees_the_unconsented_slot_and_a_lapsed_visit_does_too(study, settings):
    settings.UNCONSENTED_PER_ADDRESS = 1
    t0 = timezone.now()
    first = participant_arrive(study=study, prolific_pid=pid(1), address_hash="h", now=t0)
    with pytest.raises(TooManyStarting):
        participant_arrive(study=study, prolific_pid=pid(2), address_hash="h", now=t0 + timedelta(minutes=1))
    participant_consent(participant=first, consent=True, now=t0 + timedelta(minutes=1))
    second = participant_arrive(study=study, prolific_pid=pid(2), address_hash="h", now=t0 + timedelta(minutes=2))
    with pytest.raises(TooManyStarting):
        participant_arrive(study=study, prolific_pid=pid(3), address_hash="h", now=t0 + timedelta(minutes=3))
    lapsed = second.expires_at + timedelta(seconds=1)
    assert participant_arrive(study=study, prolific_pid=pid(3), address_hash="h", now=lapsed).consented_at is None


def test_unconsented_visits_per_study_are_capped_relative_to_its_free_places(db, settings):
    settings.UNCONSENTED_PER_ADDRESS = 2
    settings.UNCONSENTED_STUDY_PERCENT = 50
    study = StudyFactory(slug="small", target_raters_per_item=8)
    ItemFactory(group=ItemGroupFactory(study=study, name="A"))  # 8 free places: at most 4 waiting at consent
    for n in range(4):
        assert open_link(Client(), study.slug, pid(n), address=f"198.51.100.{n}").status_code == 303
    refused = open_link(Client(), study.slug, pid(9), address="198.51.100.9")
    assert refused.status_code == 429 and MSG_TOO_MANY_STARTING in refused.content.decode()
    assert EntryEvent.objects.get().kind == EntryEvent.Kind.STUDY_CAP


def test_places_held_from_one_address_are_capped_at_consent(study, settings):
    settings.PLACES_PER_ADDRESS = 1
    first_client, second_client = Client(), Client()
    first = open_link(first_client, study.slug, pid(1), address="203.0.113.7")
    second = open_link(second_client, study.slug, pid(2), address="203.0.113.7")
    first_url, second_url = first["Location"], second["Location"]
    p1, p2 = (Participant.objects.get(prolific_pid=p) for p in (pid(1), pid(2)))
    assert first_client.post(first_url, answers_for(p1)).status_code == 303
    refused = second_client.post(second_url, answers_for(p2))
    assert refused.status_code == 429 and MSG_TOO_MANY_PLACES.split(",")[0] in refused.content.decode()
    p2.refresh_from_db()
    assert (p2.step, p2.group_id, p2.consented_at) == (0, None, None)
    assert EntryEvent.objects.get().kind == EntryEvent.Kind.PLACES_PER_ADDRESS


def test_a_group_full_at_consent_time_says_so_and_saves_nothing(db):
    study = StudyFactory(slug="last-place", target_raters_per_item=1)
    ItemFactory(group=ItemGroupFactory(study=study, name="A"))
    first_client, second_client = Client(), Client()
    first_url, first = arrive(first_client, study.slug, pid(1))
    second_url, second = arrive(second_client, study.slug, pid(2))
    assert first_client.post(first_url, answers_for(first)).status_code == 303
    refused = second_client.post(second_url, answers_for(second))
    assert refused.status_code == 409
    assert MSG_FULL_AT_CONSENT.split(",")[0] in refused.content.decode()
    second.refresh_from_db()
    assert (second.status, second.step, second.group_id) == (Participant.Status.ACTIVE, 0, None)
    assert group_fill(study=study) == {first.study.groups.get().pk: 1}


def test_the_client_address_is_stored_only_as_a_keyed_hash(study):
    open_link(Client(), study.slug, address="203.0.113.77")
    stored = Participant.objects.get().address_hash
    assert len(stored) == 64 and "203.0.113.77" not in stored
    assert all(c in "0123456789abcdef" for c in stored)


def test_the_dashboard_shows_refusals_unconsented_arrivals_and_other_browser_attempts(study, settings, django_user_model):
    settings.UNCONSENTED_PER_ADDRESS = 2
    for n in range(2):
        open_link(Client(), study.slug, pid(n), session_id=f"s{n}", address="203.0.113.1")
    open_link(Client(), study.slug, pid(5), address="203.0.113.1")  # refused: address cap
    open_link(Client(), study.slug, pid(0), session_id="stolen", address="192.0.2.1")  # another browser
    open_link(Client(), study.slug, pid(0), session_id="stolen", address="192.0.2.1")
    victim = Participant.objects.get(prolific_pid=pid(0))

    user = django_user_model.objects.create_user("owner", password="x")
    study.researchers.add(user)
    researcher = Client()
    researcher.force_login(user)
    entry = researcher.get(f"/studies/{study.slug}/dashboard.json").json()["entry"]
    assert entry["unconsented_now"] == 2 and entry["arrivals_last_hour"] == 2
    assert entry["unconsented_last_hour"] == 2 and entry["refused_last_hour"] == 1
    assert entry["session_elsewhere_last_hour"] == entry["session_elsewhere_total"] == 2
    assert [(r["participant_id"], r["attempts"]) for r in entry["session_elsewhere_by_participant"]] == [(victim.pseudonym, 2)]
    page = researcher.get(f"/studies/{study.slug}/dashboard/").content.decode()
    assert "opened from another browser" in page and victim.pseudonym in page
    assert 'data-entry="refused_last_hour">1<' in page
    assert pid(0) not in page


@pytest.mark.postgres
def test_concurrent_consents_at_the_last_places_take_exactly_those_places_on_postgres(transactional_db):
    study = StudyFactory(slug="rush-last", target_raters_per_item=5)
    for name in ("A", "B"):
        ItemFactory(group=ItemGroupFactory(study=study, name=name))
    waiting = [participant_arrive(study=study, prolific_pid=pid(n)) for n in range(30)]  # 10 places
    start = threading.Barrier(len(waiting))
    outcomes: list[str] = []

    def consent(participant):
        try:
            start.wait()
            participant_consent(participant=participant, consent=True)
            outcomes.append("place")
        except StudyFull:
            outcomes.append("full")
        except Exception as error:
            outcomes.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=consent, args=(p,)) for p in waiting]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["full"] * 20 + ["place"] * 10
    assert sorted(group_fill(study=study).values()) == [5, 5]
    assert Participant.objects.filter(study=study, group__isnull=False).count() == 10

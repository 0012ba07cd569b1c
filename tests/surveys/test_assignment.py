"""Balanced assignment of item groups at consent and the places that expiry, returns and previews free."""

from datetime import timedelta

import pytest
from django.utils import timezone

from surveys.models import Participant
from surveys.selectors import group_fill
from surveys.services import (
    StudyFull,
    participant_arrive,
    participant_consent,
    participant_mark_returned,
    participant_preview,
    reservations_expire,
)
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory


@pytest.fixture
def study(db):
    study = StudyFactory(slug="balance", time_limit_minutes=30)
    for name in ("A", "B", "C"):
        ItemFactory(group=ItemGroupFactory(study=study, name=name))
    return study


def pid(n: int) -> str:
    return f"{n:024x}"


def take_place(study, n: int, now=None) -> Participant:
    """Arrive and agree to take part: the moment a group place is reserved."""
    participant = participant_arrive(study=study, prolific_pid=pid(n), prolific_session_id=f"s{n}", now=now)
    return participant_consent(participant=participant, consent=True, now=now).participant


def test_new_participants_fill_the_groups_evenly(study):
    for n in range(9):
        take_place(study, n)
    assert sorted(group_fill(study=study).values()) == [3, 3, 3]


def test_a_new_participant_gets_the_least_filled_group(study):
    groups = {g.name: g for g in study.groups.all()}
    now = timezone.now()
    for n, name in enumerate(["A", "A", "B"]):
        Participant.objects.create(study=study, prolific_pid=pid(100 + n), pseudonym=f"X{n}", seed=n, group=groups[name],
                                   arrived_at=now, consented_at=now, expires_at=now + timedelta(minutes=30))
    assert take_place(study, 1).group.name == "C"


def test_ties_are_broken_at_random(study):
    first_groups = set()
    for n in range(30):
        participant = take_place(study, n)
        if n % 3 == 0:
            first_groups.add(participant.group.name)
        Participant.objects.filter(study=study).delete()
    assert len(first_groups) > 1  # 30 draws from 3 tied groups: all equal has probability 3**-29


def test_an_expired_reservation_frees_its_place(study):
    now = timezone.now()
    first = take_place(study, 1, now)
    take_place(study, 2, now)
    take_place(study, 3, now)
    later = now + timedelta(minutes=31)
    Participant.objects.filter(pk=first.pk).update(expires_at=now + timedelta(minutes=5))
    others_fill = group_fill(study=study, now=later)
    assert others_fill[first.group_id] == 0

    newcomer = take_place(study, 4, now + timedelta(minutes=10))
    assert newcomer.group_id == first.group_id
    assert reservations_expire(now=now + timedelta(minutes=10)) == 1
    assert Participant.objects.get(pk=first.pk).status == Participant.Status.EXPIRED


def test_completed_participants_keep_their_place_after_the_time_limit(study):
    now = timezone.now()
    done = take_place(study, 1, now)
    Participant.objects.filter(pk=done.pk).update(status=Participant.Status.COMPLETED, completed_at=now)
    assert group_fill(study=study, now=now + timedelta(days=2))[done.group_id] == 1


def test_a_returned_participant_frees_their_place(study):
    participant = take_place(study, 1)
    participant_mark_returned(participant=participant)
    assert group_fill(study=study)[participant.group_id] == 0


def test_previews_never_take_a_place(study):
    for _ in range(4):
        preview = participant_preview(study=study)
        assert preview.is_preview
        assert participant_consent(participant=preview, consent=True).participant.group_id is not None
    assert sum(group_fill(study=study).values()) == 0


def test_a_full_study_takes_no_one_else(study):
    study.target_raters_per_item = 1
    study.save()
    for n in range(3):
        take_place(study, n)
    with pytest.raises(StudyFull):
        participant_arrive(study=study, prolific_pid=pid(9))
    assert participant_arrive(study=study, prolific_pid=pid(0), prolific_session_id="s0").prolific_pid == pid(0)


def test_the_same_pid_is_never_assigned_twice(study):
    first = participant_arrive(study=study, prolific_pid=pid(1), prolific_session_id="s1")
    again = participant_arrive(study=study, prolific_pid=pid(1), prolific_session_id="s1")
    assert first.pk == again.pk and Participant.objects.count() == 1


def test_a_group_without_items_gets_no_one(study):
    empty = ItemGroupFactory(study=study, name="D-empty")
    for n in range(6):
        assert take_place(study, n).group_id != empty.pk
    assert group_fill(study=study)[empty.pk] == 0

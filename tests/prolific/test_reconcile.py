"""Reconcile: Prolific's submissions beside our participants; returned/timed-out free places at once."""

import pytest

from prolific.models import ProlificSubmission
from prolific.selectors import Category
from prolific.services import submissions_reconcile
from surveys.models import Participant
from tests.factories import ItemGroupFactory, ParticipantFactory
from tests.prolific.conftest import PROLIFIC_STUDY, participant_on_prolific

pytestmark = pytest.mark.django_db


def by_who(report):
    return {row.who: row.category for row in report.rows}


def test_it_lists_each_kind_of_mismatch(fake, study):
    done, _ = participant_on_prolific(fake, study, status=Participant.Status.COMPLETED)
    not_submitted, _ = participant_on_prolific(fake, study, status=Participant.Status.COMPLETED, prolific_status="ACTIVE")
    returned, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="RETURNED")
    timed_out, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="TIMED-OUT")
    never_on_prolific = ParticipantFactory(study=study, status=Participant.Status.COMPLETED)
    fake.add_submission(PROLIFIC_STUDY, "stranger-pid")

    result = submissions_reconcile(study=study)

    categories = by_who(result.report)
    assert categories[done.pseudonym] == Category.MATCHED
    assert categories[not_submitted.pseudonym] == Category.COMPLETED_HERE_NOT_THERE
    assert categories[never_on_prolific.pseudonym] == Category.COMPLETED_HERE_NOT_THERE
    assert categories[returned.pseudonym] == Category.RETURNED
    assert categories[timed_out.pseudonym] == Category.TIMED_OUT
    strangers = [r for r in result.report.rows if r.category == Category.THERE_NOT_HERE]
    assert len(strangers) == 1 and strangers[0].who.startswith("h:") and "stranger-pid" not in strangers[0].who
    assert result.fetched == 5 and result.created == 5


def test_returned_and_timed_out_submissions_free_their_group_place(fake, study):
    group = ItemGroupFactory(study=study)
    returned, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="RETURNED", group=group)
    timed_out, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="TIMED-OUT", group=group)
    completed, _ = participant_on_prolific(
        fake, study, status=Participant.Status.COMPLETED, prolific_status="TIMED-OUT", group=group
    )

    result = submissions_reconcile(study=study)

    assert result.places_freed == 2
    returned.refresh_from_db(), timed_out.refresh_from_db(), completed.refresh_from_db()
    assert returned.status == Participant.Status.RETURNED
    assert timed_out.status == Participant.Status.EXPIRED
    assert completed.status == Participant.Status.COMPLETED  # their data stays; the report shows the mismatch


def test_a_participant_is_matched_by_pid_when_the_session_id_is_missing(fake, study):
    participant = ParticipantFactory(study=study, status=Participant.Status.COMPLETED, prolific_session_id="")
    fake.add_submission(PROLIFIC_STUDY, participant.prolific_pid)
    submissions_reconcile(study=study)
    assert ProlificSubmission.objects.get().participant == participant


def test_running_it_again_changes_nothing(fake, study):
    participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="RETURNED")
    participant_on_prolific(fake, study, status=Participant.Status.COMPLETED)
    first = submissions_reconcile(study=study)
    second = submissions_reconcile(study=study)
    assert (first.created, first.places_freed) == (2, 1)
    assert (second.created, second.changed, second.places_freed) == (0, 0, 0)
    assert [r.category for r in first.report.rows] == [r.category for r in second.report.rows]


def test_a_dry_run_reports_but_changes_nothing(fake, study):
    participant, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="RETURNED")
    result = submissions_reconcile(study=study, dry_run=True)
    assert result.report.counts[Category.RETURNED] == 1
    participant.refresh_from_db()
    assert participant.status == Participant.Status.ACTIVE
    assert not ProlificSubmission.objects.exists()


def test_statuses_spelled_with_underscores_mean_the_same(fake, study):
    """Prolific spells 'AWAITING REVIEW' and 'TIMED-OUT' but accepts underscores in filters."""
    timed_out, _ = participant_on_prolific(fake, study, status=Participant.Status.ACTIVE, prolific_status="TIMED_OUT")
    waiting, _ = participant_on_prolific(fake, study, status=Participant.Status.COMPLETED, prolific_status="AWAITING_REVIEW")
    result = submissions_reconcile(study=study)
    assert by_who(result.report)[timed_out.pseudonym] == Category.TIMED_OUT
    assert by_who(result.report)[waiting.pseudonym] == Category.MATCHED
    assert result.places_freed == 1
    assert set(ProlificSubmission.objects.values_list("status", flat=True)) == {"TIMED-OUT", "AWAITING REVIEW"}

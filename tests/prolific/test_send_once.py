"""What was sent but has no visible effect yet: stuck bulk approvals, unanswered return requests, redirects."""

from datetime import timedelta

import pytest

from prolific.client import MSG_OUTCOME_UNKNOWN, ProlificClient, ProlificOutcomeUnknown, ProlificRedirected
from prolific.models import ApiCall, ReviewAction
from prolific.selectors import review_plan
from prolific.services import MSG_APPROVAL_NOT_APPLIED, review_send, submissions_reconcile
from surveys.models import Participant
from tests.prolific.conftest import PROLIFIC_STUDY, TOKEN, participant_on_prolific

pytestmark = pytest.mark.django_db

BULK = r"/submissions/bulk-approve/"
RETURN = r"/submissions/.+/request-return/"


def action_of(participant) -> ReviewAction:
    return ReviewAction.objects.get(participant=participant)


def age(action: ReviewAction, seconds: float) -> None:
    """Pretend the action was sent ``seconds`` ago (instead of waiting)."""
    ReviewAction.objects.filter(pk=action.pk).update(sent_at=action.sent_at - timedelta(seconds=seconds))


# -- a bulk approval Prolific accepted but never applied ----------------------------------------------------
@pytest.fixture
def completed(fake, study):
    participant, sid = participant_on_prolific(fake, study, status=Participant.Status.COMPLETED)
    submissions_reconcile(study=study)
    return participant, sid


def test_an_accepted_bulk_approval_stays_sent_while_prolific_has_not_applied_it(fake, study, completed, settings):
    participant, sid = completed
    fake.state.bulk_approve_applies = False  # Prolific answers 200 and never approves
    review_send(study=study)
    assert fake.status_of(sid) == "AWAITING REVIEW"
    assert action_of(participant).state == ReviewAction.State.SENT
    assert review_plan(study=study).approvals == []  # within the grace period: not sent again
    submissions_reconcile(study=study)
    assert action_of(participant).state == ReviewAction.State.SENT


def test_a_bulk_approval_never_applied_is_planned_again_after_the_grace_period_and_then_confirmed(
    fake, study, completed, settings
):
    participant, sid = completed
    fake.state.bulk_approve_applies = False
    review_send(study=study)
    age(action_of(participant), settings.PROLIFIC_PENDING_GRACE_SECONDS + 1)

    result = submissions_reconcile(study=study)

    action = action_of(participant)
    assert result.replanned == 1
    assert action.state == ReviewAction.State.FAILED
    assert action.error == MSG_APPROVAL_NOT_APPLIED.format(minutes=f"{settings.PROLIFIC_PENDING_GRACE_SECONDS / 60:g}")
    assert [a.pseudonym for a in review_plan(study=study).approvals] == [participant.pseudonym]

    fake.state.bulk_approve_applies = True
    review_send(study=study)
    assert len(fake.requests_to("POST", BULK)) == 2
    assert [r["json"] for r in fake.requests_to("POST", BULK)] == [{"submission_ids": [sid]}] * 2
    assert fake.status_of(sid) == "APPROVED"
    action = action_of(participant)
    assert (action.state, action.attempts) == (ReviewAction.State.CONFIRMED, 2)


def test_a_bulk_approval_prolific_is_still_processing_is_not_planned_again(fake, study, completed, settings):
    participant, sid = completed
    fake.state.approve_lag = 100  # PROCESSING for the next 100 list calls
    review_send(study=study)
    age(action_of(participant), settings.PROLIFIC_PENDING_GRACE_SECONDS + 1)
    result = submissions_reconcile(study=study)
    assert result.replanned == 0
    assert fake.status_of(sid) == "PROCESSING"
    assert action_of(participant).state == ReviewAction.State.SENT
    assert review_plan(study=study).approvals == []


# -- a return request whose answer never came ----------------------------------------------------------------
@pytest.fixture
def declined(fake, study):
    participant, sid = participant_on_prolific(fake, study, status=Participant.Status.NO_CONSENT)
    submissions_reconcile(study=study)
    return participant, sid


def impatient_client(study):
    """A client that gives up on an answer quickly (the fake stalls far longer)."""
    return ProlificClient(token=TOKEN, study=study, timeout=0.5)


def test_a_return_request_that_timed_out_after_prolific_applied_it_is_not_sent_again(fake, study, declined):
    participant, sid = declined
    fake.stall_after_applying("POST", RETURN)
    with impatient_client(study) as client:
        result = review_send(study=study, client=client)
    fake.release.set()

    assert len(fake.requests_to("POST", RETURN)) == 1  # not retried by the client
    assert result.failed == []
    assert len(result.unknown) == 1 and participant.pseudonym in result.unknown[0]
    # Prolific did record it; the reconcile at the end of the send saw that.
    action = action_of(participant)
    assert action.state == ReviewAction.State.CONFIRMED
    review_send(study=study)
    assert len(fake.requests_to("POST", RETURN)) == 1  # and no later review sends it again


def test_an_unanswered_return_request_is_recorded_before_sending_and_waits_for_prolifics_state(
    fake, study, declined, settings
):
    participant, sid = declined
    # The connection drops before Prolific applies anything: no answer, nothing recorded on Prolific.
    fake.fail_next("POST", RETURN, 504, body={"error": {"status": 504, "title": "Gateway Timeout", "detail": "upstream"}})
    result = review_send(study=study)
    assert len(fake.requests_to("POST", RETURN)) == 1  # a 504 may hide an applied request: not retried
    assert len(result.unknown) == 1
    action = action_of(participant)
    assert action.state == ReviewAction.State.SENDING
    assert action.error.startswith("No answer came from Prolific to POST /api/v1/submissions/{submission_id}/request-return/")

    review_send(study=study)  # within the grace period: not sent again
    assert len(fake.requests_to("POST", RETURN)) == 1
    assert action_of(participant).state == ReviewAction.State.SENDING

    age(action_of(participant), settings.PROLIFIC_PENDING_GRACE_SECONDS + 1)
    review_send(study=study)  # Prolific shows no return request: now it is sent again, once
    assert len(fake.requests_to("POST", RETURN)) == 2
    action = action_of(participant)
    assert (action.state, action.attempts) == (ReviewAction.State.CONFIRMED, 2)


def test_a_return_request_is_still_retried_when_prolific_cannot_have_processed_it(fake, study, declined):
    participant, _ = declined
    fake.rate_limit_next(2, path_pattern=RETURN)
    result = review_send(study=study)
    assert result.unknown == [] and result.failed == []
    assert [c.status_code for c in ApiCall.objects.filter(path__endswith="request-return/").order_by("id")] == [429, 429, 200]
    assert action_of(participant).state == ReviewAction.State.CONFIRMED


def test_the_client_raises_outcome_unknown_instead_of_retrying_a_timed_out_unsafe_call(fake, study):
    sid = fake.add_submission(PROLIFIC_STUDY, "pid-x", status="ACTIVE")
    fake.stall_after_applying("POST", RETURN)
    with impatient_client(study) as client, pytest.raises(ProlificOutcomeUnknown) as caught:
        client.submission_request_return(sid, reasons=["Please return."], subject="someone")
    fake.release.set()
    assert str(caught.value) == MSG_OUTCOME_UNKNOWN.format(
        method="POST", path="/api/v1/submissions/{submission_id}/request-return/", error="ReadTimeout"
    )
    assert sid not in str(caught.value)
    assert len(fake.requests_to("POST", RETURN)) == 1


# -- redirects ------------------------------------------------------------------------------------------------
def test_a_redirect_is_an_error_and_is_not_followed(fake, study):
    fake.fail_next("GET", "/studies/", 302, headers={"Location": f"{fake.url}/elsewhere/"}, body={})
    with ProlificClient(token=TOKEN, study=study) as client, pytest.raises(ProlificRedirected) as caught:
        client.study_get(PROLIFIC_STUDY)
    assert caught.value.status_code == 302
    assert f"a redirect to {fake.url}/elsewhere/" in str(caught.value)
    assert "Redirects are not followed" in str(caught.value)
    assert fake.requests_to("GET", "/elsewhere/") == []
    assert len(fake.requests_to("GET", "/studies/")) == 1  # not retried either
    call = ApiCall.objects.get()
    assert (call.status_code, call.error) == (302, f"redirect to {fake.url}/elsewhere/")


def test_a_redirected_bulk_approval_counts_as_failed_not_sent(fake, study, completed):
    participant, sid = completed
    fake.fail_next("POST", BULK, 307, headers={"Location": "https://example.org/bulk-approve/"}, body={})
    result = review_send(study=study)
    assert len(result.failed) == 1 and "307" in result.failed[0]
    assert action_of(participant).state == ReviewAction.State.FAILED
    assert fake.status_of(sid) == "AWAITING REVIEW"
    assert [a.pseudonym for a in review_plan(study=study).approvals] == [participant.pseudonym]

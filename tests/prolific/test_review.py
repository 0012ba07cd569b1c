"""Review: approve who completed, reject who failed attention checks, ask the rest to return."""

import pytest

from prolific.models import ReviewAction
from prolific.selectors import review_plan
from prolific.services import (
    MSG_PLAN_CHANGED,
    ProlificOpsError,
    prolific_settings_get,
    review_send,
    submissions_reconcile,
)
from surveys.models import Participant
from tests.prolific.conftest import PROLIFIC_STUDY, participant_on_prolific

pytestmark = pytest.mark.django_db

POSTS = r"/submissions/(bulk-approve|.+/transition|.+/request-return)/"


@pytest.fixture
def cohort(fake, study):
    """Two who completed, one who failed three attention checks, one who declined consent, one still on Prolific only."""
    people = {
        "passed1": participant_on_prolific(fake, study, status=Participant.Status.COMPLETED),
        "passed2": participant_on_prolific(fake, study, status=Participant.Status.COMPLETED),
        "failed": participant_on_prolific(fake, study, status=Participant.Status.FAILED_CHECKS),
        "declined": participant_on_prolific(fake, study, status=Participant.Status.NO_CONSENT),
        "approved_already": participant_on_prolific(fake, study, status=Participant.Status.COMPLETED, prolific_status="APPROVED"),
    }
    fake.add_submission(PROLIFIC_STUDY, "unknown-person")
    submissions_reconcile(study=study)
    return people


def test_the_preview_lists_exactly_the_requests_that_will_be_sent(fake, study, cohort):
    plan = review_plan(study=study)
    (p1, p1_sid), (p2, p2_sid), (failed, failed_sid), (declined, declined_sid) = (
        cohort["passed1"], cohort["passed2"], cohort["failed"], cohort["declined"]
    )
    assert sorted(a.pseudonym for a in plan.approvals) == sorted([p1.pseudonym, p2.pseudonym])
    assert [a.pseudonym for a in plan.rejections] == [failed.pseudonym]
    assert [a.pseudonym for a in plan.returns] == [declined.pseudonym]
    assert plan.unmatched == 1
    message = prolific_settings_get(study=study).rejection_message
    # Prolific "strongly recommends" the submission-id variant of bulk approval.
    assert plan.requests[0]["path"] == "/api/v1/submissions/bulk-approve/"
    assert list(plan.requests[0]["json"]) == ["submission_ids"]
    assert sorted(plan.requests[0]["json"]["submission_ids"]) == sorted([p1_sid, p2_sid])
    assert plan.requests[1:] == [
        {"method": "POST", "path": f"/api/v1/submissions/{failed_sid}/transition/",
         "json": {"action": "REJECT", "message": message, "rejection_category": "FAILED_CHECK"}},
        {"method": "POST", "path": f"/api/v1/submissions/{declined_sid}/request-return/",
         "json": {"request_return_reasons": [prolific_settings_get(study=study).return_reason]}},
    ]  # fmt: skip

    review_send(study=study, expected_digest=plan.digest)

    sent = [{"method": r["method"], "path": r["path"], "json": r["json"]} for r in fake.requests_to("POST", POSTS)]
    assert sent == plan.requests


def test_sending_applies_the_decisions_on_prolific_and_confirms_them(fake, study, cohort):
    result = review_send(study=study)
    assert result.sent == {"approve": 2, "reject": 1, "request_return": 1}
    assert fake.status_of(cohort["passed1"][1]) == "APPROVED"
    assert fake.status_of(cohort["failed"][1]) == "REJECTED"
    states = dict(ReviewAction.objects.values_list("participant__pseudonym", "state"))
    assert set(states.values()) == {ReviewAction.State.CONFIRMED}
    assert len(states) == 4


def test_running_the_review_again_sends_nothing(fake, study, cohort):
    review_send(study=study)
    posts_before = len(fake.requests_to("POST", POSTS))
    again = review_send(study=study)
    assert again.sent == {}
    assert len(fake.requests_to("POST", POSTS)) == posts_before
    assert review_plan(study=study).is_empty


def test_an_approval_is_not_confirmed_until_prolific_reports_it(fake, study, cohort):
    fake.state.approve_lag = 2  # bulk approvals show as PROCESSING for the next two list fetches
    review_send(study=study)
    approvals = ReviewAction.objects.filter(action=ReviewAction.Action.APPROVE)
    assert set(approvals.values_list("state", flat=True)) == {ReviewAction.State.SENT}
    assert review_plan(study=study).is_empty  # sent and unconfirmed: not sent twice
    submissions_reconcile(study=study)  # Prolific now reports APPROVED
    assert set(approvals.values_list("state", flat=True)) == {ReviewAction.State.CONFIRMED}


def test_a_changed_plan_since_the_preview_sends_nothing(fake, study, cohort):
    digest = review_plan(study=study).digest
    participant_on_prolific(fake, study, status=Participant.Status.COMPLETED)  # arrives after the preview
    with pytest.raises(ProlificOpsError, match="changed since the preview"):
        review_send(study=study, expected_digest=digest)
    assert fake.requests_to("POST", POSTS) == []
    assert MSG_PLAN_CHANGED.startswith("What would be sent")


def test_a_rejection_message_under_100_characters_is_refused_before_sending(fake, study, cohort):
    settings_row = prolific_settings_get(study=study)
    settings_row.rejection_message = "Failed checks."
    settings_row.save()
    with pytest.raises(ProlificOpsError, match="requires at least 100"):
        review_send(study=study)
    assert fake.requests_to("POST", POSTS) == []


def test_a_refused_decision_is_recorded_and_retried_on_the_next_run(fake, study, cohort):
    fake.fail_next("POST", "/transition/", 400, body={"error": {"status": 400, "title": "Bad Request", "detail": "Nope."}})
    result = review_send(study=study)
    assert len(result.failed) == 1 and "Nope." in result.failed[0]
    failed = ReviewAction.objects.get(action=ReviewAction.Action.REJECT)
    assert failed.state == ReviewAction.State.FAILED
    retry = review_send(study=study)
    assert retry.sent == {"reject": 1}
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (ReviewAction.State.CONFIRMED, 2)


def test_a_bad_token_stops_the_review_with_a_clear_message(fake, study, cohort):
    fake.state.token = "rotated"
    with pytest.raises(Exception, match="refused the API token"):
        review_send(study=study)
    assert not ReviewAction.objects.filter(state=ReviewAction.State.CONFIRMED).exists()


def test_the_latest_analysis_excludes_answers_but_does_not_decide_pay_unless_the_study_opts_in(fake, study, cohort):
    from psychometrics.models import Analysis, ParticipantDecision

    (p1, _), (p2, _), (failed, _), (declined, _) = cohort["passed1"], cohort["passed2"], cohort["failed"], cohort["declined"]
    older = Analysis.objects.create(study=study, status=Analysis.Status.SUCCEEDED, rules={})
    ParticipantDecision.objects.create(analysis=older, participant=p1, kept=False, reasons=["identical_pvq21"])
    latest = Analysis.objects.create(study=study, status=Analysis.Status.SUCCEEDED, rules={})
    ParticipantDecision.objects.create(analysis=latest, participant=p1, kept=True)
    ParticipantDecision.objects.create(analysis=latest, participant=p2, kept=False, reasons=["too_fast"])
    ParticipantDecision.objects.create(
        analysis=latest, participant=failed, kept=False, reasons=["ended_by_failed_checks", "too_fast"]
    )
    Analysis.objects.create(study=study, status=Analysis.Status.FAILED, rules={})  # a failed run is ignored

    plan = review_plan(study=study)

    approvals = {a.pseudonym: a.reason for a in plan.approvals}
    assert sorted(approvals) == sorted([p1.pseudonym, p2.pseudonym])  # too fast: still paid
    assert approvals[p1.pseudonym] == "completed the study"  # the older analysis's exclusion is ignored
    assert approvals[p2.pseudonym] == (
        f"completed the study (analysis {latest.pk} excluded them for: completed faster than the minimum time; "
        "pay is not affected)"
    )
    assert [a.pseudonym for a in plan.rejections] == [failed.pseudonym]
    assert [a.pseudonym for a in plan.returns] == [declined.pseudonym]

    settings_row = prolific_settings_get(study=study)
    settings_row.return_excluded_for_quality = True
    settings_row.save()
    plan = review_plan(study=study)

    assert [a.pseudonym for a in plan.approvals] == [p1.pseudonym]
    assert [a.pseudonym for a in plan.rejections] == [failed.pseudonym]  # attention checks: still a rejection
    returns = {a.pseudonym: a.reason for a in plan.returns}
    assert sorted(returns) == sorted([p2.pseudonym, declined.pseudonym])
    assert returns[p2.pseudonym] == (
        f"excluded by analysis {latest.pk} for completed faster than the minimum time; "
        "returns for data quality are on for this study"
    )


def test_a_decision_prolific_applied_despite_an_error_answer_is_confirmed_by_the_next_reconcile(fake, study, cohort):
    failed_sid = cohort["failed"][1]
    fake.fail_next("POST", "/transition/", 502, times=10)  # every attempt answers 502 …
    result = review_send(study=study)
    assert len(result.failed) == 1
    reject = ReviewAction.objects.get(action=ReviewAction.Action.REJECT)
    assert reject.state == ReviewAction.State.FAILED
    fake.set_status(failed_sid, "REJECTED")  # … although Prolific had applied the rejection
    submissions_reconcile(study=study)
    reject.refresh_from_db()
    assert (reject.state, reject.error) == (ReviewAction.State.CONFIRMED, "")
    assert review_plan(study=study).rejections == []


def test_nothing_is_confirmed_approved_while_prolific_has_not_applied_the_bulk_approval(fake, study, cohort):
    fake.state.approve_lag = 10**6  # Prolific accepts the batch but never applies it
    review_send(study=study)
    approvals = ReviewAction.objects.filter(action=ReviewAction.Action.APPROVE)
    assert approvals.count() == 2
    assert not approvals.filter(state=ReviewAction.State.CONFIRMED).exists()
    assert fake.status_of(cohort["passed1"][1]) == "PROCESSING"

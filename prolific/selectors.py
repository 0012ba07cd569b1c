"""Read-only queries for Prolific operations: who passed, the reconcile report and the review plan."""

import hashlib
import json
from dataclasses import dataclass, field

from prolific.client import BULK_APPROVE_BATCH, pseudonymise
from prolific.models import (
    MIN_REJECTION_MESSAGE_LENGTH,
    ProlificSettings,
    ProlificSubmission,
    ReviewAction,
    SubmissionStatus,
)
from surveys.models import Participant, Study

REJECTION_CATEGORY_FAILED_CHECK = "FAILED_CHECK"
# Prolific statuses meaning "the participant finished and submitted on Prolific".
SUBMITTED_STATUSES = {
    SubmissionStatus.AWAITING_REVIEW,
    SubmissionStatus.PROCESSING,
    SubmissionStatus.APPROVED,
    SubmissionStatus.PARTIALLY_APPROVED,
    SubmissionStatus.REJECTED,
    SubmissionStatus.SCREENED_OUT,
}


@dataclass(frozen=True)
class Verdict:
    passed: bool
    failed_checks: bool
    reason: str


def participant_verdicts(*, study: Study) -> dict[int, Verdict]:
    """Whether each participant passed the quality filter, keyed by participant pk.

    This is the one place that decides who is paid. When the study has a succeeded psychometrics
    analysis, its per-participant decisions rule: kept passes; excluded for attention checks fails
    on attention checks (rejected); excluded for any other reason (too fast, identical or
    inconsistent answers, a researcher's exclusion) is asked to return rather than rejected.
    Participants the analysis did not cover (declined consent, finished after it ran) and studies
    without an analysis fall back to the survey's own rule: completed passes (completing means no
    more failed attention checks than allowed), ``failed_checks`` fails on attention checks,
    anything else did not pass for another reason.
    """
    from psychometrics.selectors import analysis_latest
    from psychometrics.stats.filtering import ENDED_BY_FAILED_CHECKS, FAILED_ATTENTION_CHECKS, REASONS

    verdicts = {}
    for pk, status in Participant.objects.filter(study=study, is_preview=False).values_list("pk", "status"):
        if status == Participant.Status.COMPLETED:
            verdicts[pk] = Verdict(True, False, "completed and passed the attention checks")
        elif status == Participant.Status.FAILED_CHECKS:
            verdicts[pk] = Verdict(False, True, "failed more attention checks than the study allows")
        elif status == Participant.Status.NO_CONSENT:
            verdicts[pk] = Verdict(False, False, "declined consent")
        else:
            verdicts[pk] = Verdict(False, False, f"did not finish the study here (status: {status})")
    analysis = analysis_latest(study=study, succeeded=True)
    if analysis is not None:
        attention = {ENDED_BY_FAILED_CHECKS, FAILED_ATTENTION_CHECKS}
        for pk, kept, reasons in analysis.decisions.values_list("participant_id", "kept", "reasons"):
            if pk not in verdicts:
                continue  # a preview
            if kept:
                verdicts[pk] = Verdict(True, False, f"kept by analysis {analysis.pk}")
            else:
                text = "; ".join(REASONS.get(code, code) for code in reasons) or "excluded"
                verdicts[pk] = Verdict(False, bool(attention & set(reasons)), f"analysis {analysis.pk}: {text}")
    return verdicts


def prolific_settings_for(*, study: Study) -> ProlificSettings:
    """The study's Prolific settings, or unsaved defaults when none were saved yet (reading creates nothing)."""
    return ProlificSettings.objects.filter(study=study).first() or ProlificSettings(study=study)


# -- reconcile report ---------------------------------------------------------------------------------
class Category:
    COMPLETED_HERE_NOT_THERE = "completed_here_not_there"
    THERE_NOT_HERE = "there_not_here"
    RETURNED = "returned"
    TIMED_OUT = "timed_out"
    ONLY_HERE = "only_here"
    MATCHED = "matched"


CATEGORY_LABELS = {
    Category.COMPLETED_HERE_NOT_THERE: "Completed here, not submitted on Prolific",
    Category.THERE_NOT_HERE: "On Prolific, no participant here",
    Category.RETURNED: "Returned on Prolific",
    Category.TIMED_OUT: "Timed out on Prolific",
    Category.ONLY_HERE: "Here only (not finished, no Prolific submission)",
    Category.MATCHED: "Matched",
}


@dataclass(frozen=True)
class ReconcileRow:
    category: str
    who: str  # pseudonym, or a keyed hash of the Prolific id when no participant matches
    local_status: str
    prolific_status: str

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self.category]


@dataclass
class ReconcileReport:
    rows: list[ReconcileRow]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def discrepancies(self) -> list[ReconcileRow]:
        return [r for r in self.rows if r.category != Category.MATCHED]


def _category(local_status: str | None, has_participant: bool, prolific_status: str | None) -> str:
    if prolific_status == SubmissionStatus.RETURNED:
        return Category.RETURNED
    if prolific_status == SubmissionStatus.TIMED_OUT:
        return Category.TIMED_OUT
    if not has_participant:
        return Category.THERE_NOT_HERE
    if local_status == Participant.Status.COMPLETED and prolific_status not in SUBMITTED_STATUSES:
        return Category.COMPLETED_HERE_NOT_THERE
    if prolific_status is None:
        return Category.ONLY_HERE
    return Category.MATCHED


def reconcile_report(*, study: Study) -> ReconcileReport:
    """Our participants beside Prolific's submissions (as last fetched), one row per person."""
    rows = []
    matched_participants = set()
    for status, pid, participant_id, pseudonym, local_status in ProlificSubmission.objects.filter(
        study=study
    ).values_list("status", "prolific_pid", "participant_id", "participant__pseudonym", "participant__status"):
        if participant_id is not None:
            matched_participants.add(participant_id)
        rows.append(
            ReconcileRow(
                category=_category(local_status, participant_id is not None, status),
                who=pseudonym if participant_id is not None else pseudonymise(pid),
                local_status=local_status or "",
                prolific_status=status,
            )
        )
    for pk, pseudonym, local_status in Participant.objects.filter(study=study, is_preview=False).values_list(
        "pk", "pseudonym", "status"
    ):
        if pk not in matched_participants:
            rows.append(ReconcileRow(_category(local_status, True, None), pseudonym, local_status, ""))
    order = list(CATEGORY_LABELS)
    rows.sort(key=lambda r: (order.index(r.category), r.who))
    counts = {c: sum(r.category == c for r in rows) for c in order}
    return ReconcileReport(rows=rows, counts=counts)


# -- review plan ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlannedAction:
    submission_pk: int
    submission_id: str
    prolific_pid: str
    participant_pk: int
    pseudonym: str
    action: str
    reason: str
    rejection_category: str = ""
    message: str = ""


@dataclass
class ReviewPlan:
    prolific_study_id: str
    approvals: list[PlannedAction]
    rejections: list[PlannedAction]
    returns: list[PlannedAction]
    requests: list[dict]  # exactly what will be sent, in order
    waiting: list[tuple[str, str]]  # (pseudonym, note): sent earlier, not yet confirmed by Prolific
    unmatched: int  # awaiting review on Prolific with no participant here: left for manual review
    problems: list[str]
    digest: str

    @property
    def is_empty(self) -> bool:
        return not (self.approvals or self.rejections or self.returns)


def review_plan(*, study: Study) -> ReviewPlan:
    """What a review would send to Prolific now, from the last reconcile.

    Only submissions Prolific shows as AWAITING REVIEW are considered, and none that already has
    a sent or confirmed action, so re-running after a send plans nothing (idempotent).
    """
    settings_row = prolific_settings_for(study=study)
    rejection_message, return_reason = settings_row.rejection_message, settings_row.return_reason
    verdicts = participant_verdicts(study=study)
    approvals, rejections, returns, waiting, problems = [], [], [], [], []
    unmatched = 0
    submissions = (
        ProlificSubmission.objects.filter(study=study, status=SubmissionStatus.AWAITING_REVIEW)
        .select_related("participant")
        .order_by("participant__pseudonym", "submission_id")
    )
    existing = {a.submission_id: a for a in ReviewAction.objects.filter(study=study)}
    for sub in submissions:
        participant = sub.participant
        if participant is None or participant.pk not in verdicts:
            unmatched += 1
            continue
        action = existing.get(sub.pk)
        if action is not None and action.state != ReviewAction.State.FAILED:
            waiting.append((participant.pseudonym, f"{action.get_action_display()}: {action.get_state_display()}"))
            continue
        verdict = verdicts[participant.pk]
        common = {
            "submission_pk": sub.pk,
            "submission_id": sub.submission_id,
            "prolific_pid": sub.prolific_pid,
            "participant_pk": participant.pk,
            "pseudonym": participant.pseudonym,
        }
        if verdict.passed:
            approvals.append(PlannedAction(action=ReviewAction.Action.APPROVE, reason=verdict.reason, **common))
        elif verdict.failed_checks:
            rejections.append(
                PlannedAction(
                    action=ReviewAction.Action.REJECT,
                    reason=verdict.reason,
                    rejection_category=REJECTION_CATEGORY_FAILED_CHECK,
                    message=rejection_message,
                    **common,
                )
            )
        else:
            returns.append(PlannedAction(action=ReviewAction.Action.REQUEST_RETURN, reason=verdict.reason, **common))
    if rejections and len(rejection_message) < MIN_REJECTION_MESSAGE_LENGTH:
        problems.append(
            f"The rejection message has {len(rejection_message)} characters; Prolific requires at least "
            f"{MIN_REJECTION_MESSAGE_LENGTH}. Edit it in the settings before sending."
        )
    # Bulk approval by submission id: Prolific "strongly recommends" it over study_id + participant_ids.
    approve_ids = [a.submission_id for a in approvals]
    requests = []
    for start in range(0, len(approve_ids), BULK_APPROVE_BATCH):
        requests.append(
            {
                "method": "POST",
                "path": "/api/v1/submissions/bulk-approve/",
                "json": {"submission_ids": approve_ids[start : start + BULK_APPROVE_BATCH]},
            }
        )
    for planned in rejections:
        requests.append(
            {
                "method": "POST",
                "path": f"/api/v1/submissions/{planned.submission_id}/transition/",
                "json": {"action": "REJECT", "message": planned.message, "rejection_category": planned.rejection_category},
            }
        )
    for planned in returns:
        requests.append(
            {
                "method": "POST",
                "path": f"/api/v1/submissions/{planned.submission_id}/request-return/",
                "json": {"request_return_reasons": [return_reason]},
            }
        )
    digest = hashlib.sha256(json.dumps(requests, sort_keys=True).encode()).hexdigest()[:16]
    return ReviewPlan(
        prolific_study_id=study.prolific_study_id,
        approvals=approvals,
        rejections=rejections,
        returns=returns,
        requests=requests,
        waiting=waiting,
        unmatched=unmatched,
        problems=problems,
        digest=digest,
    )


def webhook_match(*, submission_id: str, prolific_pid: str) -> tuple[Study | None, Participant | None]:
    """The study and participant a webhook event is about, by submission id first, then PROLIFIC_PID.

    A PROLIFIC_PID alone only matches when it is unambiguous (the same person may be in several studies).
    """
    if submission_id:
        sub = ProlificSubmission.objects.filter(submission_id=submission_id).select_related("study", "participant")
        sub = sub.first()
        if sub is not None:
            return sub.study, sub.participant
        participant = Participant.objects.filter(prolific_session_id=submission_id).select_related("study").first()
        if participant is not None:
            return participant.study, participant
    if prolific_pid:
        candidates = list(Participant.objects.filter(prolific_pid=prolific_pid).select_related("study")[:2])
        if len(candidates) == 1:
            return candidates[0].study, candidates[0]
    return None, None

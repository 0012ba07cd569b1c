"""Read-only queries for Prolific operations: who is paid, the reconcile report and the review plan."""

import hashlib
import json
from dataclasses import dataclass, field

from django.db.models import Count, Q

from prolific.client import BULK_APPROVE_BATCH
from prolific.models import (
    MIN_FAILED_CHECKS_TO_REJECT,
    MIN_REJECTION_MESSAGE_LENGTH,
    ProlificSettings,
    ProlificSubmission,
    ReviewAction,
    SubmissionStatus,
)
from prolific.redaction import pseudonymise
from psychometrics.stats.filtering import ATTENTION_REASONS, REASONS
from surveys.models import Participant, Study

REJECTION_CATEGORY_FAILED_CHECK = "FAILED_CHECK"
# Analysis exclusions that may cost pay, and then only as a return request when the study opts in:
# everything but attention checks (data quality, completion time, a researcher's exclusion).
PAY_RETURNABLE_REASONS = frozenset(REASONS) - ATTENTION_REASONS
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
    """What the review does with one participant's submission, and the basis shown for it."""

    action: str  # a ReviewAction.Action
    basis: str


def _checks_phrase(n: int) -> str:
    return f"{n} attention check{'' if n == 1 else 's'}"


def participant_verdicts(*, study: Study, return_excluded_for_quality: bool | None = None) -> dict[int, Verdict]:
    """What the review does with each participant, keyed by participant pk: the one place that decides pay.

    Pay follows Prolific's rules, not the analysis:

    - ``completed`` is approved, whatever an analysis decided about the answers (too fast,
      identical, inconsistent or outlying answers, a researcher's exclusion are data-quality
      decisions for the analysis, not pay decisions);
    - ``failed_checks`` with at least ``MIN_FAILED_CHECKS_TO_REJECT`` failed attention checks is
      rejected (Prolific allows rejection for at least two failed fair checks);
    - ``failed_checks`` with fewer failed checks (a study allowing none) is not rejected: having
      answered every page they are approved; had they not, they would be asked to return;
    - anyone else (declined consent, never finished here) is asked to return.

    Only when the study turns on ``return_excluded_for_quality`` (``None``: the saved setting) are
    participants who would be approved but whom the latest succeeded analysis excluded for a reason
    in ``PAY_RETURNABLE_REASONS`` asked to return instead; never rejected.
    """
    from psychometrics.selectors import analysis_latest

    if return_excluded_for_quality is None:
        return_excluded_for_quality = prolific_settings_for(study=study).return_excluded_for_quality
    analysis = analysis_latest(study=study, succeeded=True)
    exclusions = {}
    if analysis is not None:
        exclusions = dict(analysis.decisions.filter(kept=False).values_list("participant_id", "reasons"))
    rows = (
        Participant.objects.filter(study=study, is_preview=False)
        .annotate(n_failed=Count("checks", filter=Q(checks__passed=False)))
        .values_list("pk", "status", "completed_at", "n_failed")
    )
    verdicts = {}
    for pk, status, completed_at, n_failed in rows:
        finished = None  # the basis for paying someone who finished, unless the study opts in to returns
        if status == Participant.Status.COMPLETED:
            finished = "completed the study"
        elif status == Participant.Status.FAILED_CHECKS and n_failed >= MIN_FAILED_CHECKS_TO_REJECT:
            verdict = Verdict(
                ReviewAction.Action.REJECT,
                f"failed {_checks_phrase(n_failed)} (Prolific policy: at least {MIN_FAILED_CHECKS_TO_REJECT} "
                "failed fair checks allow a rejection)",
            )
        elif status == Participant.Status.FAILED_CHECKS and completed_at is not None:
            finished = (
                f"answered every page; failed {_checks_phrase(n_failed)}, more than the study's "
                f"{study.max_failed_checks} allowed, but Prolific allows rejection only for at least "
                f"{MIN_FAILED_CHECKS_TO_REJECT} failed checks"
            )
        elif status == Participant.Status.FAILED_CHECKS:
            verdict = Verdict(
                ReviewAction.Action.REQUEST_RETURN,
                f"did not finish the study (no finish time here) and failed {_checks_phrase(n_failed)}: fewer than "
                f"{MIN_FAILED_CHECKS_TO_REJECT} failed checks cannot be rejected under Prolific's policy",
            )
        elif status == Participant.Status.NO_CONSENT:
            verdict = Verdict(ReviewAction.Action.REQUEST_RETURN, "declined consent")
        else:
            verdict = Verdict(ReviewAction.Action.REQUEST_RETURN, f"did not finish the study here (status: {status})")
        if finished is not None:
            verdict = _finished_verdict(finished, analysis, exclusions.get(pk), return_excluded_for_quality)
        verdicts[pk] = verdict
    return verdicts


def _finished_verdict(basis: str, analysis, reasons: list[str] | None, quality_returns_on: bool) -> Verdict:
    """Approve someone who finished, unless the study asks those excluded for data quality to return."""
    if reasons is None:
        return Verdict(ReviewAction.Action.APPROVE, basis)
    text = "; ".join(REASONS.get(code, code) for code in reasons) or "no reason recorded"
    returnable = PAY_RETURNABLE_REASONS & set(reasons)
    if quality_returns_on and returnable:
        returnable_text = "; ".join(REASONS.get(code, code) for code in reasons if code in returnable)
        return Verdict(
            ReviewAction.Action.REQUEST_RETURN,
            f"excluded by analysis {analysis.pk} for {returnable_text}; returns for data quality are on for this study",
        )
    return Verdict(
        ReviewAction.Action.APPROVE, f"{basis} (analysis {analysis.pk} excluded them for: {text}; pay is not affected)"
    )


def quality_returns_count(*, study: Study) -> int:
    """How many participants turning on ``return_excluded_for_quality`` would ask to return now.

    They are those who would otherwise be approved but whom the latest succeeded analysis excluded
    for a reason in ``PAY_RETURNABLE_REASONS``.
    """
    off = participant_verdicts(study=study, return_excluded_for_quality=False)
    on = participant_verdicts(study=study, return_excluded_for_quality=True)
    return sum(off[pk].action != on[pk].action for pk in off)


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
    quality_returns_on: bool = False  # the study asks participants excluded for data quality to return

    @property
    def is_empty(self) -> bool:
        return not (self.approvals or self.rejections or self.returns)


def review_plan(*, study: Study) -> ReviewPlan:
    """What a review would send to Prolific now, from the last reconcile, each decision with its basis.

    Decisions come from ``participant_verdicts`` (Prolific's rules; analysis exclusions only when the
    study opts in to returns for data quality). Only submissions Prolific shows as AWAITING REVIEW
    are considered, and none that already has a sent or confirmed action, so re-running after a
    send plans nothing (idempotent).
    """
    settings_row = prolific_settings_for(study=study)
    rejection_message, return_reason = settings_row.rejection_message, settings_row.return_reason
    verdicts = participant_verdicts(study=study, return_excluded_for_quality=settings_row.return_excluded_for_quality)
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
        if verdict.action == ReviewAction.Action.APPROVE:
            approvals.append(PlannedAction(action=verdict.action, reason=verdict.basis, **common))
        elif verdict.action == ReviewAction.Action.REJECT:
            rejections.append(
                PlannedAction(
                    action=verdict.action,
                    reason=verdict.basis,
                    rejection_category=REJECTION_CATEGORY_FAILED_CHECK,
                    message=rejection_message,
                    **common,
                )
            )
        else:
            returns.append(PlannedAction(action=verdict.action, reason=verdict.basis, **common))
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
        quality_returns_on=settings_row.return_excluded_for_quality,
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

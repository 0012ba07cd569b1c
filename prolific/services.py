"""Services that change Prolific-related state. Views, the webhook endpoint and the command call these.

HTTP calls never run inside a database transaction: a slow or retried call must not hold locks,
and the API call log must survive a failure.
"""

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from prolific.client import (
    BULK_APPROVE_BATCH,
    ProlificAuthError,
    ProlificClient,
    ProlificError,
    ProlificOutcomeUnknown,
)
from prolific.models import (
    MIN_REJECTION_MESSAGE_LENGTH,
    ProlificSettings,
    ProlificSubmission,
    ReviewAction,
    SubmissionStatus,
    WebhookEvent,
    submission_status_normalise,
)
from prolific.secrets_box import SecretUnreadable, secret_decrypt, secret_encrypt, secret_hint
from prolific.selectors import (
    PlannedAction,
    ReconcileReport,
    prolific_settings_for,
    quality_returns_count,
    reconcile_report,
    review_plan,
)
from surveys.models import Participant, Study
from surveys.services import participant_mark_returned


class ProlificOpsError(Exception):
    """A domain error whose message is shown to the researcher as is."""


MSG_NO_STUDY_ID = "Study '{slug}' has no Prolific study id yet: set it in the Prolific settings first."
MSG_NO_CREDENTIALS = (
    "Study '{slug}' has no Prolific API token: store one, or name an environment variable that holds it."
)
MSG_ENV_UNSET = "The environment variable {var} (the Prolific token source of study '{slug}') is not set."
MSG_BAD_ENV_NAME = "'{value}' is not an environment variable name (letters, digits and underscores only)."
MSG_ENV_NOT_ALLOWED = (
    "Study '{slug}' may not read its Prolific token from ${var}: the server operator lists the variables each "
    "study may use in PROLIFIC_TOKEN_ENV_VARS{choices}."
)
MSG_ENV_MISCONFIGURED = "PROLIFIC_TOKEN_ENV_VARS is misconfigured: {problem}"
MSG_TWO_SOURCES = "Give either a token to store or an environment variable name, not both."
MSG_SHORT_MESSAGE = "The rejection message has {n} characters; Prolific requires at least {min}."
MSG_PLAN_CHANGED = (
    "What would be sent to Prolific has changed since the preview (new submissions or statuses). "
    "Nothing was sent: preview the review again."
)
MSG_PLAN_PROBLEMS = "Nothing was sent: {problems}"
MSG_CONFIRM_QUALITY_RETURNS = (
    "Turning on returns for data quality asks {n} participant(s) who finished the study to return instead of "
    "paying them (the latest analysis excluded them). Confirm: \"Yes, ask these {n} participants to return\"."
)

ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# The server's own secrets are never a study's token source, whatever PROLIFIC_TOKEN_ENV_VARS says.
SERVER_SECRET_VARS = frozenset({
    "DJANGO_SECRET_KEY", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "REDIS_URL",
    "PROLIFIC_TOKEN_KEY", "PROLIFIC_WEBHOOK_SECRET", "BENCHMARK_CREDENTIALS", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
})

# Forward order of Prolific statuses: a webhook event never moves a submission backwards.
STATUS_RANK = {
    SubmissionStatus.RESERVED: 0,
    SubmissionStatus.ACTIVE: 1,
    SubmissionStatus.AWAITING_REVIEW: 2,
    SubmissionStatus.PROCESSING: 3,
    SubmissionStatus.TIMED_OUT: 4,
    SubmissionStatus.RETURNED: 4,
    SubmissionStatus.APPROVED: 5,
    SubmissionStatus.PARTIALLY_APPROVED: 5,
    SubmissionStatus.REJECTED: 5,
    SubmissionStatus.SCREENED_OUT: 5,
}
KNOWN_STATUSES = set(SubmissionStatus.values)


# -- settings and tokens ----------------------------------------------------------------------------
def prolific_settings_get(*, study: Study) -> ProlificSettings:
    settings_row, _ = ProlificSettings.objects.get_or_create(study=study)
    return settings_row


@transaction.atomic
def prolific_settings_update(
    *,
    study: Study,
    prolific_study_id: str | None = None,
    token: str | None = None,
    token_env_var: str | None = None,
    webhook_secret: str | None = None,
    rejection_message: str | None = None,
    return_reason: str | None = None,
    return_excluded_for_quality: bool | None = None,
    confirmed_quality_returns: int | None = None,
) -> ProlificSettings:
    """Change a study's Prolific settings; ``None`` leaves a field as it is.

    A new token replaces an environment-variable source and vice versa. Turning on
    ``return_excluded_for_quality`` needs ``confirmed_quality_returns`` equal to the number of
    participants it would ask to return now (``quality_returns_count``), so the researcher has
    seen that number. Raises ProlificOpsError.
    """
    settings_row = ProlificSettings.objects.select_for_update().get(pk=prolific_settings_get(study=study).pk)
    token = (token or "").strip() or None
    if token is not None and token_env_var:
        raise ProlificOpsError(MSG_TWO_SOURCES)
    if prolific_study_id is not None:
        Study.objects.filter(pk=study.pk).update(prolific_study_id=prolific_study_id.strip())
        study.prolific_study_id = prolific_study_id.strip()
    if token is not None:
        settings_row.token_encrypted = secret_encrypt(token)
        settings_row.token_hint = secret_hint(token)
        settings_row.token_env_var = ""
    elif token_env_var:
        token_env_var = token_env_var.strip()
        if not ENV_NAME_RE.match(token_env_var):
            raise ProlificOpsError(MSG_BAD_ENV_NAME.format(value=token_env_var))
        _env_var_check(study=study, var=token_env_var)
        settings_row.token_env_var = token_env_var
        settings_row.token_encrypted = ""
        settings_row.token_hint = ""
    if webhook_secret:
        settings_row.webhook_secret_encrypted = secret_encrypt(webhook_secret.strip())
        settings_row.webhook_secret_hint = secret_hint(webhook_secret.strip())
    if rejection_message is not None:
        rejection_message = rejection_message.strip()
        if len(rejection_message) < MIN_REJECTION_MESSAGE_LENGTH:
            raise ProlificOpsError(MSG_SHORT_MESSAGE.format(n=len(rejection_message), min=MIN_REJECTION_MESSAGE_LENGTH))
        settings_row.rejection_message = rejection_message
    if return_reason is not None and return_reason.strip():
        settings_row.return_reason = return_reason.strip()
    if return_excluded_for_quality and not settings_row.return_excluded_for_quality:
        affected = quality_returns_count(study=study)
        if confirmed_quality_returns != affected:
            raise ProlificOpsError(MSG_CONFIRM_QUALITY_RETURNS.format(n=affected))
    if return_excluded_for_quality is not None:
        settings_row.return_excluded_for_quality = return_excluded_for_quality
    settings_row.full_clean()
    settings_row.save()
    return settings_row


def token_env_config_problems() -> list[str]:
    """What is wrong with PROLIFIC_TOKEN_ENV_VARS, one sentence each (also a system check)."""
    config = settings.PROLIFIC_TOKEN_ENV_VARS
    if not isinstance(config, dict):
        return ["it must be a JSON object mapping a variable name to a list of study slugs or \"*\"."]
    credential_vars = {
        entry.get("env") for entry in (settings.BENCHMARK_CREDENTIALS or {}).values() if isinstance(entry, dict)
    }
    problems = []
    for name, studies in config.items():
        if not isinstance(name, str) or not ENV_NAME_RE.match(name):
            problems.append(f"{name!r} is not an environment variable name.")
        elif name in SERVER_SECRET_VARS or name in credential_vars:
            problems.append(f"{name} holds a server secret and cannot be a study's Prolific token.")
        if not (studies == "*" or (isinstance(studies, list) and all(isinstance(slug, str) for slug in studies))):
            problems.append(f"the value for {name!r} must be \"*\" or a list of study slugs.")
    return problems


def token_env_vars_for(*, study: Study) -> list[str]:
    """The environment variables this study may name as its token source (PROLIFIC_TOKEN_ENV_VARS)."""
    problems = token_env_config_problems()
    if problems:
        raise ProlificOpsError(MSG_ENV_MISCONFIGURED.format(problem=" ".join(problems)))
    return sorted(
        name for name, studies in settings.PROLIFIC_TOKEN_ENV_VARS.items() if studies == "*" or study.slug in studies
    )


def _env_var_check(*, study: Study, var: str) -> None:
    allowed = token_env_vars_for(study=study)
    if var not in allowed:
        choices = f" (for this study: {', '.join(allowed)})" if allowed else " (none for this study)"
        raise ProlificOpsError(MSG_ENV_NOT_ALLOWED.format(slug=study.slug, var=var, choices=choices))


def study_token(*, study: Study) -> str:
    """The study's API token, decrypted or read from its environment variable. Raises ProlificOpsError."""
    settings_row = ProlificSettings.objects.filter(study=study).first()
    if settings_row is None or not (settings_row.token_encrypted or settings_row.token_env_var):
        raise ProlificOpsError(MSG_NO_CREDENTIALS.format(slug=study.slug))
    if settings_row.token_env_var:
        _env_var_check(study=study, var=settings_row.token_env_var)  # the allow-list may have changed since
        value = os.environ.get(settings_row.token_env_var, "").strip()
        if not value:
            raise ProlificOpsError(MSG_ENV_UNSET.format(var=settings_row.token_env_var, slug=study.slug))
        return value
    return secret_decrypt(settings_row.token_encrypted)


def token_description(*, study: Study) -> str:
    """How the token is configured, safe to show: never more than its last four characters."""
    settings_row = ProlificSettings.objects.filter(study=study).first()
    if settings_row is None or not (settings_row.token_encrypted or settings_row.token_env_var):
        return "not configured"
    if settings_row.token_env_var:
        try:
            _env_var_check(study=study, var=settings_row.token_env_var)
        except ProlificOpsError:
            return f"from ${settings_row.token_env_var} (no longer allowed for this study: nothing is read from it)"
        value = os.environ.get(settings_row.token_env_var, "").strip()
        return f"from ${settings_row.token_env_var} ({secret_hint(value) if value else 'not set'})"
    return f"stored encrypted ({settings_row.token_hint})"


def prolific_client_for(*, study: Study, **kwargs) -> ProlificClient:
    if not study.prolific_study_id:
        raise ProlificOpsError(MSG_NO_STUDY_ID.format(slug=study.slug))
    return ProlificClient(token=study_token(study=study), study=study, **kwargs)


def prolific_study_check(*, study: Study, client: ProlificClient | None = None) -> dict:
    """Fetch the study from Prolific: proves the token and study id work. Raises ProlificError."""
    client = client or prolific_client_for(study=study)
    return client.study_get(study.prolific_study_id)


# -- applying Prolific statuses --------------------------------------------------------------------------
def _participant_follow(participant: Participant | None, status: str) -> bool:
    """Free the participant's group place when Prolific says they returned or timed out.

    Returns True when a place was freed. Only active participants change: a participant who
    completed here keeps their data and place (the reconcile report lists the mismatch).
    """
    if participant is None or participant.status != Participant.Status.ACTIVE:
        return False
    if status == SubmissionStatus.RETURNED:
        return participant_mark_returned(participant=participant).status == Participant.Status.RETURNED
    if status == SubmissionStatus.TIMED_OUT:
        return bool(
            Participant.objects.filter(pk=participant.pk, status=Participant.Status.ACTIVE).update(
                status=Participant.Status.EXPIRED
            )
        )
    return False


EXPECTED_STATUS = {
    ReviewAction.Action.APPROVE: SubmissionStatus.APPROVED,
    ReviewAction.Action.REJECT: SubmissionStatus.REJECTED,
    ReviewAction.Action.REQUEST_RETURN: SubmissionStatus.RETURNED,
}


MSG_APPROVAL_NOT_APPLIED = (
    "Prolific accepted the bulk approval but still shows the submission awaiting review {minutes} minutes later; "
    "the next review sends it again."
)
MSG_RETURN_NOT_RECORDED = (
    "No answer came to the return request and Prolific shows no return request {minutes} minutes later; "
    "the next review sends it again."
)


def _confirm_actions(actions, now: datetime, *, fetched_at: datetime | None = None) -> int:
    """Mark sent review actions confirmed (or failed) from the submission status Prolific reports.

    A return request counts as confirmed once Prolific records it (``return_requested``); an
    action whose submission reached another final status failed. A failed action is confirmed too
    when Prolific shows its outcome after all (the call timed out or errored after Prolific applied it).

    ``fetched_at`` is when the statuses were fetched from Prolific (a reconcile; not a webhook event,
    which says nothing about return requests). Then a bulk approval whose submission Prolific still
    shows awaiting review, and a return request that got no answer and that Prolific has not
    recorded, both sent more than ``PROLIFIC_PENDING_GRACE_SECONDS`` before, fail: the next review
    plans them again. Returns how many were planned again that way.
    """
    confirmed, failed, replanned = [], [], []
    grace = settings.PROLIFIC_PENDING_GRACE_SECONDS
    cutoff = fetched_at - timedelta(seconds=grace) if fetched_at is not None else None
    minutes = f"{grace / 60:g}"
    states = [ReviewAction.State.SENDING, ReviewAction.State.SENT, ReviewAction.State.FAILED]
    for action in actions.filter(state__in=states).select_related("submission"):
        submission = action.submission
        if submission.status == EXPECTED_STATUS[action.action] or (
            action.action == ReviewAction.Action.REQUEST_RETURN and submission.return_requested_at
        ):
            action.state, action.confirmed_at, action.error = ReviewAction.State.CONFIRMED, now, ""
            confirmed.append(action)
        elif (
            action.state != ReviewAction.State.FAILED
            and STATUS_RANK.get(submission.status, 0) >= STATUS_RANK[SubmissionStatus.TIMED_OUT]
        ):
            action.state, action.error = ReviewAction.State.FAILED, f"Prolific reports the submission as {submission.status}."
            failed.append(action)
        elif cutoff is None or action.sent_at > cutoff:
            continue
        elif (
            action.action == ReviewAction.Action.APPROVE
            and action.state == ReviewAction.State.SENT
            and submission.status == SubmissionStatus.AWAITING_REVIEW
        ):
            action.state, action.error = ReviewAction.State.FAILED, MSG_APPROVAL_NOT_APPLIED.format(minutes=minutes)
            replanned.append(action)
        elif action.action == ReviewAction.Action.REQUEST_RETURN and action.state == ReviewAction.State.SENDING:
            action.state, action.error = ReviewAction.State.FAILED, MSG_RETURN_NOT_RECORDED.format(minutes=minutes)
            replanned.append(action)
    ReviewAction.objects.bulk_update(confirmed, ["state", "confirmed_at", "error"], batch_size=500)
    ReviewAction.objects.bulk_update(failed + replanned, ["state", "error"], batch_size=500)
    return len(replanned)


@dataclass
class ReconcileResult:
    fetched: int
    created: int
    changed: int
    places_freed: int
    report: ReconcileReport
    dry_run: bool = False
    replanned: int = 0  # sent decisions Prolific never applied, planned again for the next review
    pending: int = 0  # sent decisions still awaiting Prolific's confirmation


def submissions_reconcile(
    *, study: Study, client: ProlificClient | None = None, dry_run: bool = False, now: datetime | None = None
) -> ReconcileResult:
    """Fetch every submission of the study from Prolific and record it beside our participants.

    Returned and timed-out submissions free their group place at once; sent review actions are
    confirmed when Prolific shows the result. With ``dry_run`` the report is computed and every
    change rolled back. Idempotent: a second run with the same Prolific data changes nothing.
    """
    client = client or prolific_client_for(study=study)
    fetched_at = now or timezone.now()
    rows = client.submissions_list(study.prolific_study_id)  # outside the transaction
    now = now or timezone.now()
    created = changed = freed = 0
    with transaction.atomic():
        Study.objects.select_for_update().filter(pk=study.pk).first()
        # Plain values, not model instances: a steady-state reconcile of thousands of rows stays cheap.
        known = {
            row[0]: row[1:]
            for row in ProlificSubmission.objects.filter(study=study).values_list(
                "submission_id", "pk", "status", "participant_id", "return_requested_at"
            )
        }
        participant_status, by_session, by_pid = {}, {}, {}
        for pk, session_id, pid, status in Participant.objects.filter(study=study).values_list(
            "pk", "prolific_session_id", "prolific_pid", "status"
        ):
            participant_status[pk] = status
            by_pid[pid] = pk
            if session_id:
                by_session[session_id] = pk
        new, updated = [], []
        for row in rows:
            submission_id, pid = str(row.get("id", "")), str(row.get("participant_id") or row.get("participant") or "")
            status = submission_status_normalise(row.get("status")) or SubmissionStatus.UNKNOWN
            if not submission_id:
                continue
            entry = known.get(submission_id)
            if entry is None:
                sub = ProlificSubmission(study=study, submission_id=submission_id, prolific_pid=pid)
                new.append(sub)
            else:
                pk, old_status, participant_id, return_requested_at = entry
                if (
                    old_status == status
                    and participant_id is not None
                    and (return_requested_at is not None or not row.get("return_requested"))
                ):
                    continue
                changed += old_status != status
                sub = ProlificSubmission(
                    pk=pk, study=study, submission_id=submission_id, prolific_pid=pid,
                    participant_id=participant_id, return_requested_at=return_requested_at,
                )  # fmt: skip
                updated.append(sub)
            sub.status, sub.status_at = status, now
            sub.participant_id = sub.participant_id or by_session.get(submission_id) or by_pid.get(pid)
            sub.started_at = parse_datetime(row["started_at"]) if row.get("started_at") else None
            sub.completed_at = parse_datetime(row["completed_at"]) if row.get("completed_at") else None
            if row.get("return_requested"):
                sub.return_requested_at = parse_datetime(row["return_requested"])
        ProlificSubmission.objects.bulk_create(new, batch_size=500)
        ProlificSubmission.objects.bulk_update(
            updated,
            ["status", "status_at", "participant", "started_at", "completed_at", "return_requested_at"],
            batch_size=500,
        )
        created = len(new)
        for sub in new + updated:
            if sub.participant_id is not None:
                participant = Participant(pk=sub.participant_id, status=participant_status[sub.participant_id])
                freed += _participant_follow(participant, sub.status)
        replanned = _confirm_actions(ReviewAction.objects.filter(study=study), now, fetched_at=fetched_at)
        pending = ReviewAction.objects.filter(
            study=study, state__in=[ReviewAction.State.SENDING, ReviewAction.State.SENT]
        ).count()
        report = reconcile_report(study=study)
        if dry_run:
            transaction.set_rollback(True)
    return ReconcileResult(len(rows), created, changed, freed, report, dry_run, replanned, pending)


@dataclass(frozen=True)
class EventOutcome:
    outcome: str
    duplicate: bool = False
    place_freed: bool = False


def webhook_event_record(
    *, event_id: str, event_type: str, payload: dict, event_at: datetime, study: Study | None, participant=None
) -> EventOutcome:
    """Record one verified webhook event and apply it if it moves the submission forward.

    De-duplicated by ``event_id`` (a redelivery changes nothing). Out-of-order delivery is
    tolerated: a status that ranks below the current one, or an equal-rank status with an older
    timestamp, is stored as ``stale`` and not applied.
    """
    status = submission_status_normalise(payload.get("status"))
    submission_id = str(payload.get("resource_id", ""))
    try:
        with transaction.atomic():
            if event_type != "submission.status.change":
                WebhookEvent.objects.create(
                    event_id=event_id, event_type=event_type, study=study, event_at=event_at,
                    outcome=WebhookEvent.Outcome.IGNORED,
                )  # fmt: skip
                return EventOutcome(WebhookEvent.Outcome.IGNORED)
            if study is None or status not in KNOWN_STATUSES:
                WebhookEvent.objects.create(
                    event_id=event_id, event_type=event_type, status=status[:24], event_at=event_at,
                    outcome=WebhookEvent.Outcome.UNMATCHED,
                )  # fmt: skip
                return EventOutcome(WebhookEvent.Outcome.UNMATCHED)
            Study.objects.select_for_update().filter(pk=study.pk).first()
            sub = ProlificSubmission.objects.filter(submission_id=submission_id).first()
            outcome, freed = WebhookEvent.Outcome.APPLIED, False
            if sub is None:
                sub = ProlificSubmission.objects.create(
                    study=study, submission_id=submission_id, prolific_pid=str(payload.get("participant_id", "")),
                    participant=participant, status=status, status_at=event_at,
                )  # fmt: skip
            elif _moves_forward(sub, status, event_at):
                sub.status, sub.status_at = status, event_at
                sub.participant = sub.participant or participant
                sub.save(update_fields=["status", "status_at", "participant"])
            else:
                outcome = WebhookEvent.Outcome.STALE
            if outcome == WebhookEvent.Outcome.APPLIED:
                freed = _participant_follow(sub.participant, status)
                _confirm_actions(ReviewAction.objects.filter(submission=sub), timezone.now())
            WebhookEvent.objects.create(
                event_id=event_id, event_type=event_type, study=study, submission=sub, status=status,
                event_at=event_at, outcome=outcome,
            )  # fmt: skip
            return EventOutcome(outcome, place_freed=freed)
    except IntegrityError:
        previous = WebhookEvent.objects.filter(event_id=event_id).first()
        if previous is None:
            raise
        return EventOutcome(previous.outcome, duplicate=True)


def _moves_forward(sub: ProlificSubmission, status: str, event_at: datetime) -> bool:
    new_rank, current_rank = STATUS_RANK.get(status, -1), STATUS_RANK.get(sub.status, -1)
    if new_rank != current_rank:
        return new_rank > current_rank
    return status != sub.status and event_at > sub.status_at


# -- review ---------------------------------------------------------------------------------------------
@dataclass
class ReviewResult:
    sent: dict[str, int] = field(default_factory=dict)
    confirmed: int = 0
    failed: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # no answer came; not sent again until Prolific's state is known


def _record_actions(
    study: Study, planned: list[PlannedAction], *, state: str, now: datetime, error: str = ""
) -> None:
    """Create or update the review action of each planned decision (one row per submission)."""
    existing = {a.submission_id: a for a in ReviewAction.objects.filter(submission_id__in=[p.submission_pk for p in planned])}
    create, update = [], []
    for item in planned:
        action = existing.get(item.submission_pk)
        if action is None:
            action = ReviewAction(study=study, submission_id=item.submission_pk, participant_id=item.participant_pk)
            create.append(action)
        else:
            if not (action.state == ReviewAction.State.SENDING and action.sent_at == now):
                action.attempts += 1  # not for the outcome of the attempt whose intent was just recorded
            update.append(action)
        action.action, action.state, action.error, action.sent_at = item.action, state, error, now
        action.rejection_category, action.message, action.reason = item.rejection_category, item.message, item.reason
    ReviewAction.objects.bulk_create(create, batch_size=500)
    fields = ["action", "state", "error", "sent_at", "rejection_category", "message", "reason", "attempts"]
    ReviewAction.objects.bulk_update(update, fields, batch_size=500)


def review_send(
    *,
    study: Study,
    expected_digest: str | None = None,
    client: ProlificClient | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> ReviewResult:
    """Send the review plan to Prolific: bulk-approve, reject and ask to return as ``review_plan`` decided.

    Reconciles first so the plan rests on Prolific's current statuses, refuses to send when the
    plan differs from the previewed ``expected_digest``, and reconciles again afterwards so that
    only outcomes Prolific reports are marked confirmed. Raises ProlificOpsError or ProlificAuthError.
    """
    client = client or prolific_client_for(study=study)
    progress = progress or (lambda items: items)
    submissions_reconcile(study=study, client=client)
    plan = review_plan(study=study)
    if expected_digest is not None and plan.digest != expected_digest:
        raise ProlificOpsError(MSG_PLAN_CHANGED)
    if plan.problems:
        raise ProlificOpsError(MSG_PLAN_PROBLEMS.format(problems=" ".join(plan.problems)))
    result = ReviewResult()
    settings_row = prolific_settings_for(study=study)
    batches = [plan.approvals[i : i + BULK_APPROVE_BATCH] for i in range(0, len(plan.approvals), BULK_APPROVE_BATCH)]
    steps = [("approve", batch) for batch in batches] + [("one", item) for item in plan.rejections + plan.returns]
    for kind, work in progress(steps):
        now = timezone.now()
        items = work if kind == "approve" else [work]
        try:
            if kind == "approve":
                client.submissions_bulk_approve([a.submission_id for a in work])
                state = ReviewAction.State.SENT  # Prolific applies bulk approvals asynchronously
            elif work.action == ReviewAction.Action.REJECT:
                body = client.submission_transition(
                    work.submission_id, action="REJECT", message=work.message,
                    rejection_category=work.rejection_category, subject=work.pseudonym,
                )  # fmt: skip
                state = _state_from_response(body, SubmissionStatus.REJECTED)
            else:
                # Intent first: if the answer is lost (or this process dies), the action is SENDING, which no
                # review sends again until a reconcile has shown whether Prolific recorded the request.
                _record_actions(study, items, state=ReviewAction.State.SENDING, now=now)
                client.submission_request_return(
                    work.submission_id, reasons=[settings_row.return_reason], subject=work.pseudonym
                )
                state = ReviewAction.State.SENT
            _record_actions(study, items, state=state, now=now)
            for item in items:
                result.sent[str(item.action)] = result.sent.get(str(item.action), 0) + 1
        except ProlificOutcomeUnknown as exc:
            _record_actions(study, items, state=ReviewAction.State.SENDING, now=now, error=str(exc))
            result.unknown.extend(f"{item.pseudonym}: {exc}" for item in items)
        except ProlificAuthError as exc:
            _record_actions(study, items, state=ReviewAction.State.FAILED, now=now, error=str(exc))
            raise
        except ProlificError as exc:
            _record_actions(study, items, state=ReviewAction.State.FAILED, now=now, error=str(exc))
            result.failed.extend(f"{item.pseudonym}: {exc}" for item in items)
    submissions_reconcile(study=study, client=client)  # confirmation comes from Prolific's own statuses
    result.confirmed = ReviewAction.objects.filter(study=study, state=ReviewAction.State.CONFIRMED).count()
    return result


def _state_from_response(body, expected_status: str) -> str:
    if isinstance(body, dict) and submission_status_normalise(body.get("status")) == expected_status:
        return ReviewAction.State.CONFIRMED
    return ReviewAction.State.SENT


# -- webhook subscription (Prolific's "Subscribing": secret, subscription, confirmation) ---------------------
HOOK_EVENT_TYPE = "submission.status.change"
MSG_NO_WORKSPACE = "Give the Prolific workspace id (Prolific > your workspace; the id is in the address)."
MSG_BAD_TARGET = "'{url}' is not an absolute http(s) address of this platform's /prolific/webhook/ endpoint."


@dataclass
class SubscribeResult:
    secret_created: bool  # False: the workspace's secret already stored here was kept
    subscription_created: bool  # False: an enabled subscription to this target was already on Prolific
    subscription_id: str
    target_url: str
    confirmed_at: datetime


def _workspace_secret_known(*, workspace_id: str, study: Study) -> str | None:
    """The workspace's signing secret if some study here already holds it (Prolific keeps one per workspace,
    and creating a new one would invalidate the copy every other study of the workspace verifies with)."""
    rows = ProlificSettings.objects.filter(workspace_id=workspace_id).exclude(webhook_secret_encrypted="")
    for row in sorted(rows, key=lambda r: r.study_id != study.pk):  # this study's own copy first
        try:
            return secret_decrypt(row.webhook_secret_encrypted)
        except SecretUnreadable:
            continue
    return None


def _settings_save(*, study: Study, **fields) -> None:
    """Store a step's result at once: each step has changed something on Prolific that must not be lost."""
    with transaction.atomic():
        settings_row = ProlificSettings.objects.select_for_update().get(pk=prolific_settings_get(study=study).pk)
        for name, value in fields.items():
            setattr(settings_row, name, value)
        settings_row.full_clean()
        settings_row.save()


def webhook_subscribe(
    *, study: Study, workspace_id: str, target_url: str, new_secret: bool = False, client: ProlificClient | None = None
) -> SubscribeResult:
    """Set up Prolific's submission status events for the study, as Prolific documents it.

    1. the workspace's signing secret: kept when a study here already holds it (unless ``new_secret``),
       else created (``POST /api/v1/hooks/secrets/``) and stored encrypted as the study's webhook secret;
    2. a subscription of ``target_url`` to ``submission.status.change`` (``POST /api/v1/hooks/subscriptions/``),
       whose answer carries the one-time ``X-Hook-Secret`` header; an enabled subscription of the same
       target and event already on Prolific is kept instead;
    3. the confirmation (``POST /api/v1/hooks/subscriptions/{id}/`` with ``{"secret": <X-Hook-Secret>}``),
       without which Prolific delivers nothing.

    Each step's result is stored before the next call, so a failure part-way loses nothing.
    Raises ProlificOpsError or ProlificError.
    """
    workspace_id, target_url = (workspace_id or "").strip(), (target_url or "").strip()
    if not workspace_id:
        raise ProlificOpsError(MSG_NO_WORKSPACE)
    if not re.match(r"^https?://[^/\s]+/\S*$", target_url):
        raise ProlificOpsError(MSG_BAD_TARGET.format(url=target_url[:200]))
    client = client or prolific_client_for(study=study)
    secret = None if new_secret else _workspace_secret_known(workspace_id=workspace_id, study=study)
    secret_created = secret is None
    if secret is None:
        secret = client.hook_secret_create(workspace_id)
    _settings_save(
        study=study, workspace_id=workspace_id, webhook_secret_encrypted=secret_encrypt(secret),
        webhook_secret_hint=secret_hint(secret),
    )  # fmt: skip
    existing = [
        sub for sub in client.hook_subscriptions_list(workspace_id)
        if sub.get("event_type") == HOOK_EVENT_TYPE and sub.get("target_url") == target_url and sub.get("is_enabled")
    ]  # fmt: skip
    if existing:
        subscription_id = str(existing[0]["id"])
    else:
        subscription, hook_secret = client.hook_subscription_create(
            workspace_id=workspace_id, event_type=HOOK_EVENT_TYPE, target_url=target_url
        )
        subscription_id = str(subscription["id"])
        _settings_save(study=study, hook_subscription_id=subscription_id, hook_target_url=target_url, hook_confirmed_at=None)
        confirmed = client.hook_subscription_confirm(subscription_id, hook_secret)
        if confirmed.get("is_enabled") is False:
            raise ProlificOpsError(
                "Prolific accepted the confirmation but reports the subscription as disabled: enable it on Prolific "
                "(PATCH is_enabled) or subscribe again."
            )
    confirmed_at = timezone.now()
    _settings_save(
        study=study, hook_subscription_id=subscription_id, hook_target_url=target_url, hook_confirmed_at=confirmed_at
    )
    return SubscribeResult(secret_created, not existing, subscription_id, target_url, confirmed_at)

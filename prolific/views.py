"""The study's Prolific page (settings, reconcile, review preview and send) and the webhook endpoint.

Views stay thin: they check the request, call a service or selector and render or redirect.
"""

import json
import logging

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from prolific import services
from prolific.client import ProlificError
from prolific.forms import ProlificSettingsForm, ReviewSendForm, WebhookSubscribeForm
from prolific.models import ApiCall, ReviewAction, WebhookEvent
from prolific.secrets_box import SecretUnreadable
from prolific.selectors import (
    CATEGORY_LABELS,
    prolific_settings_for,
    quality_returns_count,
    reconcile_report,
    review_plan,
    webhook_match,
)
from prolific.webhooks import (
    EVENT_ID_HEADER,
    EVENT_TIMESTAMP_HEADER,
    SIGNATURE_HEADER,
    SIGNATURE_TIMESTAMP_HEADER,
    event_time,
    request_signer,
    timestamp_is_fresh,
)
from surveys.views import researcher_required

logger = logging.getLogger(__name__)
OPERATION_ERRORS = (services.ProlificOpsError, ProlificError, SecretUnreadable)


def _token_env_help(study) -> str:
    try:
        allowed = services.token_env_vars_for(study=study)
    except services.ProlificOpsError as exc:
        return str(exc)
    if not allowed:
        return "None is allowed for this study (the server operator lists them in PROLIFIC_TOKEN_ENV_VARS)."
    return f"Allowed for this study by the server operator: {', '.join(allowed)}. Replaces a stored token."


def _settings_form(study, data=None) -> ProlificSettingsForm:
    """The settings form; its confirmation names how many people returns for data quality affect now.

    A re-rendered form (after an error) shows the current count with the confirmation unticked, so a
    researcher never confirms a number they were not shown.
    """
    settings_row = prolific_settings_for(study=study)
    options = {
        "token_env_help": _token_env_help(study),
        "quality_returns_now": quality_returns_count(study=study),
        "quality_returns_on": settings_row.return_excluded_for_quality,
    }
    if data is not None:
        data = data.copy()
        data["quality_returns_count"] = str(options["quality_returns_now"])
        data.pop("confirm_quality_returns", None)
        return ProlificSettingsForm(data, **options)
    return ProlificSettingsForm(
        initial={
            "prolific_study_id": study.prolific_study_id,
            "rejection_message": settings_row.rejection_message,
            "return_reason": settings_row.return_reason,
            "return_excluded_for_quality": settings_row.return_excluded_for_quality,
        },
        **options,
    )


def _subscribe_form(request, study, data=None) -> WebhookSubscribeForm:
    settings_row = prolific_settings_for(study=study)
    if data is not None:
        return WebhookSubscribeForm(data)
    return WebhookSubscribeForm(initial={
        "workspace_id": settings_row.workspace_id,
        "target_url": settings_row.hook_target_url or request.build_absolute_uri(reverse("prolific:webhook")),
    })  # fmt: skip


def _setup_steps(study, settings_row) -> list[dict]:
    """What connects this study to Prolific, each step done or still to do, in plain words (a new study has none)."""
    token = bool(settings_row.token_encrypted or settings_row.token_env_var)
    return [
        {"label": "Prolific study id", "done": bool(study.prolific_study_id),
         "todo": "Paste the id of your study on Prolific under Settings below (the 24 characters in its address)."},
        {"label": "API token", "done": token,
         "todo": "Create a token on Prolific (Settings > API tokens) and enter it under Settings below."},
        {"label": "Webhook (optional)", "done": bool(settings_row.hook_confirmed_at),
         "todo": "Without it everything works; statuses update when you press Reconcile. Set it up at the bottom."},
    ]


def _page_context(request, study, form=None, subscribe_form=None) -> dict:
    settings_row = prolific_settings_for(study=study)
    form = form or _settings_form(study)
    report = reconcile_report(study=study)
    return {
        "study": study,
        "form": form,
        "subscribe_form": subscribe_form or _subscribe_form(request, study),
        "hook": settings_row,
        "token_description": services.token_description(study=study),
        "setup": _setup_steps(study, settings_row),
        "webhook_secret_hint": settings_row.webhook_secret_hint,
        "report": report,
        "category_counts": [(CATEGORY_LABELS[c], n) for c, n in report.counts.items()],
        "plan": review_plan(study=study),
        "actions": ReviewAction.objects.filter(study=study).select_related("participant")[:200],
        "calls": ApiCall.objects.filter(study=study)[:30],
        "events": WebhookEvent.objects.filter(study=study)[:20],
    }


@require_safe
@researcher_required
def study_prolific(request, study):
    return render(request, "prolific/study.html", _page_context(request, study))


@require_POST
@researcher_required
def settings_save(request, study):
    settings_row = prolific_settings_for(study=study)
    form = ProlificSettingsForm(
        request.POST,
        token_env_help=_token_env_help(study),
        quality_returns_on=settings_row.return_excluded_for_quality,
    )
    if not form.is_valid():
        return _settings_refused(request, study)
    data = form.cleaned_data
    try:
        services.prolific_settings_update(
            study=study,
            prolific_study_id=data["prolific_study_id"],
            token=data["token"] or None,
            token_env_var=data["token_env_var"] or None,
            webhook_secret=data["webhook_secret"] or None,
            rejection_message=data["rejection_message"],
            return_reason=data["return_reason"],
            return_excluded_for_quality=data["return_excluded_for_quality"],
            confirmed_quality_returns=form.confirmed_quality_returns,
        )
    except services.ProlificOpsError as exc:
        return _settings_refused(request, study, str(exc))
    messages.success(request, "Prolific settings saved.")
    return redirect("prolific:study", slug=study.slug)


def _settings_refused(request, study, error: str | None = None):
    """Re-render the page with the form's errors (and ``error``); the confirmation shows the current count, unticked."""
    form = _settings_form(study, request.POST)
    form.is_valid()
    if error:
        form.add_error(None, error)
    return render(request, "prolific/study.html", _page_context(request, study, form), status=400)


@require_POST
@researcher_required
def webhook_subscribe(request, study):
    """Prolific's webhook setup in one step: workspace secret, subscription, confirmation."""
    form = _subscribe_form(request, study, request.POST)
    if form.is_valid():
        try:
            result = services.webhook_subscribe(
                study=study, workspace_id=form.cleaned_data["workspace_id"], target_url=form.cleaned_data["target_url"],
                new_secret=form.cleaned_data["new_secret"],
            )  # fmt: skip
        except OPERATION_ERRORS as exc:
            form.add_error(None, str(exc))
        else:
            secret = "created and stored" if result.secret_created else "already stored here, kept"
            subscription = "created and confirmed" if result.subscription_created else "already enabled, kept"
            messages.success(
                request, f"Webhook set up: workspace secret {secret}; subscription {subscription}. "
                "Prolific now sends submission status changes.",
            )  # fmt: skip
            return redirect("prolific:study", slug=study.slug)
    return render(request, "prolific/study.html", _page_context(request, study, subscribe_form=form), status=400)


@require_POST
@researcher_required
def study_check(request, study):
    try:
        detail = services.prolific_study_check(study=study)
    except OPERATION_ERRORS as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Token and study id work: Prolific study '{detail.get('name', '?')}' is {detail.get('status', '?')}."
        )
    return redirect("prolific:study", slug=study.slug)


@require_POST
@researcher_required
def reconcile(request, study):
    try:
        result = services.submissions_reconcile(study=study)
    except OPERATION_ERRORS as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Fetched {result.fetched} submissions from Prolific ({result.created} new, {result.changed} changed); "
            f"{result.places_freed} group places freed; {len(result.report.discrepancies)} rows need attention.",
        )
    return redirect("prolific:study", slug=study.slug)


@require_safe
@researcher_required
def review_preview(request, study):
    plan = review_plan(study=study)
    requests_shown = [
        {"method": r["method"], "path": r["path"], "body": json.dumps(r["json"], indent=2)} for r in plan.requests
    ]
    return render(request, "prolific/review.html", {"study": study, "plan": plan, "requests": requests_shown})


@require_POST
@researcher_required
def review_send_view(request, study):
    form = ReviewSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The review form was incomplete; preview the review again.")
        return redirect("prolific:review", slug=study.slug)
    try:
        result = services.review_send(study=study, expected_digest=form.cleaned_data["digest"])
    except OPERATION_ERRORS as exc:
        messages.error(request, str(exc))
        return redirect("prolific:review", slug=study.slug)
    sent = ", ".join(f"{n} {ReviewAction.Action(a).label.lower()}" for a, n in result.sent.items()) or "nothing"
    messages.success(request, f"Sent to Prolific: {sent}. {result.confirmed} decisions confirmed by Prolific so far.")
    for failure in result.failed:
        messages.error(request, failure)
    for unknown in result.unknown:
        messages.warning(request, unknown)
    return redirect("prolific:study", slug=study.slug)


def _webhook_error(message: str, status: int) -> JsonResponse:
    logger.warning("prolific webhook refused: %s", message)
    return JsonResponse({"error": message}, status=status)


@csrf_exempt
@require_POST
def webhook(request):
    """Prolific's submission status-change events: verified, de-duplicated, applied in forward order only."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    signed_at = request.headers.get(SIGNATURE_TIMESTAMP_HEADER, "")
    event_id = request.headers.get(EVENT_ID_HEADER, "").strip()
    if not signature or not signed_at:
        return _webhook_error(f"Missing {SIGNATURE_HEADER} or {SIGNATURE_TIMESTAMP_HEADER}.", 401)
    if not timestamp_is_fresh(signed_at):
        return _webhook_error(f"{SIGNATURE_TIMESTAMP_HEADER} is too old or malformed.", 401)
    # The signature is checked over the raw body before the body is parsed or matched to a study.
    signer = request_signer(timestamp=signed_at, raw_body=request.body, signature=signature)
    if signer is None:
        return _webhook_error("Signature does not match.", 403)
    try:
        payload = json.loads(request.body)
    except RecursionError:
        return _webhook_error("Body is JSON nested too deeply.", 400)
    except ValueError:
        return _webhook_error("Body is not JSON.", 400)
    if not isinstance(payload, dict):
        return _webhook_error("Body is not a JSON object.", 400)
    study, participant = webhook_match(
        submission_id=str(payload.get("resource_id", "")), prolific_pid=str(payload.get("participant_id", ""))
    )
    if not signer.may_speak_for(study):
        return _webhook_error("Signature does not match.", 403)
    if not event_id:
        return _webhook_error(f"Missing {EVENT_ID_HEADER}.", 400)
    outcome = services.webhook_event_record(
        event_id=event_id[:128],
        event_type=str(payload.get("event_type", ""))[:64],
        payload=payload,
        event_at=event_time(request.headers.get(EVENT_TIMESTAMP_HEADER) or signed_at),
        study=study,
        participant=participant,
    )
    return JsonResponse({"outcome": outcome.outcome, "duplicate": outcome.duplicate, "place_freed": outcome.place_freed})

"""Participant pages (no JavaScript needed) and the researcher dashboard.

Views stay thin: they check the request, call a service or selector and render.
"""

import functools
import re
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import salted_hmac
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from config.middleware import client_ip
from surveys import plan as plans
from surveys.exports import EXPORT_FORMATS, EXPORT_KINDS, export_filename, export_frame, write_export
from surveys.instruments import (
    BFI10_INSTRUCTIONS,
    BFI10_SCALE,
    ITEM_QUESTION,
    ITEM_SCALE,
    PVQ21_INSTRUCTIONS,
    PVQ21_QUESTION,
    PVQ21_SCALE,
)
from surveys.models import EntryEvent, Item, Participant, Study
from surveys.rendering import bfi10_rows, item_rows, pvq21_rows
from surveys.selectors import (
    page_draft_answers,
    participant_is_expired,
    participant_plan,
    studies_for_researcher,
    study_dashboard,
    user_is_researcher,
)
from surveys.services import (
    AGE_BANDS,
    GENDERS,
    PageInvalid,
    PageOutOfOrder,
    ParticipantExpired,
    SessionElsewhere,
    StudyClosed,
    StudyFull,
    SurveyError,
    TooManyStarting,
    completion_code,
    entry_event_record,
    page_draft_save,
    page_submit,
    participant_arrive,
    participant_expired_message,
    participant_preview,
)
from surveys.study_exports import CODEBOOK_FORMATS, STUDY_EXPORT_FORMATS, study_export_file

PROLIFIC_PID_RE = re.compile(r"^[0-9a-f]{24}$")
PROLIFIC_OTHER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Seconds the completion page is shown before the browser goes back to Prolific.
REDIRECT_DELAY_SECONDS = 3


def researcher_required(view):
    """Load the study named by ``slug`` and let only its researchers (or staff) through."""

    @functools.wraps(view)
    def wrapper(request, slug, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        study = get_object_or_404(Study, slug=slug)
        if not user_is_researcher(user=request.user, study=study):
            raise PermissionDenied(f"You are not a researcher of the study '{study.slug}'.")
        return view(request, study, *args, **kwargs)

    return wrapper


def _message(request, title: str, lines: list[str], status: int = 200, study: Study | None = None):
    return render(request, "surveys/message.html", {"title": title, "lines": lines, "study": study}, status=status)


def participant_url(participant: Participant) -> str:
    return reverse("surveys:participant", kwargs={"slug": participant.study.slug, "token": participant.token})


# The Django session remembers which participants this browser started (ids, newest last).
BROWSER_PARTICIPANTS_KEY = "surveys.participants"
BROWSER_PARTICIPANTS_KEPT = 20
# Seconds a participant refused by a cap is asked to wait (the 429 page's Retry-After).
TOO_MANY_RETRY_SECONDS = 120


def client_address_hash(request) -> str:
    """A keyed hash of the client address (``config.middleware.client_ip``): countable, never stored in clear."""
    address = client_ip(request)
    return salted_hmac("surveys.entry.client-address", address, algorithm="sha256").hexdigest() if address else ""


def _browser_participants(request) -> list[int]:
    ids = request.session.get(BROWSER_PARTICIPANTS_KEY, [])
    return [n for n in ids if isinstance(n, int)] if isinstance(ids, list) else []


def _remember_in_browser(request, participant: Participant) -> None:
    ids = [n for n in _browser_participants(request) if n != participant.pk] + [participant.pk]
    request.session[BROWSER_PARTICIPANTS_KEY] = ids[-BROWSER_PARTICIPANTS_KEPT:]


def _too_many(request, study: Study, message: str):
    response = _message(request, "Please try again in a few minutes", [message], status=429, study=study)
    response["Retry-After"] = str(TOO_MANY_RETRY_SECONDS)
    return response


@require_safe
def study_entry(request, slug):
    """The link Prolific sends people to: /s/<slug>/?PROLIFIC_PID=...&STUDY_ID=...&SESSION_ID=...

    A known PROLIFIC_PID resumes only in the browser that started it or with the SESSION_ID of its
    first arrival (``participant_arrive``); the page token is never shown to anyone else.
    """
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        return _message(request, "Study not found", [f"There is no study called '{slug[:64]}'. Please check the link."], 404)
    pid = request.GET.get("PROLIFIC_PID", "").strip().lower()
    study_id = request.GET.get("STUDY_ID", "").strip()
    session_id = request.GET.get("SESSION_ID", "").strip()
    problems = []
    if not pid:
        problems.append("The link has no Prolific ID (the PROLIFIC_PID part of the address is missing).")
    elif not PROLIFIC_PID_RE.match(pid):
        problems.append("The Prolific ID in the link (PROLIFIC_PID) is not valid: it should be 24 letters a–f and digits.")
    for name, value in (("STUDY_ID", study_id), ("SESSION_ID", session_id)):
        if value and not PROLIFIC_OTHER_ID_RE.match(value):
            problems.append(f"The {name} in the link is not valid: only letters, digits, '-' and '_' are allowed.")
    if study.prolific_study_id and study_id != study.prolific_study_id:
        if not study_id:
            problems.append("The link has no Prolific study ID (the STUDY_ID part of the address is missing).")
        elif PROLIFIC_OTHER_ID_RE.match(study_id):
            problems.append("The STUDY_ID in the link belongs to a different Prolific study.")
        entry_event_record(study=study, kind=EntryEvent.Kind.STUDY_ID)
    if problems:
        problems.append("Please open the study again from the Prolific website so the link is complete.")
        return render(request, "surveys/link_problem.html", {"study": study, "problems": problems}, status=400)
    try:
        participant = participant_arrive(
            study=study, prolific_pid=pid, prolific_study_id=study_id, prolific_session_id=session_id,
            started_here=_browser_participants(request), address_hash=client_address_hash(request),
        )
    except SessionElsewhere:
        return render(request, "surveys/session_elsewhere.html", {"study": study}, status=409)
    except TooManyStarting as error:
        return _too_many(request, study, str(error))
    except StudyClosed as error:
        return _message(request, "This study is closed", [str(error)], study=study)
    except SurveyError as error:
        return _message(request, "This study cannot be started", [str(error)], study=study)
    _remember_in_browser(request, participant)
    return HttpResponseRedirect(participant_url(participant), status=303)


@require_safe
@researcher_required
def study_preview(request, study):
    """A fresh preview participant for a researcher (any study status; excluded from analysis)."""
    try:
        participant = participant_preview(study=study)
    except SurveyError as error:
        return _message(request, "Preview not possible", [str(error)], study=study)
    return HttpResponseRedirect(participant_url(participant), status=303)


def _wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


@require_http_methods(["GET", "HEAD", "POST"])
def participant_page(request, slug, token):
    participant = get_object_or_404(Participant.objects.select_related("study"), token=token, study__slug=slug)
    response = _participant_page(request, participant)
    if request.method != "POST":
        # The page changes with every submission: never from a cache, so Back to it shows the page the
        # participant is on. A POST's answer (a page returned with an error) may stay cached: Back to it
        # shows it again rather than the browser's "Confirm form resubmission", and sending it again
        # stores nothing (page_submit is idempotent).
        add_never_cache_headers(response)
    return response


def _participant_page(request, participant: Participant):
    if request.method != "POST":
        return _render_current(request, participant)
    try:
        page_submit(participant=participant, step=request.POST.get("step"), data=request.POST)
    except PageInvalid as error:
        # Kept as the page's draft too, so a refresh after the error still shows these answers.
        page_draft_save(participant=participant, step=request.POST.get("step"), data=request.POST)
        if _wants_json(request):
            return JsonResponse({"errors": error.errors, "fields": error.field_errors}, status=400)
        participant.refresh_from_db()
        return _render_current(
            request, participant, problems=error.problems, field_errors=error.field_errors, posted=request.POST, status=400
        )
    except PageOutOfOrder as error:
        if _wants_json(request):
            return JsonResponse({"errors": [str(error)]}, status=400)
        participant.refresh_from_db()
        return _render_current(request, participant, problems=[("", str(error))], status=400)
    except ParticipantExpired as error:
        if _wants_json(request):
            return JsonResponse({"errors": [str(error)]}, status=410)
        return _message(request, "Time is up", [str(error)], status=410, study=participant.study)
    except (StudyFull, TooManyStarting) as error:
        # Refused at consent: nothing was saved, the participant is still on the consent page.
        status = 409 if isinstance(error, StudyFull) else 429
        if _wants_json(request):
            return JsonResponse({"errors": [str(error)]}, status=status)
        participant.refresh_from_db()
        response = _render_current(request, participant, problems=[("", str(error))], status=status)
        if status == 429:
            response["Retry-After"] = str(TOO_MANY_RETRY_SECONDS)
        return response
    return HttpResponseRedirect(request.path, status=303)


MSG_DRAFT_NOT_KEPT = "These answers were not kept: this is not the page you are on (it may have been sent already)."


@require_POST
def participant_draft(request, slug, token):
    """Keep the answers given so far on the current page (sent by ``static/surveys/survey.js`` as they change).

    Keyed by the participant's page token like the page itself; the body is the page's form. 409
    (nothing kept) for a page that is not the participant's current one.
    """
    participant = get_object_or_404(Participant.objects.select_related("study"), token=token, study__slug=slug)
    kept = page_draft_save(participant=participant, step=request.POST.get("step"), data=request.POST)
    if kept is None:
        return JsonResponse({"saved": False, "detail": MSG_DRAFT_NOT_KEPT}, status=409)
    return JsonResponse({"saved": True, "answers": kept})


def _render_current(request, participant: Participant, *, problems=(), field_errors=None, posted=None, status: int = 200):
    """The participant's current page; ``problems`` ((field, message)) are listed at the top, ``field_errors``
    mark their rows, and the answers shown are ``posted`` or else the page's draft."""
    study = participant.study
    status_ = Participant.Status
    if participant.status in (status_.COMPLETED, status_.FAILED_CHECKS, status_.NO_CONSENT):
        return _render_finished(request, participant)
    if participant.status == status_.RETURNED:
        return _message(request, "You returned this study", ["Your place has been given to someone else."], study=study)
    if participant_is_expired(participant, timezone.now()):
        if participant.consented_at is None:
            return _message(request, "Please start again from Prolific", [participant_expired_message(participant)], study=study)
        return _message(request, "Time is up", ["The time limit for this study has passed, so it can no longer be continued."], study=study)

    pages = participant_plan(participant)
    page = pages[participant.step]
    values = posted if posted is not None else page_draft_answers(participant)
    field_errors = field_errors or {}
    context = {
        "study": study,
        "participant": participant,
        "page": page,
        "step": participant.step,
        "page_number": participant.step + 1,
        # Before consent no group is assigned, so the number of pages is not known yet.
        "page_count": len(pages) if participant.group_id is not None else None,
        "progress_percent": round(100 * participant.step / len(pages)),
        "posted": values,
        "field_errors": field_errors,
        "action": request.path,
        "draft_url": "",
    }
    rows = None
    if page.kind == plans.CONSENT:
        template = "surveys/page_consent.html"
    elif page.kind == plans.INSTRUCTIONS:
        template = "surveys/page_instructions.html"
    elif page.kind == plans.ITEMS:
        by_pk = Item.objects.in_bulk(page.item_ids)
        items = [by_pk[pk] for pk in page.item_ids]
        rows = item_rows(items, checks=page.checks, values=values, errors=field_errors)
        context.update(query_title=items[0].title, query_text=items[0].query, scale=ITEM_SCALE, question=ITEM_QUESTION)
        template = "surveys/page_items.html"
    elif page.kind == plans.ABOUT:
        context.update(genders=GENDERS, age_bands=AGE_BANDS, ask_age=study.ask_demographics)
        # The first row to fix gets the focus, as on the rating pages.
        context["first_error"] = next((f for f in ("gender", "age_band") if f in field_errors), "")
        template = "surveys/page_about.html"
    elif page.kind == plans.PVQ21_PAGE:
        parts = [p for p in pages if p.kind == plans.PVQ21_PAGE]
        rows = pvq21_rows(
            participant.pvq_form or "neutral", checks=page.checks, values=values, questions=page.questions,
            first_number=page.first_number, errors=field_errors,
        )
        context.update(
            scale=PVQ21_SCALE, instructions=PVQ21_INSTRUCTIONS, question=PVQ21_QUESTION,
            part=parts.index(page) + 1, parts=len(parts),
        )
        template = "surveys/page_pvq21.html"
    else:
        rows = bfi10_rows(checks=page.checks, values=values, errors=field_errors)
        context.update(scale=BFI10_SCALE, instructions=BFI10_INSTRUCTIONS)
        template = "surveys/page_bfi10.html"
    if page.kind not in (plans.CONSENT, plans.INSTRUCTIONS):
        context["draft_url"] = reverse("surveys:participant-draft", kwargs={"slug": study.slug, "token": participant.token})
    # A problem about a row links to it (the rows have id "row-<field>").
    on_page = {row["name"] for row in rows} if rows is not None else {"gender", "age_band"} if page.kind == plans.ABOUT else set()
    context["rows"] = rows
    context["errors"] = [{"text": message, "target": f"row-{field}" if field in on_page else ""} for field, message in problems]
    context["answers_kept"] = any(field in on_page for field in field_errors)
    return render(request, template, context, status=status)


def prolific_redirect_url(code: str) -> str:
    return f"{settings.PROLIFIC_COMPLETION_URL}?{urlencode({'cc': code})}"


def _render_finished(request, participant: Participant):
    code = completion_code(participant)
    context = {
        "study": participant.study,
        "participant": participant,
        "code": code,
        "redirect_url": prolific_redirect_url(code) if code else "",
        "redirect_delay": REDIRECT_DELAY_SECONDS,
        "declined": participant.status == Participant.Status.NO_CONSENT,
    }
    return render(request, "surveys/finished.html", context)


# --- researcher side ---


def study_entry_url(request, study: Study) -> str:
    """The link to paste into the Prolific study, with Prolific's placeholders for the three ids."""
    return (
        request.build_absolute_uri(reverse("surveys:entry", kwargs={"slug": study.slug}))
        + "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    )


@require_safe
def study_list(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return render(request, "surveys/study_list.html", {"studies": studies_for_researcher(request.user)})


@require_safe
@researcher_required
def study_dashboard_page(request, study):
    context = {
        "study": study,
        "dashboard": study_dashboard(study=study),
        "export_kinds": EXPORT_KINDS,
        "export_formats": EXPORT_FORMATS,
        "study_export_formats": STUDY_EXPORT_FORMATS,
        "codebook_formats": CODEBOOK_FORMATS,
        "entry_url": study_entry_url(request, study),
    }
    return render(request, "surveys/dashboard.html", context)


@require_safe
@researcher_required
def study_dashboard_feed(request, study):
    return JsonResponse(study_dashboard(study=study))


@require_safe
@researcher_required
def study_export(request, study, what, fmt):
    if what not in EXPORT_KINDS or fmt not in EXPORT_FORMATS:
        raise Http404("Unknown export.")
    buffer = write_export(export_frame(study=study, what=what), fmt=fmt)
    return FileResponse(buffer, as_attachment=True, filename=export_filename(study, what, fmt))


@require_safe
@researcher_required
def study_export_table(request, study, table, fmt):
    formats = CODEBOOK_FORMATS if table == "codebook" else STUDY_EXPORT_FORMATS if table in ("wide", "scores") else ()
    if fmt not in formats:
        raise Http404("Unknown export.")
    buffer = study_export_file(study=study, table=table, fmt=fmt)
    return FileResponse(buffer, as_attachment=True, filename=f"{study.slug}-{table}.{fmt}")

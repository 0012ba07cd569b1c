"""The researcher's analysis page: the latest analysis, a button to run a new one, item-bank downloads."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from psychometrics.itembank import item_bank_csv_lines
from psychometrics.models import Analysis, ParticipantOverride
from psychometrics.selectors import (
    analysis_correlation_rows,
    analysis_decisions,
    analysis_item_bank_lines,
    analysis_latest,
    analysis_screening,
    participant_overrides_recent,
    study_analysis_settings,
    study_for_researcher,
)
from psychometrics.services import AnalysisError, analysis_create, participant_override_create
from psychometrics.stats.filtering import REASONS, FilterRules, describe_rules
from surveys.models import Participant

DOWNLOADS = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _researcher_study(request, slug):
    study = study_for_researcher(user=request.user, slug=slug)
    if study is None:
        raise PermissionDenied("Only the study's researchers can see its analysis.")
    return study


def _percent(share) -> str:
    return "–" if share is None else f"{100 * share:.1f} %"


def _screening_context(analysis: Analysis | None) -> dict:
    """The per-rule table of an analysis: rules that flagged someone, the ones that flagged nobody, the total."""
    if analysis is None:
        return {"screening": None}
    screening = analysis_screening(analysis=analysis)
    rules = screening["per_rule"]
    return {
        "screening": screening,
        "rule_rows": [
            {**row, "rule": REASONS.get(row["code"], row["rule"]), "percent": _percent(row["share"])}
            for row in rules if row["flagged"]
        ],
        "rules_flagging_nobody": [REASONS.get(row["code"], row["rule"]) for row in rules if not row["flagged"]],
        "data_quality_percent": _percent(screening["data_quality"]["share"]),
    }


@login_required
@require_safe
def analysis_page(request, slug):
    study = _researcher_study(request, slug)
    latest = analysis_latest(study=study)
    shown = analysis_latest(study=study, finished=True)
    excluded = []
    if shown:
        excluded = [
            {"decision": d, "reasons": [REASONS.get(code, code) for code in d.reasons]}
            for d in analysis_decisions(analysis=shown)
            if not d.kept or d.manual
        ]
    warned = shown is not None and shown.status == Analysis.Status.WARNING
    return render(
        request,
        "psychometrics/analysis.html",
        {
            "study": study,
            "latest": latest,
            "analysis": shown,
            "summary": shown.summary if shown else None,
            "warned": warned,
            "previous_bank": analysis_latest(study=study, succeeded=True) if warned else None,
            "excluded": excluded,
            **_screening_context(shown),
            "settings": (settings := study_analysis_settings(study=study)),
            "next_rules_text": describe_rules(settings.filter_rules()),
            "rules_text": _rules_text(shown),
            "decisions": ParticipantOverride.Decision.choices,
            "overrides": participant_overrides_recent(study=study),
        },
    )


def _rules_text(analysis) -> str:
    if analysis is None:
        return ""
    try:
        return describe_rules(FilterRules.from_dict(analysis.rules))
    except (TypeError, ValueError):
        return "rules recorded in an older format"


@login_required
@require_POST
def analysis_start(request, slug):
    study = _researcher_study(request, slug)
    analysis = analysis_create(study=study, user=request.user)
    messages.info(request, f"Analysis {analysis.pk} started.")
    return redirect("psychometrics:analysis", slug=study.slug)


@login_required
@require_POST
def participant_decision(request, slug):
    """Include or exclude a participant (by pseudonym) by hand, with a note; the next analysis applies it."""
    study = _researcher_study(request, slug)
    pseudonym = request.POST.get("pseudonym", "").strip()
    participant = Participant.objects.filter(study=study, pseudonym=pseudonym).first()
    if participant is None:
        messages.error(request, f"No participant {pseudonym!r} in this study.")
    else:
        try:
            participant_override_create(
                participant=participant, decision=request.POST.get("decision", ""), note=request.POST.get("note", ""),
                user=request.user,
            )
        except AnalysisError as error:
            messages.error(request, str(error))
        else:
            messages.info(request, f"Recorded: {request.POST['decision']} {pseudonym}. Run a new analysis to apply it.")
    return redirect("psychometrics:analysis", slug=study.slug)


def _no_item_bank(request, study, analysis: Analysis, status: int, message: str):
    """A page saying why this analysis has no item bank to download (instead of an empty file)."""
    previous = analysis_latest(study=study, succeeded=True)
    return render(
        request,
        "psychometrics/no_item_bank.html",
        {"study": study, "analysis": analysis, "message": message, "previous_bank": previous},
        status=status,
    )


@login_required
@require_safe
def analysis_items_download(request, slug, fmt):
    """The item bank of ``?analysis=<id>``, else of the newest finished analysis (the one the page shows).

    An analysis that finished with a warning, or has not finished, has none: 409 with the reason.
    """
    study = _researcher_study(request, slug)
    if fmt not in DOWNLOADS:
        raise Http404("Downloads are .jsonl or .csv.")
    requested = request.GET.get("analysis", "")
    if requested:
        if not requested.isdigit():
            raise Http404("?analysis= is an analysis id (a number).")
        analysis = Analysis.objects.filter(study=study, pk=int(requested)).first()
        if analysis is None:
            raise Http404(f"This study has no analysis {requested}.")
    else:
        analysis = analysis_latest(study=study, finished=True)
        if analysis is None:
            raise Http404("This study has no successful analysis yet.")
    if analysis.status == Analysis.Status.WARNING:
        message = f"Analysis {analysis.pk} finished with a warning and has no item bank: {analysis.warning}"
        return _no_item_bank(request, study, analysis, 409, message)
    if analysis.status != Analysis.Status.SUCCEEDED:
        message = f"Analysis {analysis.pk} is {analysis.get_status_display().lower()}: only a succeeded analysis has an item bank."
        return _no_item_bank(request, study, analysis, 409, message)
    if fmt == "jsonl":
        lines = analysis_item_bank_lines(analysis=analysis)
    else:
        lines = item_bank_csv_lines(analysis_correlation_rows(analysis=analysis))
    response = StreamingHttpResponse(lines, content_type=DOWNLOADS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-items-analysis-{analysis.pk}.{fmt}"'
    return response

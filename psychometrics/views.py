"""The researcher's analysis page: the latest analysis, a button to run a new one, item-bank downloads."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from psychometrics.itembank import item_bank_csv_lines, item_bank_jsonl_lines, item_bank_record
from psychometrics.models import ParticipantOverride
from psychometrics.selectors import (
    analysis_correlation_rows,
    analysis_decisions,
    analysis_item_bank,
    analysis_latest,
    participant_overrides_recent,
    study_analysis_settings,
    study_for_researcher,
)
from psychometrics.services import AnalysisError, analysis_create, participant_override_create
from psychometrics.stats.filtering import REASONS
from surveys.models import Participant

DOWNLOADS = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}


def _researcher_study(request, slug):
    study = study_for_researcher(user=request.user, slug=slug)
    if study is None:
        raise PermissionDenied("Only the study's researchers can see its analysis.")
    return study


@login_required
@require_GET
def analysis_page(request, slug):
    study = _researcher_study(request, slug)
    latest = analysis_latest(study=study)
    succeeded = analysis_latest(study=study, succeeded=True)
    excluded = []
    if succeeded:
        excluded = [
            {"decision": d, "reasons": [REASONS.get(code, code) for code in d.reasons]}
            for d in analysis_decisions(analysis=succeeded)
            if not d.kept or d.manual
        ]
    return render(
        request,
        "psychometrics/analysis.html",
        {
            "study": study,
            "latest": latest,
            "analysis": succeeded,
            "summary": succeeded.summary if succeeded else None,
            "excluded": excluded,
            "exclusion_rows": [
                (REASONS.get(code, code), count)
                for code, count in (succeeded.summary["participants"]["excluded_by_reason"].items() if succeeded else [])
            ],
            "settings": study_analysis_settings(study=study),
            "decisions": ParticipantOverride.Decision.choices,
            "overrides": participant_overrides_recent(study=study),
        },
    )


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


@login_required
@require_GET
def analysis_items_download(request, slug, fmt):
    study = _researcher_study(request, slug)
    if fmt not in DOWNLOADS:
        raise Http404("Downloads are .jsonl or .csv.")
    analysis = analysis_latest(study=study, succeeded=True)
    if analysis is None:
        raise Http404("This study has no successful analysis yet.")
    if fmt == "jsonl":
        lines = item_bank_jsonl_lines(item_bank_record(item, rows) for item, rows in analysis_item_bank(analysis=analysis))
    else:
        lines = item_bank_csv_lines(analysis_correlation_rows(analysis=analysis))
    response = StreamingHttpResponse(lines, content_type=DOWNLOADS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-items-analysis-{analysis.pk}.{fmt}"'
    return response

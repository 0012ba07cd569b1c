"""Read-only queries: a study's answers as DataFrames for the statistics, analyses and item banks."""

import pandas as pd
from django.db.models import Count, Max, Q, QuerySet
from django.shortcuts import get_object_or_404

from psychometrics.models import Analysis, ItemCorrelation, ParticipantOverride, StudyAnalysisSettings
from psychometrics.stats.dimensions import ALL_DIMENSIONS
from psychometrics.stats.filtering import MANUAL_EXCLUDE, MANUAL_INCLUDE
from psychometrics.stats.screening import screening_report
from surveys.models import InstrumentAnswer, Item, Participant, Rating, Study

ANALYSABLE_STATUSES = (Participant.Status.COMPLETED, Participant.Status.FAILED_CHECKS)
_DIMENSION_ORDER = {dimension: i for i, (_, dimension) in enumerate(ALL_DIMENSIONS)}


def study_for_researcher(*, user, slug: str) -> Study | None:
    """The study ``slug`` if ``user`` is one of its researchers or a superuser, else None (404 if no such study)."""
    study = get_object_or_404(Study, slug=slug)
    if not (user.is_authenticated and user.is_active):
        return None
    if user.is_superuser or study.researchers.filter(pk=user.pk).exists():
        return study
    return None


def study_analysis_settings(*, study: Study) -> StudyAnalysisSettings:
    """The study's settings, or unsaved defaults when none were stored."""
    return StudyAnalysisSettings.objects.filter(study=study).first() or StudyAnalysisSettings(study=study)


def analysable_participants(*, study: Study) -> QuerySet[Participant]:
    """Non-preview participants who completed the survey or were ended by failed attention checks."""
    return Participant.objects.filter(study=study, is_preview=False, status__in=ANALYSABLE_STATUSES)


def participant_frame(*, study: Study) -> pd.DataFrame:
    """One row per analysable participant: participant (pk), ended_by_failed_checks, failed_checks,
    completion_seconds (completed_at, else the last page submission, minus arrived_at)."""
    rows = (
        analysable_participants(study=study)
        .annotate(
            n_failed=Count("checks", filter=Q(checks__passed=False), distinct=True),
            last_page=Max("pages__submitted_at"),
        )
        .order_by("pk")
        .values("pk", "status", "n_failed", "arrived_at", "completed_at", "last_page")
    )
    records = []
    for row in rows:
        finished = row["completed_at"] or row["last_page"]
        records.append(
            {
                "participant": row["pk"],
                "ended_by_failed_checks": row["status"] == Participant.Status.FAILED_CHECKS,
                "failed_checks": row["n_failed"],
                "completion_seconds": (finished - row["arrived_at"]).total_seconds() if finished else float("nan"),
            }
        )
    return pd.DataFrame(records, columns=["participant", "ended_by_failed_checks", "failed_checks", "completion_seconds"])


def instrument_answers(*, study: Study, instrument: str) -> pd.DataFrame:
    """Wide answers of analysable participants to one instrument: index participant pk, columns question numbers."""
    rows = InstrumentAnswer.objects.filter(
        participant__in=analysable_participants(study=study), instrument=instrument
    ).values_list("participant_id", "question", "answer")
    frame = pd.DataFrame(list(rows), columns=["participant", "question", "answer"])
    return frame.pivot(index="participant", columns="question", values="answer").astype(float)


def study_items(*, study: Study) -> list[dict]:
    """Every item of the study in a stable order (by primary key)."""
    return list(Item.objects.filter(study=study).order_by("pk").values("pk", "item_id", "source", "title", "query", "response"))


def ratings_frame(*, study: Study, participant_ids: list[int]) -> pd.DataFrame:
    """Long ratings (participant_id, item_id = Item pk, rating) of the given participants."""
    rows = Rating.objects.filter(item__study=study, participant_id__in=participant_ids).values_list(
        "participant_id", "item_id", "rating"
    )
    return pd.DataFrame(list(rows), columns=["participant_id", "item_id", "rating"])


def participant_overrides(*, study: Study) -> dict[int, str]:
    """participant pk -> "include"/"exclude": the newest override of each participant, when not "automatic"."""
    newest: dict[int, str] = {}
    for participant_id, decision in (
        ParticipantOverride.objects.filter(participant__study=study).order_by("created_at", "id").values_list("participant_id", "decision")
    ):
        newest[participant_id] = decision
    return {pid: d for pid, d in newest.items() if d in (MANUAL_INCLUDE, MANUAL_EXCLUDE)}


def participant_overrides_recent(*, study: Study, limit: int = 50) -> QuerySet[ParticipantOverride]:
    """The newest manual decisions of a study's participants, newest first (the audit trail)."""
    return (
        ParticipantOverride.objects.filter(participant__study=study)
        .select_related("participant", "created_by")
        .order_by("-created_at", "-id")[:limit]
    )


def analysis_latest(*, study: Study, succeeded: bool = False, finished: bool = False) -> Analysis | None:
    """The study's newest analysis; with ``succeeded`` the newest that succeeded (never one that finished
    with a warning: it has no item bank), with ``finished`` the newest that succeeded or finished with a warning."""
    analyses = Analysis.objects.filter(study=study)
    if succeeded:
        analyses = analyses.filter(status=Analysis.Status.SUCCEEDED)
    elif finished:
        analyses = analyses.filter(status__in=Analysis.FINISHED)
    return analyses.order_by("-created_at", "-id").first()


def analysis_screening(*, analysis: Analysis) -> dict:
    """The per-rule screening of an analysis (``stats.screening.screening_report``): from its summary,
    or computed from its stored decisions for an analysis that ran before summaries recorded it."""
    if "screening" in analysis.summary:
        return analysis.summary["screening"]
    rows = analysis.decisions.values_list("reasons", "manual")
    return screening_report(pd.DataFrame(list(rows), columns=["reasons", "manual"]))


def _dimension_key(row: dict) -> tuple:
    return (_DIMENSION_ORDER.get(row["dimension"], len(_DIMENSION_ORDER)), row["dimension"])


def analysis_item_bank(*, analysis: Analysis):
    """(item dict, list of correlation dicts) per item of the analysis, dimensions in family order."""
    correlations: dict[int, list[dict]] = {}
    for row in ItemCorrelation.objects.filter(analysis=analysis).values(
        "item_id", "family", "dimension", "rho", "p_value", "p_adjusted", "n", "selected", "direction"
    ):
        correlations.setdefault(row["item_id"], []).append(row)
    for item in study_items(study=analysis.study):
        rows = sorted(correlations.get(item["pk"], []), key=_dimension_key)
        yield item, rows


def analysis_item_bank_lines(*, analysis: Analysis):
    """The analysis's item bank as JSONL lines: the header with its selection rule set, then one line per item."""
    from psychometrics.itembank import item_bank_header, item_bank_jsonl_lines, item_bank_record

    header = item_bank_header(threshold=analysis.threshold, alpha=analysis.alpha, fdr=analysis.use_fdr,
                              study=analysis.study.slug, analysis=analysis.pk)
    records = (item_bank_record(item, rows, corrected=analysis.use_fdr) for item, rows in analysis_item_bank(analysis=analysis))
    return item_bank_jsonl_lines(records, header=header)


def analysis_correlation_rows(*, analysis: Analysis):
    """Tidy long rows (item_id, source, family, dimension, rho, p_value, p_adjusted, n, selected, direction)."""
    for item, rows in analysis_item_bank(analysis=analysis):
        for row in rows:
            yield {**row, "item_id": item["item_id"], "source": item["source"]}


def analysis_decisions(*, analysis: Analysis):
    """The participant decisions of an analysis with the participant's pseudonym (never the Prolific id)."""
    return analysis.decisions.select_related("participant").order_by("kept", "participant__pseudonym")

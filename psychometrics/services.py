"""Services that change psychometrics state: creating and running analyses, manual participant decisions."""

import dataclasses
import logging
import math
from collections.abc import Callable

import pandas as pd
from django.db import transaction
from django.utils import timezone

from psychometrics.models import Analysis, ItemCorrelation, ParticipantDecision, ParticipantOverride
from psychometrics.selectors import (
    instrument_answers,
    participant_frame,
    participant_overrides,
    ratings_frame,
    study_analysis_settings,
    study_items,
)
from psychometrics.stats.annotation import annotate_items
from psychometrics.stats.dimensions import BFI, FAMILIES, HIGHER_PVQ, PVQ
from psychometrics.stats.filtering import (
    INDEX_COLUMNS,
    REASONS,
    FilterRules,
    exclusion_counts,
    participant_decisions,
)
from psychometrics.stats.scoring import score_bfi10, score_pvq21
from psychometrics.stats.screening import screening_report
from psychometrics.stats.selection import power_report
from psychometrics.stats.validity import circumplex_check, circumplex_supported, selected_counts
from surveys.models import InstrumentAnswer, Participant, Study

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
STEPS = ("load", "filter", "score", "correlate", "report", "save")
# A correlation needs this many raters with a rating and a score (n = 2 gives rho = +-1 and no p-value).
MIN_RATERS = 3


class AnalysisError(Exception):
    """An analysis cannot be created or run; the message says why."""

    NOTE_REQUIRED = "A manual decision needs a note saying why."
    UNKNOWN_DECISION = "A manual decision is include, exclude or automatic, got {decision!r}."


def _none_if_nan(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@transaction.atomic
def analysis_create(
    *,
    study: Study,
    user=None,
    min_seconds: float | None = None,
    threshold: float | None = None,
    alpha: float | None = None,
    fdr: bool | None = None,
    enqueue: bool = True,
) -> Analysis:
    """Create a queued analysis with the study's rules (options override them for this run).

    With ``enqueue`` the Celery task is sent once the transaction commits; without, the caller
    runs it (``analysis_run``), as ``manage.py analyze`` does.
    """
    settings = study_analysis_settings(study=study)
    rules = settings.filter_rules()
    if min_seconds is not None:
        # One fixed minimum for this run, instead of the study's time rules.
        rules = dataclasses.replace(rules, min_completion_seconds=float(min_seconds), min_median_fraction=None)
    analysis = Analysis(
        study=study,
        rules=rules.as_dict(),
        threshold=settings.threshold if threshold is None else threshold,
        alpha=settings.alpha if alpha is None else alpha,
        use_fdr=settings.use_fdr if fdr is None else fdr,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    analysis.full_clean()
    analysis.save()
    if enqueue:
        from psychometrics.tasks import run_analysis

        # robust: in eager mode a failing analysis is recorded on its row, not raised into the caller's request.
        transaction.on_commit(lambda: _send(analysis.pk, run_analysis), robust=True)
    return analysis


def _send(analysis_id: int, task) -> None:
    result = task.delay(analysis_id)
    Analysis.objects.filter(pk=analysis_id, task_id="").update(task_id=result.id or "")


def _progress(analysis_id: int, step: str, on_progress: ProgressCallback | None) -> None:
    done = STEPS.index(step)
    Analysis.objects.filter(pk=analysis_id).update(progress=done / len(STEPS))
    if on_progress:
        on_progress(done, len(STEPS))


def analysis_run(*, analysis_id: int, on_progress: ProgressCallback | None = None) -> Analysis:
    """Run an analysis: filter participants, score them, correlate and select items, build the reports.

    An analysis that keeps nobody, or where no item has enough kept raters for a correlation, ends
    with status ``warning`` and ``Analysis.warning`` saying why (its decisions and screening are
    kept, it has no item bank); otherwise ``succeeded``.
    Re-runnable: the previous decisions and correlations of this analysis are replaced in one
    transaction together with the summary, so readers see the old results or the new, never a mix.
    On an error the analysis is marked failed (with the error) and the error is raised again.
    """
    analysis = Analysis.objects.select_related("study").get(pk=analysis_id)
    Analysis.objects.filter(pk=analysis_id).update(
        status=Analysis.Status.RUNNING, started_at=timezone.now(), finished_at=None, progress=0.0, error=""
    )
    try:
        decisions, annotations, summary = _compute(analysis, on_progress)
        _progress(analysis_id, "save", on_progress)
        _save(analysis, decisions, annotations, summary)
    except Exception as error:
        Analysis.objects.filter(pk=analysis_id).update(
            status=Analysis.Status.FAILED, finished_at=timezone.now(), error=f"{type(error).__name__}: {error}"
        )
        raise
    if on_progress:
        on_progress(len(STEPS), len(STEPS))
    analysis.refresh_from_db()
    return analysis


def _compute(analysis: Analysis, on_progress: ProgressCallback | None):
    study = analysis.study
    rules = FilterRules.from_dict(analysis.rules)

    _progress(analysis.pk, "load", on_progress)
    participants = participant_frame(study=study)
    pvq = instrument_answers(study=study, instrument=InstrumentAnswer.Instrument.PVQ21)
    bfi = instrument_answers(study=study, instrument=InstrumentAnswer.Instrument.BFI10)
    items = study_items(study=study)

    _progress(analysis.pk, "filter", on_progress)
    decisions = participant_decisions(participants, pvq, bfi, rules, participant_overrides(study=study))
    kept = decisions.loc[decisions["kept"], "participant"].tolist()

    _progress(analysis.pk, "score", on_progress)
    traits = pd.concat([score_pvq21(pvq.reindex(kept)), score_bfi10(bfi.reindex(kept))], axis=1)

    _progress(analysis.pk, "correlate", on_progress)
    item_pks = [item["pk"] for item in items]
    ratings = ratings_frame(study=study, participant_ids=kept)
    annotations = annotate_items(
        ratings, traits, items=item_pks, threshold=analysis.threshold, alpha=analysis.alpha, fdr=analysis.use_fdr
    )

    _progress(analysis.pk, "report", on_progress)
    summary = _summary(analysis, decisions, annotations, items)
    summary["warning"] = outcome_warning(decisions, annotations, items)
    summary["rater_profile"] = rater_profile(traits)
    return decisions, annotations, summary


def rater_profile(traits: pd.DataFrame) -> dict:
    """The kept participants' mean centred profile, stored with an item bank made from this study.

    Schwartz values: the mean of each person's MRAT-centred PVQ-21 scores (``score_pvq21``). Big Five:
    the mean of each person's BFI-10 trait minus their own mean over the five traits (centred, as
    the leaderboard compares centred with centred). ``{"n": kept, family: {dimension: value}}``;
    values no kept participant has are left out.
    """
    bfi = traits[FAMILIES[BFI]]
    centred = pd.concat([traits[FAMILIES[PVQ] + FAMILIES[HIGHER_PVQ]], bfi.sub(bfi.mean(axis=1), axis=0)], axis=1)
    means = centred.mean()
    profile: dict = {"n": len(traits)}
    for family in (PVQ, HIGHER_PVQ, BFI):
        values = {name: round(float(means[name]), 6) for name in FAMILIES[family] if pd.notna(means[name])}
        if values:
            profile[family] = values
    return profile


def outcome_warning(decisions: pd.DataFrame, annotations: pd.DataFrame, items: list) -> str:
    """Why nothing could be computed ("" when something could): nobody kept, no items, too few raters."""
    considered, kept = len(decisions), int(decisions["kept"].sum())
    if considered == 0:
        return "No participant could be analysed: nobody has completed the survey yet. Nothing can be computed."
    if kept == 0:
        reasons = "; ".join(f"{REASONS.get(code, code)}: {n}" for code, n in exclusion_counts(decisions).items())
        return (
            f"No participant was kept: {considered} of {considered} were excluded ({reasons}). "
            "Nothing can be computed."
        )
    if not items:
        return "The study has no items: nothing can be correlated."
    most = int(annotations["n"].max()) if len(annotations) else 0
    if most < MIN_RATERS:
        raters = "kept rater" if most == 1 else "kept raters"
        return (
            f"Too few raters per item: the most any item has is {most} {raters}; "
            f"correlations need at least {MIN_RATERS}."
        )
    computable = annotations[(annotations["n"] >= MIN_RATERS) & annotations["rho"].notna()]
    if computable.empty:
        return (
            "No correlation could be computed: among the kept raters every item's ratings, or the dimension "
            "scores, are constant."
        )
    return ""


def _summary(analysis: Analysis, decisions: pd.DataFrame, annotations: pd.DataFrame, items: list[dict]) -> dict:
    counts = selected_counts(annotations)
    selected = annotations[annotations["selected"]]
    pk_to_item_id = {item["pk"]: item["item_id"] for item in items}
    power = power_report(annotations[annotations["family"] == "pvq"], r=analysis.threshold, alpha=analysis.alpha)
    power["items_short"] = [pk_to_item_id[int(pk)] for pk in power["items_short"]]
    _, circumplex = circumplex_check(annotations)
    circumplex["supported"] = circumplex_supported(circumplex)
    families = list(dict.fromkeys(annotations["family"])) or list(FAMILIES)
    return {
        "participants": {
            "considered": len(decisions),
            "kept": int(decisions["kept"].sum()),
            "excluded": int((~decisions["kept"]).sum()),
            "excluded_by_reason": exclusion_counts(decisions),
            "manually_included": int((decisions["manual"] == "include").sum()),
            "manually_excluded": int((decisions["manual"] == "exclude").sum()),
            "median_completion_seconds": decisions.attrs.get("median_completion_seconds"),
            "min_seconds_applied": decisions.attrs.get("min_seconds_applied"),
        },
        "screening": screening_report(decisions),
        "items": len(items),
        "dimensions": int(annotations["dimension"].nunique()),
        "selected_pairs_per_family": {family: int((selected["family"] == family).sum()) for family in families},
        "selected_items_per_family": {
            family: int(selected.loc[selected["family"] == family, "item_id"].nunique()) for family in families
        },
        "selected_per_dimension": counts.to_dict(orient="records"),
        "power": power,
        "circumplex": circumplex,
        "rules": analysis.rules,
        "threshold": analysis.threshold,
        "alpha": analysis.alpha,
        "fdr": analysis.use_fdr,
        "reasons": REASONS,
    }


@transaction.atomic
def _save(analysis: Analysis, decisions: pd.DataFrame, annotations: pd.DataFrame, summary: dict) -> None:
    analysis = Analysis.objects.select_for_update().get(pk=analysis.pk)
    analysis.decisions.all().delete()
    analysis.correlations.all().delete()
    ParticipantDecision.objects.bulk_create(
        [
            ParticipantDecision(
                analysis=analysis,
                participant_id=int(row.participant),
                kept=bool(row.kept),
                reasons=list(row.reasons),
                manual=row.manual,
                failed_checks=int(row.failed_checks),
                completion_seconds=_none_if_nan(float(row.completion_seconds)),
                pvq21_consistency=_none_if_nan(float(row.pvq21_consistency)),
                bfi10_consistency=_none_if_nan(float(row.bfi10_consistency)),
                indices={name: _none_if_nan(float(getattr(row, name))) for name in INDEX_COLUMNS},
            )
            for row in decisions.itertuples(index=False)
        ],
        batch_size=1000,
    )
    ItemCorrelation.objects.bulk_create(
        (
            ItemCorrelation(
                analysis=analysis,
                item_id=int(row.item_id),
                family=row.family,
                dimension=row.dimension,
                rho=_none_if_nan(float(row.rho)),
                p_value=_none_if_nan(float(row.p_value)),
                p_adjusted=_none_if_nan(float(row.p_adjusted)),
                n=int(row.n),
                selected=bool(row.selected),
                direction=int(row.direction),
            )
            for row in annotations.itertuples(index=False)
        ),
        batch_size=2000,
    )
    analysis.warning = summary.get("warning", "")
    analysis.status = Analysis.Status.WARNING if analysis.warning else Analysis.Status.SUCCEEDED
    analysis.progress = 1.0
    analysis.finished_at = timezone.now()
    analysis.summary = summary
    analysis.error = ""
    analysis.save(update_fields=["status", "progress", "finished_at", "summary", "error", "warning"])
    if analysis.warning:
        logger.warning("analysis %s finished with a warning: %s", analysis.pk, analysis.warning)


@transaction.atomic
def participant_override_create(*, participant: Participant, decision: str, note: str, user=None) -> ParticipantOverride:
    """Record a researcher's include/exclude (or back-to-the-rules) decision for a participant.

    Overrides are an audit trail: each call adds a row, the newest one is in force, and the next
    analysis applies it.
    """
    if decision not in ParticipantOverride.Decision.values:
        raise AnalysisError(AnalysisError.UNKNOWN_DECISION.format(decision=decision))
    if not note or not note.strip():
        raise AnalysisError(AnalysisError.NOTE_REQUIRED)
    override = ParticipantOverride(
        participant=participant,
        decision=decision,
        note=note.strip(),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    override.full_clean()
    override.save()
    logger.info("participant %s: manual decision %s", participant.pseudonym, decision)
    return override

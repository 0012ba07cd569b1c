"""An analysis of a completed study, run by the command, the service and the Celery task."""

import json
import warnings
from datetime import timedelta
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from scipy import stats

from config.tasks import task_status
from psychometrics.models import Analysis, ItemCorrelation, ParticipantDecision, ParticipantOverride
from psychometrics.selectors import analysis_latest
from psychometrics.services import AnalysisError, analysis_create, analysis_run, participant_override_create
from psychometrics.stats.filtering import (
    ENDED_BY_FAILED_CHECKS,
    FAILED_ATTENTION_CHECKS,
    IDENTICAL_BFI10,
    IDENTICAL_PVQ21,
    LONGSTRING_PVQ21,
    MANUAL_EXCLUSION,
    OUTLIER_BFI10,
    TOO_FAST,
)
from psychometrics.stats.scoring import score_bfi10, score_pvq21
from surveys.models import InstrumentAnswer, Participant, Rating

pytestmark = pytest.mark.django_db


def _analyze(*args) -> tuple[str, Analysis]:
    out = StringIO()
    call_command("analyze", *args, stdout=out, stderr=StringIO())
    return out.getvalue(), Analysis.objects.latest("id")


def test_analyze_prints_participants_kept_and_excluded_by_reason_and_items_selected_per_family(completed_study):
    output, analysis = _analyze("values")
    assert analysis.status == Analysis.Status.SUCCEEDED and analysis.progress == 1.0
    people = analysis.summary["participants"]
    assert (people["considered"], people["kept"], people["excluded"]) == (34, 28, 6)
    assert people["excluded_by_reason"] == {
        ENDED_BY_FAILED_CHECKS: 1, FAILED_ATTENTION_CHECKS: 2, TOO_FAST: 1,
        IDENTICAL_PVQ21: 1, LONGSTRING_PVQ21: 1, IDENTICAL_BFI10: 1,
        OUTLIER_BFI10: 1,  # the BFI-10 answers that agree with both halves of every antonym pair
    }
    assert "34 considered, 28 kept, 6 excluded" in output
    assert "survey ended for failed attention checks (ended_by_failed_checks): 1" in output
    assert "pvq:" in output and "higher_pvq:" in output and "bfi:" in output
    assert analysis.rules["min_completion_seconds"] is None and analysis.rules["min_median_fraction"] == 0.5
    assert people["median_completion_seconds"] == 20 * 60 and people["min_seconds_applied"] == 10 * 60


def test_previews_and_unfinished_participants_are_not_considered(completed_study):
    _, analysis = _analyze("values")
    considered = set(analysis.decisions.values_list("participant__status", "participant__is_preview"))
    assert considered <= {("completed", False), ("failed_checks", False)}


def test_stored_correlations_equal_scipy_on_the_kept_participants(completed_study):
    _, analysis = _analyze("values")
    kept = list(analysis.decisions.filter(kept=True).values_list("participant_id", flat=True))
    answers = pd.DataFrame(list(InstrumentAnswer.objects.filter(participant_id__in=kept).values(
        "participant_id", "instrument", "question", "answer")))
    wide = {i: g.pivot(index="participant_id", columns="question", values="answer") for i, g in answers.groupby("instrument")}
    traits = pd.concat([score_pvq21(wide["pvq21"]), score_bfi10(wide["bfi10"])], axis=1)
    ratings = pd.DataFrame(list(Rating.objects.filter(participant_id__in=kept).values("participant_id", "item__item_id", "rating")))
    ratings = ratings.pivot(index="participant_id", columns="item__item_id", values="rating")

    rows = ItemCorrelation.objects.filter(analysis=analysis).select_related("item")
    assert rows.count() == 6 * 19
    checked = 0
    for row in rows:
        if row.item.item_id not in ratings.columns:
            assert row.n == 0 and row.rho is None
            continue
        both = ratings[row.item.item_id].notna() & traits[row.dimension].reindex(ratings.index).notna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = stats.spearmanr(ratings.loc[both, row.item.item_id], traits.loc[ratings.index[both], row.dimension])
        assert row.n == both.sum()
        if np.isnan(expected.statistic):
            assert row.rho is None and row.p_value is None
        else:
            assert row.rho == pytest.approx(expected.statistic, abs=1e-9)
            assert row.p_value == pytest.approx(expected.pvalue, abs=1e-9)
            checked += 1
    assert checked > 50


def test_keyed_items_are_selected_with_their_sign(completed_study):
    _, analysis = _analyze("values")
    a1 = ItemCorrelation.objects.get(analysis=analysis, item__item_id="A1", dimension="Power")
    b1 = ItemCorrelation.objects.get(analysis=analysis, item__item_id="B1", dimension="Universalism")
    assert (a1.selected, a1.direction) == (True, 1)
    assert (b1.selected, b1.direction) == (True, -1)
    constant = ItemCorrelation.objects.filter(analysis=analysis, item__item_id="A3")
    assert not constant.filter(rho__isnull=False).exists() and not constant.filter(selected=True).exists()
    assert analysis.summary["selected_items_per_family"]["pvq"] >= 2


def test_min_seconds_overrides_the_completion_time_rule_for_one_run(completed_study):
    _, analysis = _analyze("values", "--min-seconds", "0")
    assert analysis.rules["min_completion_seconds"] == 0.0
    assert TOO_FAST not in analysis.summary["participants"]["excluded_by_reason"]
    assert analysis.summary["participants"]["kept"] == 29


def test_threshold_and_alpha_options_change_the_selection(completed_study):
    _, strict = _analyze("values", "--threshold", "0.99", "--alpha", "0.01")
    assert (strict.threshold, strict.alpha) == (0.99, 0.01)
    assert not ItemCorrelation.objects.filter(analysis=strict, selected=True).exists()


def test_fdr_selects_with_adjusted_p_values(completed_study):
    _, analysis = _analyze("values", "--fdr")
    assert analysis.use_fdr and analysis.summary["fdr"]
    for row in ItemCorrelation.objects.filter(analysis=analysis, selected=True):
        assert row.p_adjusted < 0.05 and row.p_adjusted >= row.p_value


def test_an_unknown_study_or_a_bad_option_is_a_clear_error(completed_study):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("analyze", "nope")
    with pytest.raises(CommandError, match="--alpha must be between 0 and 1"):
        call_command("analyze", "values", "--alpha", "2")


def test_rerunning_an_analysis_replaces_its_results(completed_study):
    _, analysis = _analyze("values")
    before = list(ItemCorrelation.objects.filter(analysis=analysis).order_by("item_id", "dimension").values_list("item_id", "dimension", "rho"))
    analysis_run(analysis_id=analysis.pk)
    after = list(ItemCorrelation.objects.filter(analysis=analysis).order_by("item_id", "dimension").values_list("item_id", "dimension", "rho"))
    assert after == before
    assert ParticipantDecision.objects.filter(analysis=analysis).count() == 34


def test_the_task_runs_eagerly_after_commit_and_reports_through_the_row_and_the_result_backend(
    completed_study, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        analysis = analysis_create(study=completed_study)
        assert analysis.status == Analysis.Status.QUEUED
    assert len(callbacks) == 1
    analysis.refresh_from_db()
    assert analysis.status == Analysis.Status.SUCCEEDED and analysis.task_id
    status = task_status(analysis.task_id)
    assert status["state"] == "SUCCESS"
    assert status["result"] == {"analysis_id": analysis.pk, "status": "succeeded"}


def test_a_failing_analysis_is_marked_failed_with_the_error(completed_study, monkeypatch):
    import psychometrics.services as services

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "annotate_items", broken)
    analysis = analysis_create(study=completed_study, enqueue=False)
    with pytest.raises(RuntimeError):
        analysis_run(analysis_id=analysis.pk)
    analysis.refresh_from_db()
    assert analysis.status == Analysis.Status.FAILED and "disk on fire" in analysis.error
    assert not analysis.correlations.exists()


def test_manual_decisions_win_over_the_rules_and_are_kept_as_an_audit_trail(completed_study, django_user_model):
    researcher = django_user_model.objects.create_user("r", password="x")
    fast = Participant.objects.get(study=completed_study, completed_at__lt=F("arrived_at") + timedelta(minutes=6))
    careful = Participant.objects.filter(study=completed_study, status="completed").exclude(pk=fast.pk).first()
    participant_override_create(participant=fast, decision="exclude", note="first thought", user=researcher)
    participant_override_create(participant=fast, decision="include", note="timer bug on our side", user=researcher)
    participant_override_create(participant=careful, decision="exclude", note="duplicate person", user=researcher)
    _, analysis = _analyze("values")
    assert analysis.decisions.get(participant=fast).kept
    assert analysis.decisions.get(participant=fast).reasons == [TOO_FAST]
    assert analysis.decisions.get(participant=careful).reasons == [MANUAL_EXCLUSION]
    assert list(ParticipantOverride.objects.filter(participant=fast).values_list("note", flat=True)) == [
        "first thought", "timer bug on our side"
    ]
    participant_override_create(participant=careful, decision="automatic", note="same person after all")
    _, again = _analyze("values")
    assert again.decisions.get(participant=careful).kept


def test_a_manual_decision_needs_a_note(completed_study):
    participant = Participant.objects.filter(study=completed_study).first()
    with pytest.raises(AnalysisError, match=AnalysisError.NOTE_REQUIRED):
        participant_override_create(participant=participant, decision="exclude", note="  ")


def test_export_items_writes_the_item_bank_exchange_format(completed_study, tmp_path):
    _analyze("values")
    out = tmp_path / "bank.jsonl"
    call_command("export_items", "values", "--out", str(out), stdout=StringIO(), stderr=StringIO())
    header, *records = [json.loads(line) for line in out.read_text().splitlines()]
    analysis = Analysis.objects.latest("id")
    assert header == {"itembank_format": 2,
                      "selection": {"threshold": 0.3, "alpha": 0.05, "fdr": False, "correlation": "spearman", "keyed": "abs"},
                      "source": {"study": "values", "analysis": analysis.pk}}
    assert [r["item_id"] for r in records] == ["A1", "A2", "A3", "B1", "B2", "B3"]
    first = records[0]
    assert list(first) == ["item_id", "source", "title", "query", "response", "correlations"]
    assert first["title"] == "A title" and records[1]["title"] is None
    assert len(first["correlations"]) == 19
    assert list(first["correlations"][0]) == ["family", "dimension", "rho", "p_value", "n", "p_adjusted", "selected"]
    # Without --fdr no correction was applied: p_adjusted is null; selected is the analysis's own flag.
    assert all(c["p_adjusted"] is None for r in records for c in r["correlations"])
    stored = {(row.item.item_id, row.dimension): row.selected for row in analysis.correlations.select_related("item")}
    assert {(r["item_id"], c["dimension"]): c["selected"] for r in records for c in r["correlations"]} == stored
    assert stored[("A1", "Power")] is True
    assert [c["dimension"] for c in first["correlations"][:3]] == ["Self-Direction", "Stimulation", "Hedonism"]
    a3 = records[2]["correlations"][0]
    assert a3["rho"] is None and a3["p_value"] is None and a3["n"] == 14
    assert all(c["n"] == 0 for c in records[5]["correlations"])
    assert "NaN" not in out.read_text()


def test_the_benchmark_importer_reads_the_exported_item_bank(completed_study, tmp_path):
    itembank_format = pytest.importorskip("benchmark.itembank_format")
    _analyze("values")
    out = tmp_path / "bank.jsonl"
    call_command("export_items", "values", "--out", str(out), stdout=StringIO(), stderr=StringIO())
    items = itembank_format.read_itembank(out)
    assert len(items) == 6 and len(items[0].correlations) == 19


def test_export_items_csv_is_tidy_long(completed_study, tmp_path):
    _analyze("values")
    out = tmp_path / "bank.csv"
    call_command("export_items", "values", "--out", str(out), stdout=StringIO(), stderr=StringIO())
    table = pd.read_csv(out)
    assert list(table.columns) == ["item_id", "source", "family", "dimension", "rho", "p_value", "p_adjusted", "n", "selected", "direction"]
    assert len(table) == 6 * 19
    assert set(table["selected"]) <= {0, 1}


def test_export_items_needs_a_successful_analysis(completed_study, tmp_path):
    with pytest.raises(CommandError, match="no successful analysis yet"):
        call_command("export_items", "values", "--out", str(tmp_path / "x.jsonl"))
    assert not (tmp_path / "x.jsonl").exists()
    assert analysis_latest(study=completed_study) is None


def test_a_study_without_participants_finishes_with_a_warning_not_empty_results(db):
    from tests.factories import ItemFactory

    item = ItemFactory(item_id="lonely")
    output, analysis = _analyze(item.study.slug)
    assert analysis.status == Analysis.Status.WARNING
    assert analysis.warning == "No participant could be analysed: nobody has completed the survey yet. Nothing can be computed."
    assert analysis.summary["participants"]["considered"] == 0
    assert analysis.summary["screening"]["data_quality"] == {"excluded": 0, "share": None, "limit": 0.1, "warning": None}
    assert ItemCorrelation.objects.filter(analysis=analysis, n=0).count() == 19
    assert "0 considered, 0 kept, 0 excluded" in output
    assert f"WARNING: {analysis.warning}" in output


def test_the_task_reports_progress_through_update_state(completed_study, monkeypatch):
    from psychometrics.tasks import run_analysis

    states = []
    monkeypatch.setattr(run_analysis, "update_state", lambda **kwargs: states.append(kwargs))
    analysis = analysis_create(study=completed_study, enqueue=False)
    result = run_analysis.apply(args=[analysis.pk])
    assert result.get() == {"analysis_id": analysis.pk, "status": "succeeded"}
    assert states[0] == {"state": "PROGRESS", "meta": {"done": 0, "total": 6}}
    assert states[-1] == {"state": "PROGRESS", "meta": {"done": 6, "total": 6}}

"""Every analysis shows its screening: per-rule flag rates, the data-quality warning, and the warning state
of an analysis where nothing could be computed (nobody kept, too few raters)."""

from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from psychometrics.models import Analysis
from psychometrics.services import analysis_create, analysis_run, participant_override_create
from psychometrics.stats.filtering import (
    DATA_QUALITY_REASONS,
    ENDED_BY_FAILED_CHECKS,
    FAILED_ATTENTION_CHECKS,
    IDENTICAL_BFI10,
    IDENTICAL_PVQ21,
    INCONSISTENT_BFI10,
    INCONSISTENT_PVQ21,
    LONGSTRING_PVQ21,
    OUTLIER_BFI10,
    REASONS,
    TOO_FAST,
)
from psychometrics.stats.screening import screening_report
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.psychometrics.builders import CAREFUL_BFI, CAREFUL_PVQ, participant_with_answers

pytestmark = pytest.mark.django_db

PAPER = "the paper excluded about 5 %"


@pytest.fixture
def researcher(completed_study, django_user_model):
    user = django_user_model.objects.create_user("researcher", password="pw")
    completed_study.researchers.add(user)
    return user


def _run(study, **options) -> Analysis:
    return analysis_run(analysis_id=analysis_create(study=study, enqueue=False, **options).pk)


def _analyze(*args) -> tuple[str, Analysis]:
    out = StringIO()
    call_command("analyze", *args, stdout=out, stderr=StringIO())
    return out.getvalue(), Analysis.objects.latest("id")


def _rule(screening: dict, code: str) -> dict:
    return next(row for row in screening["per_rule"] if row["code"] == code)


def _page(client, slug="values") -> str:
    return client.get(reverse("psychometrics:analysis", args=[slug])).content.decode()


# -- the report on its own ----------------------------------------------------------------------------
def test_per_rule_counts_and_shares_match_a_hand_computation():
    decisions = pd.DataFrame(
        {
            "participant": [1, 2, 3, 4, 5, 6, 7, 8],
            "kept": [True, False, False, True, False, False, True, True],
            "reasons": [
                [],
                [TOO_FAST, IDENTICAL_PVQ21, INCONSISTENT_PVQ21],
                [IDENTICAL_PVQ21],
                [INCONSISTENT_BFI10],  # included by hand: flagged, not excluded
                [FAILED_ATTENTION_CHECKS],  # not a data-quality rule
                ["a_future_rule"],  # a code this version does not know: counted under its code
                [],
                [],
            ],
            "manual": ["", "", "exclude", "include", "", "", "", ""],
        }
    )
    report = screening_report(decisions)
    assert report["analysable"] == 8
    flagged = {row["code"]: row["flagged"] for row in report["per_rule"]}
    assert flagged == {**dict.fromkeys(REASONS, 0), TOO_FAST: 1, IDENTICAL_PVQ21: 2, INCONSISTENT_PVQ21: 1,
                       INCONSISTENT_BFI10: 1, FAILED_ATTENTION_CHECKS: 1, "a_future_rule": 1}
    assert _rule(report, IDENTICAL_PVQ21)["share"] == 2 / 8
    assert _rule(report, INCONSISTENT_BFI10) == {
        "code": INCONSISTENT_BFI10, "rule": REASONS[INCONSISTENT_BFI10], "data_quality": True, "flagged": 1, "share": 1 / 8,
    }
    assert _rule(report, TOO_FAST)["data_quality"] is False
    assert _rule(report, "a_future_rule")["rule"] == "a_future_rule"
    assert [row["code"] for row in report["per_rule"]][: len(REASONS)] == list(REASONS)
    # participants 2 and 3 (4 is included by hand, 5 and 6 have no data-quality reason): 2 of 8 = 25 %
    assert report["data_quality"]["excluded"] == 2 and report["data_quality"]["share"] == 0.25
    assert PAPER in report["data_quality"]["warning"] and "2 of 8 analysable participants (25.0 %)" in report["data_quality"]["warning"]


@pytest.mark.parametrize(("excluded", "warns"), [(0, False), (1, False), (2, True)])
def test_the_data_quality_warning_starts_above_ten_percent(excluded, warns):
    code = sorted(DATA_QUALITY_REASONS)[0]
    decisions = pd.DataFrame(
        {"reasons": [[code]] * excluded + [[]] * (10 - excluded), "manual": [""] * 10, "kept": [not excluded] * 10}
    )
    warning = screening_report(decisions)["data_quality"]["warning"]
    assert (warning is not None) == warns
    if warns:
        assert PAPER in warning and "20.0 %" in warning and "more than 10 %" in warning


def test_without_participants_shares_are_none():
    report = screening_report(pd.DataFrame({"reasons": [], "manual": []}))
    assert report["analysable"] == 0 and all(row["share"] is None for row in report["per_rule"])
    assert report["data_quality"] == {"excluded": 0, "share": None, "limit": 0.1, "warning": None}


# -- an analysis of the completed study: 34 analysable, 3 excluded by data-quality rules (8.8 %) ---------
def test_the_summary_records_every_rules_flags_and_the_data_quality_exclusions(completed_study):
    analysis = _run(completed_study)
    screening = analysis.summary["screening"]
    assert screening["analysable"] == 34
    flagged = {row["code"]: row["flagged"] for row in screening["per_rule"] if row["flagged"]}
    assert flagged == {ENDED_BY_FAILED_CHECKS: 1, FAILED_ATTENTION_CHECKS: 2, TOO_FAST: 1, IDENTICAL_PVQ21: 1,
                       LONGSTRING_PVQ21: 1, IDENTICAL_BFI10: 1, OUTLIER_BFI10: 1}
    assert _rule(screening, FAILED_ATTENTION_CHECKS)["share"] == 2 / 34
    # identical PVQ-21 (also a long string), identical BFI-10, contradicting BFI-10 (an outlier): 3 people
    assert screening["data_quality"]["excluded"] == 3 and screening["data_quality"]["share"] == 3 / 34
    assert screening["data_quality"]["warning"] is None


def test_a_participant_included_by_hand_is_still_flagged_but_not_excluded(completed_study):
    first = _run(completed_study)
    identical = next(d for d in first.decisions.all() if IDENTICAL_PVQ21 in d.reasons).participant
    participant_override_create(participant=identical, decision="include", note="checked by phone")
    screening = _run(completed_study).summary["screening"]
    assert _rule(screening, IDENTICAL_PVQ21)["flagged"] == 1
    assert screening["data_quality"]["excluded"] == 2


def test_the_page_shows_the_per_rule_table_and_no_warning_at_or_below_ten_percent(client, researcher, completed_study):
    _run(completed_study)
    client.force_login(researcher)
    page = _page(client)
    assert "<th>Rule</th>" in page and "Flagged</th>" in page and "Share</th>" in page
    assert "more failed attention checks than allowed</td><td class=\"num\">2</td><td class=\"num\">5.9 %</td>" in page
    assert "Excluded by the data-quality rules together</td><td class=\"num\">3</td><td class=\"num\">8.8 %</td>" in page
    assert "rules flagged nobody" in page and REASONS[INCONSISTENT_PVQ21] in page
    assert PAPER not in page


@pytest.fixture
def careless_study(completed_study):
    """The completed study plus two participants giving one PVQ-21 answer throughout: 5 of 36 (13.9 %) excluded."""
    group = completed_study.groups.get(name="A")
    junk = dict.fromkeys(completed_study.items.filter(group=group), 6)
    for answer in (2, 5):
        participant_with_answers(study=completed_study, group=group, pvq=dict.fromkeys(range(1, 22), answer),
                                 bfi=CAREFUL_BFI, ratings=junk)
    return completed_study


def test_more_than_ten_percent_excluded_by_data_quality_warns_on_the_page_and_in_the_command(client, researcher, careless_study):
    output, analysis = _analyze("values")
    assert analysis.status == Analysis.Status.SUCCEEDED  # the results stand, with a warning beside them
    warning = analysis.summary["screening"]["data_quality"]["warning"]
    assert "5 of 36 analysable participants (13.9 %)" in warning and PAPER in warning
    assert f"WARNING: {warning}" in output
    assert "identical_pvq21, data quality): 3 (8.3 %)" in output
    assert "excluded by the data-quality rules together: 5 (13.9 %)" in output
    client.force_login(researcher)
    page = _page(client)
    assert PAPER in page and "Screening warning." in page
    assert "items.jsonl" in page  # a data-quality warning does not withhold the item bank


def test_an_older_analysis_without_a_recorded_screening_shows_it_from_its_decisions(client, researcher, completed_study):
    analysis = _run(completed_study)
    summary = dict(analysis.summary)
    del summary["screening"]
    Analysis.objects.filter(pk=analysis.pk).update(summary=summary)
    client.force_login(researcher)
    assert "Excluded by the data-quality rules together</td><td class=\"num\">3</td><td class=\"num\">8.8 %</td>" in _page(client)


# -- nothing computable: the warning state --------------------------------------------------------------
def test_an_analysis_that_keeps_nobody_finishes_with_a_warning(completed_study):
    output, analysis = _analyze("values", "--min-seconds", "100000")
    assert analysis.status == Analysis.Status.WARNING and analysis.get_status_display() == "Finished with a warning"
    assert analysis.warning.startswith("No participant was kept: 34 of 34 were excluded (")
    assert f"{REASONS[TOO_FAST]}: 34" in analysis.warning and analysis.warning.endswith("Nothing can be computed.")
    assert analysis.summary["warning"] == analysis.warning
    assert analysis.decisions.count() == 34  # who was excluded, and why, is still recorded
    assert "(warning)" in output and f"WARNING: {analysis.warning}" in output
    assert "Items:" not in output and "Power:" not in output


def test_the_page_shows_the_warning_and_offers_no_downloads(client, researcher, completed_study):
    analysis = _run(completed_study, min_seconds=100000)
    client.force_login(researcher)
    page = _page(client)
    assert "Finished with a warning" in page and analysis.warning in page
    assert 'role="alert"' in page and "has no item bank" in page
    assert "items.jsonl" not in page and "items.csv" not in page
    assert "Selected items per dimension" not in page and "Power" not in page
    assert "<th>Rule</th>" in page  # the screening is shown all the same


def test_the_download_urls_of_a_warning_analysis_refuse_with_a_reason(client, researcher, completed_study):
    analysis = _run(completed_study, min_seconds=100000)
    client.force_login(researcher)
    for fmt in ("jsonl", "csv"):
        url = reverse("psychometrics:analysis-items", args=["values", fmt])
        for response in (client.get(url), client.get(f"{url}?analysis={analysis.pk}")):
            assert response.status_code == 409 and not response.streaming
            text = response.content.decode()
            assert f"Analysis {analysis.pk} finished with a warning and has no item bank" in text
            assert "No participant was kept" in text
    url = reverse("psychometrics:analysis-items", args=["values", "jsonl"])
    assert client.get(f"{url}?analysis=999999").status_code == 404
    assert client.get(f"{url}?analysis=x").status_code == 404


def test_after_a_warning_the_last_succeeded_item_bank_stays_reachable(client, researcher, completed_study, tmp_path):
    good = _run(completed_study)
    warned = _run(completed_study, min_seconds=100000)
    client.force_login(researcher)
    page = _page(client)
    assert f"Results of analysis {warned.pk}" in page and f"items.jsonl?analysis={good.pk}" in page
    url = reverse("psychometrics:analysis-items", args=["values", "jsonl"])
    assert client.get(url).status_code == 409
    ok = client.get(f"{url}?analysis={good.pk}")
    assert ok.status_code == 200 and f"analysis-{good.pk}.jsonl" in ok["Content-Disposition"]
    # the export command uses the latest succeeded analysis, says so, and refuses the warning one
    err = StringIO()
    call_command("export_items", "values", "--out", str(tmp_path / "bank.jsonl"), stdout=StringIO(), stderr=err)
    assert f"exporting analysis {good.pk}, the latest that succeeded" in err.getvalue()
    with pytest.raises(CommandError, match=f"Analysis {warned.pk} finished with a warning and has no item bank"):
        call_command("export_items", "values", "--out", str(tmp_path / "x.jsonl"), "--analysis", str(warned.pk))


def test_a_warning_analysis_does_not_count_as_the_latest_succeeded_one(completed_study):
    from psychometrics.selectors import analysis_latest

    good = _run(completed_study)
    warned = _run(completed_study, min_seconds=100000)
    assert analysis_latest(study=completed_study, succeeded=True) == good
    assert analysis_latest(study=completed_study, finished=True) == warned


def _small_study(raters: int, rating=None):
    """A study whose one item group is rated by ``raters`` careful participants (rating fixed or varied)."""
    study = StudyFactory(slug="small")
    group = ItemGroupFactory(study=study, name="A")
    items = [ItemFactory(study=study, group=group, item_id=f"A{k}") for k in (1, 2)]
    for i in range(raters):
        pvq = {q: min(6, a + i % 2) for q, a in CAREFUL_PVQ.items()}
        participant_with_answers(study=study, group=group, pvq=pvq, bfi=CAREFUL_BFI,
                                 ratings={item: rating or 1 + (i + k) % 6 for k, item in enumerate(items)})
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=CAREFUL_BFI, minutes=2)  # too fast for 360 s
    return study


def test_too_few_raters_per_item_finishes_with_a_warning():
    analysis = _run(_small_study(raters=2), min_seconds=360)
    assert analysis.summary["participants"]["kept"] == 2
    assert analysis.status == Analysis.Status.WARNING
    assert analysis.warning == (
        "Too few raters per item: the most any item has is 2 kept raters; correlations need at least 3."
    )


def test_constant_ratings_leave_nothing_to_correlate_and_warn():
    analysis = _run(_small_study(raters=4, rating=3), min_seconds=360)
    assert analysis.status == Analysis.Status.WARNING
    assert analysis.warning.startswith("No correlation could be computed")


def test_three_raters_are_enough_to_succeed():
    assert _run(_small_study(raters=3), min_seconds=360).status == Analysis.Status.SUCCEEDED


def test_the_api_shows_the_warning_status_and_its_reason(client, researcher, completed_study):
    analysis = _run(completed_study, min_seconds=100000)
    client.force_login(researcher)
    detail = client.get(reverse("psychometrics-analysis-detail", args=[analysis.pk])).json()
    assert detail["status"] == "warning" and detail["warning"] == analysis.warning
    assert detail["summary"]["screening"]["analysable"] == 34
    ok = _run(completed_study)
    detail = client.get(reverse("psychometrics-analysis-detail", args=[ok.pk])).json()
    assert detail["status"] == "succeeded" and detail["warning"] == ""
    assert _rule(detail["summary"]["screening"], TOO_FAST) == {
        "code": TOO_FAST, "rule": REASONS[TOO_FAST], "data_quality": False, "flagged": 1, "share": 1 / 34,
    }


def test_the_task_reports_the_warning_status(completed_study):
    from psychometrics.tasks import run_analysis

    analysis = analysis_create(study=completed_study, min_seconds=100000, enqueue=False)
    assert run_analysis.apply(args=[analysis.pk]).get() == {"analysis_id": analysis.pk, "status": "warning"}



def test_the_page_states_the_rules_in_force_in_words(client, researcher, completed_study):
    _run(completed_study)
    client.force_login(researcher)
    page = _page(client)
    assert ("Rules for the next analysis: exclude more than 2 failed checks, faster than 0.5 × the median time, "
            "one answer to every item, a run of more than 16 identical PVQ-21 answers, outlier screen at 4 % of "
            "ordinary respondents;") in page
    assert "(minimum time applied: 600 s; median 1200 s)" in page

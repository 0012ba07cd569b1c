"""export_study and the dashboard's study downloads: wide file, scores, codebook; CSV, Parquet, SPSS, Stata."""

import json
import random
import re
from datetime import timedelta

import pandas as pd
import pyreadstat
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from psychometrics.models import ParticipantDecision
from psychometrics.services import analysis_create, analysis_run
from surveys.instruments import PVQ21, PVQ21_SCALE
from surveys.models import AttentionCheckResponse, InstrumentAnswer, Participant, Rating
from surveys.study_exports import study_export_tables
from tests.factories import ItemFactory, ItemGroupFactory, ParticipantFactory, StudyFactory

ITEM_IDS = ["v1", "q-1/a b", "x" * 40, "V1x", "v1X"]
SAFE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,26}")


def _answers(rng: random.Random, n: int, top: int, flat: int | None = None) -> dict[int, int]:
    return {q: flat if flat is not None else rng.randint(1, top) for q in range(1, n + 1)}


def make_study(n_participants: int, slug: str = "wide"):
    """A study with two groups, the given number of completed participants (one straight-liner), a preview and
    one participant who declined consent; returns (study, {pseudonym: (pvq, bfi, ratings)})."""
    rng = random.Random(n_participants)
    study = StudyFactory(slug=slug)
    groups = [ItemGroupFactory(study=study, name=name) for name in ("A", "B")]
    items = [ItemFactory(group=groups[i % 2], item_id=f"{slug}-{item_id}" if slug != "wide" else item_id)
             for i, item_id in enumerate(ITEM_IDS)]
    answers, instrument, ratings, checks = {}, [], [], []
    for n in range(n_participants):
        group = groups[n % 2]
        participant = ParticipantFactory(study=study, group=group, status=Participant.Status.COMPLETED,
                                         pvq_form="female", gender="female", age_band="25-34")
        participant.completed_at = participant.arrived_at + timedelta(seconds=600 + n)
        participant.save()
        pvq = _answers(rng, 21, 6, flat=3 if n == 0 else None)
        bfi = _answers(rng, 10, 5)
        rated = {item.item_id: rng.randint(1, 6) for item in items if item.group_id == group.pk}
        answers[participant.pseudonym] = (pvq, bfi, rated)
        at = participant.arrived_at
        instrument += [InstrumentAnswer(participant=participant, instrument="pvq21", question=q, answer=a, answered_at=at)
                       for q, a in pvq.items()]
        instrument += [InstrumentAnswer(participant=participant, instrument="bfi10", question=q, answer=a, answered_at=at)
                       for q, a in bfi.items()]
        ratings += [Rating(participant=participant, item=item, rating=rated[item.item_id], answered_at=at)
                    for item in items if item.item_id in rated]
        checks.append(AttentionCheckResponse(participant=participant, check_key="c1", step=1, expected=2, answer=2,
                                             passed=True, answered_at=at))
    InstrumentAnswer.objects.bulk_create(instrument)
    Rating.objects.bulk_create(ratings)
    AttentionCheckResponse.objects.bulk_create(checks)
    ParticipantFactory(study=study, status=Participant.Status.NO_CONSENT)
    preview = ParticipantFactory(study=study, group=groups[0], is_preview=True, status=Participant.Status.COMPLETED)
    Rating.objects.create(participant=preview, item=items[0], rating=1, answered_at=preview.arrived_at)
    analysis_run(analysis_id=analysis_create(study=study, enqueue=False).pk)
    return study, answers


@pytest.fixture
def study(db):
    return make_study(6)


def test_the_wide_file_has_a_row_per_participant_with_answers_ratings_and_hand_computed_scores(study):
    study, answers = study
    wide, scores, _ = study_export_tables(study=study)
    expected_ids = sorted(Participant.objects.filter(study=study, is_preview=False).values_list("pseudonym", flat=True))
    assert wide["participant_id"].tolist() == expected_ids
    assert scores["participant_id"].tolist() == expected_ids
    rows = wide.set_index("participant_id")
    for pseudonym, (pvq, bfi, rated) in answers.items():
        row = rows.loc[pseudonym]
        assert [row[f"pvq21_q{q:02d}"] for q in range(1, 22)] == [pvq[q] for q in range(1, 22)]
        assert [row[f"bfi10_q{q:02d}"] for q in range(1, 11)] == [bfi[q] for q in range(1, 11)]
        assert row["item_v1"] == rated["v1"] if "v1" in rated else pd.isna(row["item_v1"])
        # Hand computation from the ESS key: Benevolence = questions 12, 18; Extraversion = 6 - q1 and q6.
        mrat = sum(pvq.values()) / 21
        assert row["pvq_raw_benevolence"] == pytest.approx((pvq[12] + pvq[18]) / 2, abs=1e-12)
        assert row["pvq_mrat"] == pytest.approx(mrat, abs=1e-12)
        assert row["pvq_benevolence"] == pytest.approx((pvq[12] + pvq[18]) / 2 - mrat, abs=1e-12)
        conservation = [pvq[q] for q in (5, 14, 7, 16, 9, 20)]
        assert row["pvqho_conservation"] == pytest.approx(sum(conservation) / 6 - mrat, abs=1e-12)
        assert row["bfi_extraversion"] == pytest.approx((6 - bfi[1] + bfi[6]) / 2, abs=1e-12)
    declined = rows[rows["status"] == "no_consent"].iloc[0]
    assert pd.isna(declined["pvq21_q01"]) and pd.isna(declined["included"]) and pd.isna(declined["pvq_benevolence"])


def test_item_ratings_are_one_column_per_item_with_safe_distinct_names(study):
    study, answers = study
    wide, _, codebook = study_export_tables(study=study)
    mapping = {entry["item_id"]: entry["column"] for entry in codebook if entry["item_id"]}
    assert list(mapping) == ITEM_IDS
    assert mapping["v1"] == "item_v1"
    assert all(SAFE.fullmatch(column) for column in wide.columns)
    assert len({c.lower() for c in wide.columns}) == len(wide.columns)
    rows = wide.set_index("participant_id")
    for pseudonym, (_, _, rated) in answers.items():
        for item_id, column in mapping.items():
            value = rows.loc[pseudonym, column]
            assert (value == rated[item_id]) if item_id in rated else pd.isna(value)


def test_screening_columns_follow_the_latest_analysis(study):
    study, answers = study
    wide, scores, _ = study_export_tables(study=study)
    decisions = {d.participant.pseudonym: d for d in ParticipantDecision.objects.select_related("participant")}
    rows = wide.set_index("participant_id")
    straight_liner = next(p for p, (pvq, _, _) in answers.items() if set(pvq.values()) == {3})
    assert "identical_pvq21" in decisions[straight_liner].reasons
    for pseudonym, decision in decisions.items():
        assert rows.loc[pseudonym, "included"] == int(decision.kept)
        assert rows.loc[pseudonym, "excluded_reasons"] == ";".join(decision.reasons)
        assert rows.loc[pseudonym, "scr_identical_pvq21"] == int("identical_pvq21" in decision.reasons)
    assert rows.loc[straight_liner, "included"] == 0
    assert scores.set_index("participant_id").loc[straight_liner, "included"] == 0


def test_the_codebook_lists_every_column_exactly_with_codings_and_question_text(study):
    study, _ = study
    wide, scores, codebook = study_export_tables(study=study)
    assert [e["column"] for e in codebook] == list(wide.columns)
    assert [e["column"] for e in codebook if "scores" in e["files"].split()] == list(scores.columns)
    entry = {e["column"]: e for e in codebook}
    assert entry["pvq21_q01"]["value_labels"] == dict(PVQ21_SCALE)
    assert PVQ21[0]["male"] in entry["pvq21_q01"]["question"]
    assert entry["bfi10_q01"]["question"] == "I see myself as someone who ... is reserved"
    assert "1 = Not like me at all" in entry["item_v1"]["coding"]
    assert "Query:" in entry["item_v1"]["question"] and entry["item_v1"]["item_id"] == "v1"


@pytest.mark.parametrize("fmt", ["csv", "parquet", "sav", "dta"])
def test_export_study_writes_four_files_that_read_back_and_hold_no_prolific_id(study, tmp_path, fmt):
    study, _ = study
    call_command("export_study", study.slug, "--format", fmt, "--out", str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"wide.{fmt}", f"scores.{fmt}", "codebook.csv", "codebook.json"])
    wide, scores, codebook = study_export_tables(study=study)
    for name, expected in (("wide", wide), ("scores", scores)):
        path = tmp_path / f"{name}.{fmt}"
        if fmt == "csv":
            back = pd.read_csv(path, keep_default_na=False, na_values=[""])
        elif fmt == "parquet":
            back = pd.read_parquet(path)
        else:
            back, meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(str(path))
            labels = {e["column"]: e for e in codebook}
            assert meta.column_names_to_labels["participant_id"] == labels["participant_id"]["label"]
            if name == "wide":
                assert meta.variable_value_labels["pvq21_q06"] == dict(PVQ21_SCALE)
        assert list(back.columns) == list(expected.columns)
        for column in expected.columns:
            left, right = expected[column], back[column]
            if pd.api.types.is_numeric_dtype(left.dtype):
                assert pd.Series(right, dtype=float).tolist() == pytest.approx(left.astype(float).tolist(), abs=1e-9, nan_ok=True), column
            else:
                assert right.astype(object).fillna("").astype(str).tolist() == left.astype(object).fillna("").astype(str).tolist(), column
    codebook_json = json.loads((tmp_path / "codebook.json").read_text())
    assert [c["column"] for c in codebook_json["columns"]] == list(wide.columns)
    assert pd.read_csv(tmp_path / "codebook.csv")["column"].tolist() == list(wide.columns)
    secrets = [v for row in Participant.objects.values_list("prolific_pid", "prolific_session_id") for v in row if v]
    for path in tmp_path.iterdir():
        raw = path.read_bytes()
        assert not [s for s in secrets if s.encode() in raw], path.name


def test_an_unknown_study_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("export_study", "nope", "--out", str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_the_number_of_queries_does_not_grow_with_participants(db):
    counts = []
    for n, slug in ((3, "small"), (12, "large")):
        study, _ = make_study(n, slug=slug)
        with CaptureQueriesContext(connection) as queries:
            study_export_tables(study=study)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 10


def test_downloads_follow_the_study_researchers(study):
    study, _ = study
    users = get_user_model().objects
    own, other = users.create_user("own", password="pw"), users.create_user("other", password="pw")
    study.researchers.add(own)
    StudyFactory(slug="elsewhere").researchers.add(other)
    client = Client()
    client.force_login(own)
    dashboard = client.get(f"/studies/{study.slug}/dashboard/").content.decode()
    for url in (f"/studies/{study.slug}/export/study/wide.sav", f"/studies/{study.slug}/export/study/scores.dta",
                f"/studies/{study.slug}/export/study/codebook.json"):
        assert url in dashboard
        response = client.get(url)
        assert response.status_code == 200 and b"".join(response.streaming_content)
    assert client.get(f"/studies/{study.slug}/export/study/codebook.sav").status_code == 404
    client.force_login(other)
    assert client.get(f"/studies/{study.slug}/export/study/wide.csv").status_code == 403

"""export_responses and the dashboard downloads: long format, pseudonymous unless asked."""

import io
import json

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from surveys.models import Participant, Rating
from surveys.services import participant_preview
from tests.surveys.helpers import arrive, complete

PIDS = ["5f0c2d3e4a1b2c3d4e5f6a7b", "6a6a6a6a6a6a6a6a6a6a6a6a"]


@pytest.fixture
def finished(demo_study):
    participants = []
    for n, pid in enumerate(PIDS):
        client = Client()
        url, participant = arrive(client, "demo", pid)
        complete(client, url, participant, fail_checks=(n == 1))
        participants.append(participant)
    preview = participant_preview(study=demo_study)
    Rating.objects.create(participant=preview, item=demo_study.items.first(), rating=3, answered_at=preview.arrived_at)
    return participants


def read(path, fmt):
    if fmt == "csv":
        return pd.read_csv(path)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True)
    return pd.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_ratings_export_has_one_row_per_rating_and_no_prolific_ids(finished, tmp_path, fmt):
    out = tmp_path / f"ratings.{fmt}"
    call_command("export_responses", "demo", "--out", str(out))
    frame = read(out, fmt)
    assert list(frame.columns) == ["participant_id", "item_id", "group", "source", "rating", "answered_at", "participant_status"]
    expected = sorted(Rating.objects.filter(participant__is_preview=False).values_list("participant__pseudonym", "item__item_id", "rating"))
    assert sorted(frame[["participant_id", "item_id", "rating"]].itertuples(index=False, name=None)) == expected
    assert len(frame) == 12
    raw = out.read_bytes()
    for pid in PIDS:
        assert pid.encode() not in raw


def test_raw_ids_are_exported_only_on_request(finished, tmp_path):
    out = tmp_path / "participants.csv"
    call_command("export_responses", "demo", "--what", "participants", "--raw-ids", "--out", str(out))
    frame = pd.read_csv(out, dtype=str)
    assert set(frame["prolific_pid"]) == set(PIDS)
    assert list(frame.columns[:4]) == ["participant_id", "prolific_pid", "prolific_study_id", "prolific_session_id"]


def test_the_participants_export_summarises_each_participant(finished, tmp_path):
    out = tmp_path / "p.jsonl"
    call_command("export_responses", "demo", "--what", "participants", "--out", str(out))
    rows = {r["participant_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    done, failed = (Participant.objects.get(pk=p.pk) for p in finished)
    assert rows[done.pseudonym]["status"] == "completed" and rows[done.pseudonym]["failed_checks"] == 0
    assert rows[failed.pseudonym]["status"] == "failed_checks" and rows[failed.pseudonym]["failed_checks"] == 4
    expected_seconds = (done.completed_at - done.arrived_at).total_seconds()
    assert rows[done.pseudonym]["completion_seconds"] == pytest.approx(expected_seconds)


@pytest.mark.parametrize("what, per_participant", [("pvq21", 21), ("bfi10", 10), ("checks", 4)])
def test_instrument_and_check_exports_are_long(finished, tmp_path, what, per_participant):
    out = tmp_path / f"{what}.csv"
    call_command("export_responses", "demo", "--what", what, "--out", str(out))
    frame = pd.read_csv(out)
    assert len(frame) == per_participant * 2
    assert frame.groupby("participant_id").size().tolist() == [per_participant] * 2
    if what == "pvq21":
        assert frame.loc[frame.question == 17, "value"].unique().tolist() == ["power"]
        assert frame["answer"].between(1, 6).all()
    if what == "bfi10":
        assert frame.loc[frame.question == 1, "trait"].iloc[0] == "extraversion"
        assert bool(frame.loc[frame.question == 1, "reversed"].iloc[0]) is True


def test_the_pages_export_gives_time_on_each_page(finished, tmp_path):
    out = tmp_path / "pages.csv"
    call_command("export_responses", "demo", "--what", "pages", "--out", str(out))
    frame = pd.read_csv(out)
    assert (frame["seconds_on_page"] >= 0).all()
    first = frame[frame.step == 0].iloc[0]
    participant = Participant.objects.get(pseudonym=first.participant_id)
    page = participant.pages.get(step=0)
    assert first.seconds_on_page == pytest.approx((page.submitted_at - participant.arrived_at).total_seconds(), abs=1e-3)


def test_csv_goes_to_stdout_without_out(finished, capsys):
    call_command("export_responses", "demo", "--what", "checks")
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(frame) == 8


def test_an_unknown_study_or_format_is_a_clear_error(finished, tmp_path):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("export_responses", "nope")
    with pytest.raises(CommandError, match="Cannot export to '.xlsx'"):
        call_command("export_responses", "demo", "--out", str(tmp_path / "x.xlsx"))


def test_previews_are_included_only_on_request(finished, tmp_path):
    out = tmp_path / "r.csv"
    call_command("export_responses", "demo", "--include-preview", "--out", str(out))
    assert len(pd.read_csv(out)) == 13


@pytest.mark.parametrize("what", ["ratings", "pvq21", "bfi10", "checks", "participants", "pages"])
def test_no_export_holds_a_prolific_id_unless_asked(finished, tmp_path, what):
    sessions = list(Participant.objects.values_list("prolific_session_id", flat=True))
    for fmt in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"{what}.{fmt}"
        call_command("export_responses", "demo", "--what", what, "--out", str(out))
        frame = read(out, fmt)
        assert len(frame) and not [c for c in frame.columns if c.startswith("prolific")], (what, fmt)
        assert set(frame["participant_id"]) <= set(Participant.objects.values_list("pseudonym", flat=True))
        raw = out.read_bytes()
        assert not [pid for pid in PIDS + sessions if pid and pid.encode() in raw], (what, fmt)
    out = tmp_path / f"{what}-raw.csv"
    call_command("export_responses", "demo", "--what", what, "--raw-ids", "--out", str(out))
    assert set(pd.read_csv(out, dtype=str)["prolific_pid"]) == set(PIDS)


def test_a_raw_id_export_is_logged_without_the_ids(finished, tmp_path, caplog):
    call_command("export_responses", "demo", "--what", "ratings", "--out", str(tmp_path / "pseudo.csv"))
    assert not [r for r in caplog.records if r.name == "surveys.exports"]
    call_command("export_responses", "demo", "--what", "participants", "--raw-ids", "--out", str(tmp_path / "raw.csv"))
    [audit] = [r.getMessage() for r in caplog.records if r.name == "surveys.exports"]
    assert "Raw Prolific IDs exported: study 'demo', participants, 2 rows" in audit and "raw.csv" in audit
    assert not [pid for pid in PIDS if pid in audit]

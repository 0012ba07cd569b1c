"""No Prolific ID in any log during a whole survey; exports are pseudonymous unless raw IDs are asked for."""

import io
import logging
import re
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command
from django.test import Client

from surveys.exports import EXPORT_FORMATS, EXPORT_KINDS
from surveys.models import Participant
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.helpers import arrive, complete, entry_url

ROOT = Path(__file__).resolve().parents[2]
PID = "a1b2c3d4e5f6a7b8c9d0e1f2"
OTHER_PID = "0f0e0d0c0b0a090807060504"
pytestmark = pytest.mark.django_db


class Everything(logging.Handler):
    """Collects every record of every logger, formatted with its arguments, at DEBUG and above."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage() + (self.formatException(record.exc_info) if record.exc_info else ""))


@pytest.fixture
def all_logs():
    handler, root = Everything(), logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def study(django_user_model):
    group = ItemGroupFactory(study=StudyFactory(slug="private", prolific_study_id="abc123"))
    for n in range(6):
        ItemFactory(group=group, query=f"Query {n // 3}?")
    researcher = django_user_model.objects.create_user("res", password="pw-for-tests-only")
    group.study.researchers.add(researcher)
    return group.study


def test_no_prolific_id_reaches_any_log_during_a_whole_survey_and_its_mistakes(study, all_logs, settings):
    settings.DEBUG = False  # SQL is only logged in debug mode, which production never runs
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    client.get(entry_url(study.slug, PID))  # the link opened twice
    client.post(url, {"step": "99"})  # a forged page number
    client.post(url, {"step": str(participant.step), "consent": "maybe"})  # an invalid answer
    complete(client, url, participant)
    client.get(url)
    client.get(entry_url(study.slug, PID.upper() + "zz"))  # a malformed link: 400
    client.get(entry_url("no-such-study", OTHER_PID))  # an unknown study: 404
    researcher = Client()
    researcher.force_login(study.researchers.get())
    for what in EXPORT_KINDS:
        researcher.get(f"/studies/{study.slug}/export/{what}.csv")
    researcher.get(f"/studies/{study.slug}/dashboard/")

    assert all_logs, "the capture saw no log records at all: the test would prove nothing"
    leaked = [line for line in all_logs if PID in line.lower() or OTHER_PID in line.lower()]
    assert not leaked


def test_the_access_log_format_never_records_query_strings_or_referers():
    """Entry links carry PROLIFIC_PID in the query string; gunicorn logs the path only (%(U)s)."""
    namespace: dict = {"__file__": str(ROOT / "gunicorn.conf.py")}
    exec(compile((ROOT / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102
    atoms = set(re.findall(r"%\((\w+|\{[^}]*\}\w)\)s", namespace["access_log_format"]))
    assert "U" in atoms
    assert not atoms & {"r", "q", "f", "{referer}i", "{Referer}i"}


@pytest.mark.parametrize("fmt", [f for f in EXPORT_FORMATS if f != "parquet"])
@pytest.mark.parametrize("what", EXPORT_KINDS)
def test_every_dashboard_export_is_pseudonymous(study, what, fmt):
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    complete(client, url, participant)
    researcher = Client()
    researcher.force_login(study.researchers.get())
    response = researcher.get(f"/studies/{study.slug}/export/{what}.{fmt}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert PID not in body.lower()
    if what != "pages" or body.strip():
        assert Participant.objects.get(prolific_pid=PID).pseudonym in body


def test_the_parquet_export_is_pseudonymous(study):
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    complete(client, url, participant)
    researcher = Client()
    researcher.force_login(study.researchers.get())
    response = researcher.get(f"/studies/{study.slug}/export/participants.parquet")
    frame = pd.read_parquet(io.BytesIO(b"".join(response.streaming_content)))
    assert PID not in frame.astype(str).to_numpy().ravel().tolist()
    assert "prolific_pid" not in frame.columns


def test_the_command_line_export_needs_raw_ids_to_show_prolific_ids(study, tmp_path):
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    complete(client, url, participant)
    plain, raw = tmp_path / "plain.csv", tmp_path / "raw.csv"
    call_command("export_responses", study.slug, "--what", "participants", "--out", str(plain), stderr=io.StringIO())
    call_command("export_responses", study.slug, "--what", "participants", "--raw-ids", "--out", str(raw), stderr=io.StringIO())
    assert PID not in plain.read_text()
    assert PID in raw.read_text()


def test_a_raw_id_export_leaves_an_audit_line_without_the_ids(study, all_logs, tmp_path):
    client = Client()
    url, participant = arrive(client, study.slug, PID)
    complete(client, url, participant)
    call_command("export_responses", study.slug, "--what", "participants", "--raw-ids", "--out", str(tmp_path / "raw.csv"),
                 stderr=io.StringIO())
    audit = [line for line in all_logs if "raw" in line.lower() and study.slug in line]
    assert audit and not any(PID in line for line in audit)

"""Concurrent consents never overfill a group; 40 participants at once all finish cleanly."""

import functools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections

from surveys.demo import seed_demo_study
from surveys.exports import export_frame
from surveys.models import Participant
from surveys.selectors import group_fill
from surveys.services import participant_arrive, participant_consent
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.crowd import crowd_completes

ROOT = Path(django_settings.BASE_DIR)


def run_at_once(*actions) -> list[str]:
    """Start every callable at the same moment, each in its own thread; the errors they raised."""
    start = threading.Barrier(len(actions))
    errors: list[str] = []

    def run(action):
        try:
            start.wait()
            action()
        except Exception as error:
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def arrive_at_once(study, pids: list[str], *, consent: bool = False) -> list[str]:
    """Every PID opens the link at the same moment (and, with ``consent``, agrees straight away)."""

    def one(pid: str):
        participant = participant_arrive(study=study, prolific_pid=pid, prolific_session_id=f"s-{pid}")
        if consent:
            participant_consent(participant=participant, consent=True)

    return run_at_once(*(lambda pid=pid: one(pid) for pid in pids))


@pytest.mark.postgres
def test_concurrent_consents_fill_groups_evenly_on_postgres(transactional_db):
    study = StudyFactory(slug="rush")
    for name in ("A", "B", "C"):
        ItemFactory(group=ItemGroupFactory(study=study, name=name))
    assert arrive_at_once(study, [f"{n:024x}" for n in range(30)], consent=True) == []
    assert sorted(group_fill(study=study).values()) == [10, 10, 10]


@pytest.mark.postgres
def test_the_same_pid_arriving_many_times_at_once_is_one_participant_on_postgres(transactional_db):
    study = StudyFactory(slug="twice")
    ItemFactory(group=ItemGroupFactory(study=study, name="A"))
    assert arrive_at_once(study, ["ab" * 12] * 8) == []
    assert Participant.objects.filter(study=study).count() == 1


@pytest.mark.postgres
def test_forty_participants_at_once_on_the_demo_study_on_postgres(transactional_db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    study, _ = seed_demo_study()
    outcome = crowd_completes("demo", 40)
    assert outcome["errors"] == []
    assert len(outcome["final_pages"]) == 40
    assert all("cc=DEMO-COMPLETE" in page for page in outcome["final_pages"].values())
    ratings = export_frame(study=study, what="ratings")
    assert len(ratings) == 40 * 6 == len(ratings.drop_duplicates(["participant_id", "item_id"]))
    fill = group_fill(study=study).values()
    assert max(fill) - min(fill) <= 1


def test_forty_participants_at_once_on_the_demo_study_on_sqlite(tmp_path):
    """The embedded setup: a SQLite file with IMMEDIATE transactions serialises the same crowd."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.surveys.sqlite_file_settings",
           "SURVEYS_SQLITE_FILE": str(tmp_path / "crowd.sqlite3"), "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    done = subprocess.run([sys.executable, "-m", "tests.surveys.sqlite_crowd", "40"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["errors"] == []
    assert summary["redirected"] == 40
    assert summary["ratings"] == summary["unique_ratings"] == 240
    assert summary["fill"][-1] - summary["fill"][0] <= 1



@pytest.mark.postgres
def test_a_draft_saved_while_its_page_is_sent_never_outlives_the_page_on_postgres(transactional_db, settings, tmp_path):
    """The autosave of a page and its submission at the same moment: either the draft comes first and the
    submission deletes it, or the submission comes first and the draft is refused; the answers are stored once."""
    from surveys.models import PageDraft, Rating
    from surveys.services import page_draft_save, page_submit
    from tests.surveys.helpers import answers_for, current_page

    settings.VAR_DIR = tmp_path
    study, _ = seed_demo_study()
    for n in range(12):
        participant = participant_arrive(study=study, prolific_pid=f"{0xdd0000 + n:024x}")
        participant_consent(participant=participant, consent=True)
        while current_page(participant).kind != "items":
            page_submit(participant=participant, step=str(participant.step), data=answers_for(participant))
            participant.refresh_from_db()
        body = answers_for(participant)
        page = {"participant": participant, "step": body["step"], "data": body}
        assert run_at_once(functools.partial(page_draft_save, **page), functools.partial(page_submit, **page)) == []
        assert not PageDraft.objects.filter(participant=participant).exists()
        assert Rating.objects.filter(participant=participant).count() == sum(k.startswith("item-") for k in body)

"""The researcher dashboard: access, counts, live feed and downloads."""

import io
from datetime import timedelta

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from surveys.models import Participant
from surveys.selectors import studies_for_researcher
from surveys.services import participant_arrive, participant_consent, participant_preview
from tests.factories import ParticipantFactory, StudyFactory
from tests.surveys.helpers import arrive, complete


@pytest.fixture
def researcher(demo_study):
    return get_user_model().objects.get(username="researcher")


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_only_researchers_of_the_study_and_superusers_see_it(demo_study, researcher):
    users = get_user_model().objects
    stranger = users.create_user("stranger", password="pw")
    other_study = StudyFactory(slug="other")
    member = users.create_user("member", password="pw")
    other_study.researchers.add(member)
    assert Client().get("/studies/demo/dashboard/").status_code == 302
    assert logged_in(stranger).get("/studies/demo/dashboard/").status_code == 403
    assert logged_in(member).get("/studies/demo/dashboard/").status_code == 403
    assert logged_in(member).get("/studies/other/dashboard/").status_code == 200
    assert logged_in(researcher).get("/studies/demo/dashboard/").status_code == 200
    assert list(studies_for_researcher(member)) == [other_study]
    staff = users.create_user("staff", password="pw", is_staff=True)
    assert list(studies_for_researcher(staff)) == []  # is_staff opens the admin site, not studies
    assert logged_in(staff).get("/studies/demo/dashboard/").status_code == 403
    superuser = users.create_superuser("root", password="pw")
    assert set(studies_for_researcher(superuser)) == {demo_study, other_study}
    assert logged_in(stranger).get("/studies/demo/dashboard.json").status_code == 403
    assert logged_in(stranger).get("/studies/demo/export/ratings.csv").status_code == 403


def test_the_feed_counts_arrivals_completions_and_fill(demo_study, researcher):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    participant_consent(participant=participant_arrive(study=demo_study, prolific_pid="a" * 24), consent=True)
    participant_arrive(study=demo_study, prolific_pid="b" * 24)  # not consented yet: holds no place
    participant_preview(study=demo_study)
    data = logged_in(researcher).get("/studies/demo/dashboard.json").json()
    assert data["counts"]["arrivals"] == 3
    assert data["counts"]["completed"] == 1 and data["counts"]["active"] == 2
    assert data["entry"]["unconsented_now"] == 1
    assert data["median_completion_seconds"] >= 0
    assert sorted(g["holding_places"] for g in data["groups"]) == [1, 1]
    assert {g["target"] for g in data["groups"]} == {46}


def test_the_page_shows_counts_and_download_links(demo_study, researcher):
    page = logged_in(researcher).get("/studies/demo/dashboard/")
    assert b"/studies/demo/dashboard.json" in page.content
    assert b"/studies/demo/export/ratings.csv" in page.content and b"/studies/demo/export/pvq21.parquet" in page.content
    assert b"PROLIFIC_PID={{%PROLIFIC_PID%}}" in page.content


def test_downloads_are_the_same_exports_as_the_command(demo_study, researcher):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    response = logged_in(researcher).get("/studies/demo/export/ratings.csv")
    assert response["Content-Disposition"].startswith('attachment; filename="demo-ratings.csv"')
    frame = pd.read_csv(io.BytesIO(b"".join(response.streaming_content)))
    assert len(frame) == 6 and "prolific_pid" not in frame.columns
    assert logged_in(researcher).get("/studies/demo/export/secrets.csv").status_code == 404


def test_a_researcher_can_preview_and_the_preview_is_excluded(demo_study, researcher):
    client = logged_in(researcher)
    response = client.get("/s/demo/preview/")
    assert response.status_code == 303
    page = client.get(response["Location"])
    assert b"Preview" in page.content
    assert Client().get("/s/demo/preview/").status_code == 302  # login first


def test_every_count_the_issue_names_and_the_median_time_are_right(demo_study, researcher):
    now = timezone.now()
    a, b = demo_study.groups.order_by("name")
    S = Participant.Status

    def make(status, group, *, minutes=None, expired=False, preview=False):
        arrived = now - timedelta(hours=2)
        ParticipantFactory(
            study=demo_study, group=group, status=status, is_preview=preview, arrived_at=arrived,
            expires_at=now - timedelta(minutes=1) if expired else now + timedelta(hours=1),
            completed_at=arrived + timedelta(minutes=minutes) if minutes is not None else None,
        )

    for minutes, group in [(10, a), (20, a), (40, b)]:  # completed: median 20 min = 1200 s
        make(S.COMPLETED, group, minutes=minutes, expired=True)  # completed keep their place past the limit
    make(S.ACTIVE, a)
    make(S.ACTIVE, b, expired=True)  # not yet swept by the task: counts as expired, holds no place
    make(S.EXPIRED, b, expired=True)
    make(S.RETURNED, a)
    make(S.FAILED_CHECKS, b, minutes=5)
    make(S.NO_CONSENT, a, minutes=0)
    make(S.COMPLETED, a, minutes=1, preview=True)  # previews count nowhere

    data = logged_in(researcher).get("/studies/demo/dashboard.json").json()
    assert data["counts"] == {"arrivals": 9, "active": 1, "completed": 3, "failed_checks": 1, "no_consent": 1,
                              "returned": 1, "expired": 2}
    assert data["median_completion_seconds"] == 1200
    groups = {g["name"]: g for g in data["groups"]}
    assert (groups["A"]["completed"], groups["A"]["holding_places"]) == (2, 3)
    assert (groups["B"]["completed"], groups["B"]["holding_places"]) == (1, 1)
    assert groups["A"]["target"] == 46 and groups["A"]["percent"] == round(100 * 3 / 46, 1)
    page = logged_in(researcher).get("/studies/demo/dashboard/").content.decode()
    for label in ("arrivals", "active", "completed", "failed checks", "returned", "expired", "median completion time"):
        assert label in page
    assert "1200 s" in page


@pytest.mark.django_db
def test_the_dashboard_links_the_analysis_and_prolific_pages(client):
    study = StudyFactory(slug="linked")
    user = get_user_model().objects.create_user("owner", password="x")
    study.researchers.add(user)
    client.force_login(user)
    page = client.get("/studies/linked/dashboard/").content.decode()
    assert 'href="/studies/linked/analysis/"' in page
    assert 'href="/studies/linked/prolific/"' in page


def test_times_read_in_the_studys_time_zone_and_fill_bars_have_numbers(demo_study, researcher):
    import datetime
    import zoneinfo

    from django.core.exceptions import ValidationError

    from psychometrics.stats.selection import raters_needed
    from surveys.selectors import study_time

    moment = datetime.datetime(2026, 12, 7, 13, 5, 9, 123456, tzinfo=datetime.UTC)
    demo_study.time_zone = "Europe/Berlin"
    demo_study.full_clean()
    demo_study.save()
    assert study_time(demo_study, moment) == "7 Dec 2026, 14:05:09 CET"  # no ISO, no microseconds
    demo_study.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError, match="not a time zone name"):
        demo_study.full_clean()
    demo_study.refresh_from_db()

    arrive(Client(), demo_study.slug, "a" * 24)
    client = logged_in(researcher)
    html = client.get("/studies/demo/dashboard/").content.decode()
    assert "(times in Europe/Berlin;" in html
    now_berlin = timezone.now().astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    assert f"{now_berlin:%b %Y}" in html and ("CET" in html or "CEST" in html)
    target = demo_study.target_raters_per_item
    assert f"/{target} (" in html  # each fill bar also says held/target (percent)
    assert f"needs {raters_needed(0.3, 0.05, 0.8)} raters per item" in html  # the analysis's figure, not a second one
    feed = client.get("/studies/demo/dashboard.json").json()
    assert feed["generated_at_display"].endswith(("CET", "CEST")) and "T" in feed["generated_at"]

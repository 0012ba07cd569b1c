"""The researcher's analysis page and its item-bank downloads."""

import json

import pytest
from django.urls import reverse

from psychometrics.models import Analysis
from psychometrics.services import analysis_create, analysis_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(completed_study, django_user_model):
    user = django_user_model.objects.create_user("researcher", password="pw")
    completed_study.researchers.add(user)
    return user


@pytest.fixture
def analysed(completed_study):
    analysis = analysis_create(study=completed_study, enqueue=False)
    return analysis_run(analysis_id=analysis.pk)


def test_the_page_needs_a_login(client, completed_study):
    response = client.get(reverse("psychometrics:analysis", args=["values"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_only_the_studys_researchers_and_superusers_see_it(client, completed_study, django_user_model):
    client.force_login(django_user_model.objects.create_user("other", password="pw"))
    assert client.get(reverse("psychometrics:analysis", args=["values"])).status_code == 403
    assert client.get(reverse("psychometrics:analysis-items", args=["values", "jsonl"])).status_code == 403
    # is_staff only opens the admin site: it grants no study
    client.force_login(django_user_model.objects.create_user("staff", password="pw", is_staff=True))
    assert client.get(reverse("psychometrics:analysis", args=["values"])).status_code == 403
    client.force_login(django_user_model.objects.create_superuser("root", password="pw"))
    assert client.get(reverse("psychometrics:analysis", args=["values"])).status_code == 200


def test_the_page_summarises_the_latest_analysis(client, researcher, analysed):
    client.force_login(researcher)
    page = client.get(reverse("psychometrics:analysis", args=["values"])).content.decode()
    assert f"Results of analysis {analysed.pk}" in page
    assert "28 kept" in page
    assert "completed faster than the minimum time" in page
    assert "Universalism" in page
    assert "items.jsonl" in page and "items.csv" in page


def test_running_an_analysis_from_the_page_enqueues_the_task(client, researcher, django_capture_on_commit_callbacks):
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("psychometrics:analysis-run", args=["values"]))
    assert response.status_code == 302
    analysis = Analysis.objects.get()
    assert analysis.status == Analysis.Status.SUCCEEDED and analysis.created_by == researcher


def test_a_failing_analysis_started_from_the_page_is_shown_not_raised(
    client, researcher, django_capture_on_commit_callbacks, monkeypatch
):
    import psychometrics.services as services

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(services, "annotate_items", broken)
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("psychometrics:analysis-run", args=["values"])).status_code == 302
    page = client.get(reverse("psychometrics:analysis", args=["values"])).content.decode()
    assert "Failed" in page and "out of memory" in page


def test_the_downloads_are_the_item_bank_in_jsonl_and_csv(client, researcher, analysed):
    client.force_login(researcher)
    jsonl = client.get(reverse("psychometrics:analysis-items", args=["values", "jsonl"]))
    assert jsonl.status_code == 200 and "attachment" in jsonl["Content-Disposition"]
    lines = b"".join(jsonl.streaming_content).decode().splitlines()
    assert len(lines) == 7 and json.loads(lines[0])["itembank_format"] == 2  # the header, then 6 items
    assert len(json.loads(lines[1])["correlations"]) == 19
    csv = client.get(reverse("psychometrics:analysis-items", args=["values", "csv"]))
    rows = b"".join(csv.streaming_content).decode().splitlines()
    assert rows[0].startswith("item_id,source,family,dimension,rho") and len(rows) == 1 + 6 * 19
    assert client.get(reverse("psychometrics:analysis-items", args=["values", "xml"])).status_code == 404


def test_downloads_before_any_analysis_are_not_found(client, researcher):
    client.force_login(researcher)
    assert client.get(reverse("psychometrics:analysis-items", args=["values", "jsonl"])).status_code == 404
    assert "No analysis yet" in client.get(reverse("psychometrics:analysis", args=["values"])).content.decode()


def test_a_researcher_records_a_manual_decision_with_a_note_on_the_page(client, researcher, completed_study):
    from psychometrics.models import ParticipantOverride
    from surveys.models import Participant

    client.force_login(researcher)
    participant = Participant.objects.filter(study=completed_study, status="completed").first()
    url = reverse("psychometrics:participant-decision", args=["values"])
    response = client.post(url, {"pseudonym": participant.pseudonym, "decision": "exclude", "note": "same person twice"})
    assert response.status_code == 302
    override = ParticipantOverride.objects.get()
    assert (override.participant, override.decision, override.note, override.created_by) == (
        participant, "exclude", "same person twice", researcher)
    page = client.get(reverse("psychometrics:analysis", args=["values"])).content.decode()
    assert "same person twice" in page and participant.pseudonym in page
    client.post(url, {"pseudonym": participant.pseudonym, "decision": "exclude", "note": ""})
    client.post(url, {"pseudonym": "P-nobody", "decision": "exclude", "note": "x"})
    assert ParticipantOverride.objects.count() == 1

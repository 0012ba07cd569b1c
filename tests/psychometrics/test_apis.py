"""Starting an analysis and following it through the API."""

import pytest
from django.urls import reverse

from psychometrics.models import Analysis

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(completed_study, django_user_model):
    user = django_user_model.objects.create_user("researcher", password="pw")
    completed_study.researchers.add(user)
    return user


def test_a_researcher_starts_an_analysis_and_reads_its_result(client, researcher, django_capture_on_commit_callbacks):
    client.force_login(researcher)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("psychometrics-analysis-create", args=["values"]), {"min_seconds": 0},
                               content_type="application/json")
    assert response.status_code == 202
    detail = client.get(reverse("psychometrics-analysis-detail", args=[response.json()["id"]])).json()
    assert detail["status"] == "succeeded" and detail["progress"] == 1.0
    assert detail["rules"]["min_completion_seconds"] == 0
    assert detail["task"]["state"] == "SUCCESS"
    assert detail["summary"]["participants"]["kept"] == 29


def test_others_can_neither_start_nor_read_analyses(client, completed_study, django_user_model):
    client.force_login(django_user_model.objects.create_user("other", password="pw"))
    assert client.post(reverse("psychometrics-analysis-create", args=["values"])).status_code == 403
    analysis = Analysis.objects.create(study=completed_study, rules={})
    assert client.get(reverse("psychometrics-analysis-detail", args=[analysis.pk])).status_code == 403
    client.logout()
    assert client.get(reverse("psychometrics-analysis-detail", args=[analysis.pk])).status_code in (401, 403)


def test_bad_options_are_a_400_naming_the_field(client, researcher):
    client.force_login(researcher)
    response = client.post(reverse("psychometrics-analysis-create", args=["values"]), {"alpha": 1},
                           content_type="application/json")
    assert response.status_code == 400 and "alpha" in response.json()
    assert not Analysis.objects.exists()

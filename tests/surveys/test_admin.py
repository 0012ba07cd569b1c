"""The admin pages for studies, groups, items and participants render; answers are read-only."""

from django.contrib.auth import get_user_model
from django.test import Client

from surveys.models import Participant
from tests.surveys.helpers import arrive, complete


def test_every_surveys_admin_page_renders_and_answers_are_read_only(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("boss", "b@example.org", "pw"))
    for page in ["study", "itemgroup", "item", "participant"]:
        response = admin.get(f"/admin/surveys/{page}/")
        assert response.status_code == 200, page
    assert admin.get("/admin/surveys/participant/?q=" + participant.pseudonym).status_code == 200
    change = admin.get(f"/admin/surveys/participant/{participant.pk}/change/")
    assert change.status_code == 200
    assert b'name="ratings-0-rating"' not in change.content  # inline answers are shown, not editable
    assert participant.token.encode() not in change.content


def test_the_admin_action_marks_active_participants_as_returned(demo_study):
    _, active = arrive(Client(), "demo")
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("boss", "b@example.org", "pw"))
    admin.post("/admin/surveys/participant/", {"action": "mark_returned", "_selected_action": [active.pk]})
    active.refresh_from_db()
    assert active.status == Participant.Status.RETURNED


def test_check_placement_is_editable_until_someone_arrives_then_frozen(demo_study):
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("boss", "b@example.org", "pw"))
    change_url = f"/admin/surveys/study/{demo_study.pk}/change/"
    assert b'name="attention_check_pages"' in admin.get(change_url).content
    arrive(Client(), "demo")
    frozen = admin.get(change_url).content
    assert b'name="attention_check_pages"' not in frozen and b'name="attention_check_count"' not in frozen
    assert b'name="consent_text"' in frozen

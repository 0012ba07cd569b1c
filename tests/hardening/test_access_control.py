"""Who may read and write what: every researcher/participant URL against every role.

Roles: anonymous; a participant of the study (holds a participant page token, no login); another
participant (the same, for someone else); a researcher of another study; a researcher of the study;
an admin (superuser). Outcomes: ``ok`` (served), ``login`` (sent to a login page), ``denied``
(401/403), ``missing`` (404); ``any`` means let in (served, or a 400/404 about the request itself).
"""

import re

import pytest
from django.test import Client

from surveys.models import Participant, Rating
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.helpers import answers_for, arrive

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "participant", "other_participant", "other_researcher", "researcher", "admin")
RESEARCHER_ONLY = {"anonymous": "login", "participant": "login", "other_participant": "login",
                   "other_researcher": "denied", "researcher": "ok", "admin": "ok"}
# DRF answers unauthenticated API writes with 403 (session auth first) instead of a login redirect.
API_RESEARCHER_ONLY = {**RESEARCHER_ONLY, "anonymous": "denied", "participant": "denied", "other_participant": "denied"}
STAFF_ONLY = {**RESEARCHER_ONLY, "other_researcher": "login", "researcher": "login"}  # admin site: staff only

# (method, path, expected outcome per role). {slug} is the study under test.
TABLE = [
    ("GET", "/studies/{slug}/dashboard/", RESEARCHER_ONLY),
    ("GET", "/studies/{slug}/dashboard.json", RESEARCHER_ONLY),
    ("GET", "/studies/{slug}/export/ratings.csv", RESEARCHER_ONLY),
    ("GET", "/studies/{slug}/export/participants.jsonl", RESEARCHER_ONLY),
    ("GET", "/s/{slug}/preview/", RESEARCHER_ONLY),
    ("GET", "/studies/{slug}/analysis/", RESEARCHER_ONLY),
    ("GET", "/studies/{slug}/analysis/items.csv", {**RESEARCHER_ONLY, "researcher": "any", "admin": "any"}),
    ("POST", "/studies/{slug}/analysis/decisions/", {**RESEARCHER_ONLY, "researcher": "any", "admin": "any"}),
    ("GET", "/studies/{slug}/prolific/", RESEARCHER_ONLY),
    ("POST", "/studies/{slug}/prolific/settings/", {**RESEARCHER_ONLY, "researcher": "any", "admin": "any"}),
    ("POST", "/studies/{slug}/prolific/check/", {**RESEARCHER_ONLY, "researcher": "skip", "admin": "skip"}),
    ("POST", "/studies/{slug}/prolific/reconcile/", {**RESEARCHER_ONLY, "researcher": "skip", "admin": "skip"}),
    ("POST", "/studies/{slug}/prolific/review/send/", {**RESEARCHER_ONLY, "researcher": "skip", "admin": "skip"}),
    ("POST", "/api/v1/studies/{slug}/analyses/", {**API_RESEARCHER_ONLY, "researcher": "any", "admin": "any"}),
    # Researchers of any study may start runs (the empty body is then a 400); which banks and credentials
    # they may use is tested in test_secrets.py.
    ("POST", "/api/v1/runs/", {**API_RESEARCHER_ONLY, "other_researcher": "any", "researcher": "any", "admin": "any"}),
    ("GET", "/api/v1/credentials/", {**API_RESEARCHER_ONLY, "other_researcher": "ok"}),
    ("GET", "/admin/", STAFF_ONLY),
    ("GET", "/admin/surveys/participant/", STAFF_ONLY),
    ("GET", "/studies/", {**RESEARCHER_ONLY, "other_researcher": "ok"}),
    ("GET", "/studies/{slug}/settings/", RESEARCHER_ONLY),
    ("POST", "/studies/{slug}/settings/", {**RESEARCHER_ONLY, "researcher": "any", "admin": "any"}),
    ("GET", "/studies/{slug}/items/", RESEARCHER_ONLY),
    ("POST", "/studies/{slug}/items/", {**RESEARCHER_ONLY, "researcher": "any", "admin": "any"}),
    ("POST", "/studies/{slug}/items/remove/", RESEARCHER_ONLY),
    ("GET", "/studies/{slug}/launch/", RESEARCHER_ONLY),
    ("POST", "/studies/{slug}/launch/open/", {**RESEARCHER_ONLY, "researcher": "any", "admin": "any"}),
    ("POST", "/studies/{slug}/launch/close/", RESEARCHER_ONLY),
    # Creating a study needs the researchers group (manage.py createresearcher); these researchers are not in it.
    ("GET", "/studies/new/", {**RESEARCHER_ONLY, "other_researcher": "denied", "researcher": "denied"}),
]


def outcome(response) -> str:
    location = response.get("Location", "")
    if response.status_code in (301, 302) and re.match(r"^(https?://[^/]+)?/(accounts|admin)/login/", location):
        return "login"
    if response.status_code in (401, 403):
        return "denied"
    if response.status_code == 404:
        return "missing"
    if 200 <= response.status_code < 400:
        return "ok"
    return f"error {response.status_code}"


@pytest.fixture
def world(django_user_model):
    group = ItemGroupFactory(study=StudyFactory(slug="acl"))
    ItemFactory.create_batch(3, group=group)
    other_group = ItemGroupFactory(study=StudyFactory(slug="elsewhere"))
    ItemFactory.create_batch(3, group=other_group)
    researcher = django_user_model.objects.create_user("researcher", password="x-test-only")
    group.study.researchers.add(researcher)
    other = django_user_model.objects.create_user("other", password="x-test-only")
    other_group.study.researchers.add(other)
    admin = django_user_model.objects.create_superuser("admin", password="x-test-only")

    clients = {role: Client() for role in ROLES}
    urls = {}
    urls["participant"], _ = arrive(clients["participant"], "acl", "0" * 23 + "1")
    urls["other_participant"], _ = arrive(clients["other_participant"], "acl", "0" * 23 + "2")
    clients["other_researcher"].force_login(other)
    clients["researcher"].force_login(researcher)
    clients["admin"].force_login(admin)
    return {"study": group.study, "clients": clients, "urls": urls}


def allowed(got: str) -> bool:
    """Let in: served, or refused only for what was sent (400 on an empty form, 404 before any analysis)."""
    return got in ("ok", "error 400", "missing")


@pytest.mark.parametrize(("method", "path", "expected"), TABLE, ids=[f"{m} {p}" for m, p, _ in TABLE])
def test_url_by_role(world, method, path, expected):
    url = path.format(slug=world["study"].slug)
    wrong = []
    for role in ROLES:
        if expected[role] == "skip":  # these call the Prolific API once let in; their refusals are checked
            continue
        client = world["clients"][role]
        response = client.get(url) if method == "GET" else client.post(url, {})
        got = outcome(response)
        if not (allowed(got) if expected[role] == "any" else got == expected[role]):
            wrong.append(f"{role}: expected {expected[role]}, got {got}")
    assert not wrong, f"{method} {url}\n" + "\n".join(wrong)


def test_a_participant_page_answers_only_to_its_own_token_and_study(world):
    client = world["clients"]["participant"]
    own = world["urls"]["participant"]
    token = own.rstrip("/").rsplit("/", 1)[1]
    assert client.get(own).status_code == 200
    assert client.get(f"/s/elsewhere/p/{token}/").status_code == 404
    assert client.get(f"/s/acl/p/{token[:-1]}x/").status_code == 404
    assert len(token) >= 32  # 192 random bits: not guessable


def test_a_participant_cannot_write_into_another_participants_answers(world):
    """Posting with one's own session to another page URL needs that participant's secret token."""
    attacker = world["clients"]["other_participant"]
    victim = Participant.objects.get(prolific_pid="0" * 23 + "1")
    forged = f"/s/acl/p/{victim.pseudonym}/"  # the pseudonym is not the token
    assert attacker.post(forged, answers_for(victim)).status_code == 404
    assert not Rating.objects.filter(participant=victim).exists()
    victim.refresh_from_db()
    assert victim.step == 0


def test_a_participant_link_never_contains_the_prolific_id(world):
    for url in world["urls"].values():
        assert "0" * 23 not in url


def test_the_admin_shows_a_staff_researcher_only_their_studies(django_user_model):
    from django.contrib.auth.models import Permission

    mine, theirs = StudyFactory(slug="mine-study"), StudyFactory(slug="their-study")
    ItemGroupFactory(study=theirs, name="their-group")
    user = django_user_model.objects.create_user("staffer", password="x-test-only", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=["surveys", "prolific", "psychometrics"]))
    mine.researchers.add(user)
    client = Client()
    client.force_login(user)
    listing = client.get("/admin/surveys/study/").content.decode()
    assert "mine-study" in listing and "their-study" not in listing
    assert client.get(f"/admin/surveys/study/{theirs.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/surveys/study/{theirs.pk}/import-items/").status_code == 404
    assert "their-group" not in client.get("/admin/surveys/itemgroup/").content.decode()
    assert "their-study" not in client.get("/admin/surveys/item/").content.decode()  # nor in the study filter
    assert client.get("/admin/benchmark/credentialgrant/").status_code == 403

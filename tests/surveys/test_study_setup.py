"""A study from nothing to launch on the researcher pages: new study, settings, items, checklist, open."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from scipy import stats

from psychometrics.models import StudyAnalysisSettings
from psychometrics.selectors import analysable_participants
from surveys.models import Item, ItemGroup, Participant, Study
from surveys.study_setup import RESEARCHERS_GROUP, StudySetupError, study_update, user_may_create_studies
from tests.factories import ItemFactory, ItemGroupFactory, ParticipantFactory, StudyFactory
from tests.surveys.helpers import answers_for

PASSWORD = "a-long-test-password-7"  # noqa: S105

NEW_STUDY = {
    "title": "Values in advice",
    "slug": "values-advice",
    "prolific_study_id": "6650aa11bb22cc33dd44ee55",
    "consent_text": "You will rate responses. Do you agree?",
    "instructions_text": "",
    "completion_code": "C1OK",
    "failed_checks_code": "C1FAIL",
    "no_consent_code": "C1NO",
    "target_raters_per_item": "50",
    "time_zone": "Europe/Berlin",
    "time_limit_minutes": "45",
    "ask_demographics": "on",
    "attention_check_count": "3",
    "attention_check_pages": "items, pvq21, bfi10",
    "max_failed_checks": "1",
    "rules-max_failed_checks": "1",
    "rules-min_completion_seconds": "120",
    "rules-min_median_fraction": "0.5",
    "rules-exclude_identical_answers": "on",
    "rules-max_longstring_pvq21": "16",
    "rules-max_longstring_bfi10": "",
    "rules-outlier_rate": "0.04",
    "rules-min_pvq21_consistency": "",
    "rules-min_bfi10_consistency": "",
    "rules-threshold": "0.3",
    "rules-alpha": "0.05",
}

ITEMS_CSV = (
    "item_id,group,source,title,query,response\n"
    "a1,A,chat,,Should I save?,Yes: security first.\n"
    "a2,A,chat,,Should I save?,No: enjoy it.\n"
    "b1,B,chat,,Cook or order?,Cook: it is healthier.\n"
    "b2,B,chat,,Cook or order?,Order: time matters.\n"
)


def researcher(username="ada"):
    call_command("createresearcher", "--no-input", f"--username={username}", f"--email={username}@example.org",
                 "--password-from-env=TEST_RESEARCHER_PASSWORD")
    return get_user_model().objects.get(username=username)


@pytest.fixture
def client_for(db, monkeypatch):
    monkeypatch.setenv("TEST_RESEARCHER_PASSWORD", PASSWORD)

    def make(user=None):
        client = Client()
        client.force_login(user or researcher())
        return client

    return make


def test_createresearcher_makes_a_researcher_who_is_not_staff(db, monkeypatch):
    monkeypatch.setenv("TEST_RESEARCHER_PASSWORD", PASSWORD)
    user = researcher()
    assert user.check_password(PASSWORD) and user.email == "ada@example.org"
    assert not user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [RESEARCHERS_GROUP]
    assert user_may_create_studies(user)
    assert Client().login(username="ada", password=PASSWORD)


def test_createresearcher_refuses_weak_or_missing_passwords_and_existing_users(db, monkeypatch):
    monkeypatch.setenv("WEAK", "12345678")
    with pytest.raises(CommandError, match="WEAK is not accepted"):
        call_command("createresearcher", "--no-input", "--username=bo", "--email=bo@example.org", "--password-from-env=WEAK")
    with pytest.raises(CommandError, match="UNSET_VAR is unset or empty"):
        call_command("createresearcher", "--no-input", "--username=bo", "--email=bo@example.org", "--password-from-env=UNSET_VAR")
    with pytest.raises(CommandError, match="--no-input needs --password-from-env"):
        call_command("createresearcher", "--no-input", "--username=bo", "--email=bo@example.org")
    with pytest.raises(CommandError, match="not an e-mail address"):
        call_command("createresearcher", "--no-input", "--username=bo", "--email=bo", "--password-from-env=WEAK")
    get_user_model().objects.create_user("bo")
    monkeypatch.setenv("GOOD", PASSWORD)
    with pytest.raises(CommandError, match="A user 'bo' already exists"):
        call_command("createresearcher", "--no-input", "--username=bo", "--email=bo@example.org", "--password-from-env=GOOD")
    assert not get_user_model().objects.filter(groups__name=RESEARCHERS_GROUP).exists()


def test_createresearcher_asks_for_what_is_missing(db, monkeypatch):
    answers = iter(["cy", "cy@example.org"])
    passwords = iter(["short", "short", PASSWORD, "typo", PASSWORD, PASSWORD])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(passwords))
    call_command("createresearcher")
    user = get_user_model().objects.get(username="cy")
    assert user.check_password(PASSWORD) and user.groups.filter(name=RESEARCHERS_GROUP).exists()


def test_a_researcher_creates_a_study_and_owns_it(client_for):
    client = client_for()
    page = client.get("/studies/new/")
    assert page.status_code == 200 and b"Create study" in page.content
    response = client.post("/studies/new/", NEW_STUDY)
    assert response.status_code == 302 and response["Location"] == "/studies/values-advice/items/"
    study = Study.objects.get(slug="values-advice")
    assert study.status == Study.Status.DRAFT
    assert list(study.researchers.values_list("username", flat=True)) == ["ada"]
    assert (study.completion_code, study.failed_checks_code, study.no_consent_code) == ("C1OK", "C1FAIL", "C1NO")
    assert (study.target_raters_per_item, study.attention_check_pages, study.max_failed_checks) == (50, "items, pvq21, bfi10", 1)
    rules = StudyAnalysisSettings.objects.get(study=study)
    assert (rules.min_completion_seconds, rules.max_failed_checks, rules.max_longstring_bfi10) == (120, 1, None)
    # Another researcher cannot see it.
    other = client_for(researcher("eve"))
    assert other.get("/studies/values-advice/settings/").status_code == 403
    assert b"values-advice" not in other.get("/studies/").content


def test_only_researchers_may_create_studies(db):
    plain = get_user_model().objects.create_user("plain", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(plain)
    refused = client.get("/studies/new/")
    assert refused.status_code == 403 and "manage.py createresearcher" in refused.content.decode()
    assert 'href="/studies/new/"' not in client.get("/studies/").content.decode()
    assert client.post("/studies/new/", NEW_STUDY).status_code == 403
    assert not Study.objects.exists()
    assert Client().get("/studies/new/").status_code == 302  # to the login page


def test_a_bad_new_study_form_saves_nothing_and_marks_the_fields(client_for):
    client = client_for()
    bad = {**NEW_STUDY, "slug": "has space", "attention_check_pages": "items, pvq21", "rules-alpha": "2"}
    response = client.post("/studies/new/", bad)
    assert response.status_code == 400
    text = response.content.decode()
    assert "Nothing was saved" in text
    assert "This names 2 places, but the study has 3 attention checks" in text
    assert "Enter a valid “slug”" in text and "Alpha is a probability strictly between 0 and 1, got 2.0." in text
    assert not Study.objects.exists() and not StudyAnalysisSettings.objects.exists()


def test_the_power_figure_is_the_power_of_the_target_at_the_threshold(client_for):
    client = client_for()
    client.post("/studies/new/", NEW_STUDY)
    text = client.get("/studies/values-advice/settings/").content.decode()
    # Independent reference: Fisher z with the critical r of the t-test (pingouin.power_corr's formula) at n = 50.
    import numpy as np

    n, r = 50, 0.3
    t = stats.t.ppf(0.975, n - 2)
    z_c = np.arctanh(np.sqrt(t**2 / (t**2 + n - 2)))
    z_r = np.arctanh(r) + r / (2 * (n - 1))
    power = stats.norm.cdf((z_r - z_c) * np.sqrt(n - 3)) + stats.norm.cdf((-z_r - z_c) * np.sqrt(n - 3))
    assert f"With 50 raters, a correlation of ρ = 0.3 is detected with power <strong>{power:.2f}</strong>" in text
    assert "85 raters give power 0.80" in text


def test_settings_are_edited_on_a_page_and_the_slug_is_fixed_once_opened(client_for):
    client = client_for()
    client.post("/studies/new/", NEW_STUDY)
    edited = {**NEW_STUDY, "completion_code": "C2OK", "rules-min_completion_seconds": "", "rules-max_longstring_bfi10": "8"}
    assert client.post("/studies/values-advice/settings/", edited).status_code == 302
    study = Study.objects.get(slug="values-advice")
    rules = StudyAnalysisSettings.objects.get(study=study)
    assert study.completion_code == "C2OK" and rules.min_completion_seconds is None and rules.max_longstring_bfi10 == 8
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    client.post("/studies/values-advice/settings/", {**edited, "slug": "renamed", "title": "New title"})
    study.refresh_from_db()
    assert study.slug == "values-advice" and study.title == "New title"  # a disabled field keeps its value


def test_the_services_refuse_a_new_slug_after_launch_and_new_checks_after_a_start(db):
    study = StudyFactory(slug="fixed", status=Study.Status.CLOSED)
    rules = StudyAnalysisSettings(study=study)
    study.slug = "moved"
    with pytest.raises(StudySetupError, match="only change while the study is a draft"):
        study_update(study=study, analysis_settings=rules)
    study.slug = "fixed"
    ParticipantFactory(study=study, is_preview=True)
    study.attention_check_count = 2
    with pytest.raises(StudySetupError, match="can no longer change"):
        study_update(study=study, analysis_settings=rules)
    study.refresh_from_db()
    assert (study.slug, study.attention_check_count) == ("fixed", 4)


def test_the_check_placement_is_fixed_once_someone_started(client_for):
    client = client_for()
    client.post("/studies/new/", NEW_STUDY)
    study = Study.objects.get(slug="values-advice")
    ItemFactory(group=ItemGroupFactory(study=study))
    assert client.get("/s/values-advice/preview/").status_code == 303
    client.post("/studies/values-advice/settings/", {**NEW_STUDY, "attention_check_count": "2", "attention_check_pages": ""})
    study.refresh_from_db()
    assert (study.attention_check_count, study.attention_check_pages) == (3, "items, pvq21, bfi10")


def test_items_upload_reports_line_numbered_errors_and_stores_nothing(client_for):
    client = client_for()
    client.post("/studies/new/", NEW_STUDY)
    bad = ITEMS_CSV + "b3,B,chat,,Cook or order?,\n" + "a1,A,chat,,Again?,Duplicate.\n"
    response = client.post("/studies/values-advice/items/", {"file": SimpleUploadedFile("items.csv", bad.encode())})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Nothing was imported." in text
    assert "items.csv: line 6, column &#x27;response&#x27;: empty value" in text
    assert "items.csv: line 7, column &#x27;item_id&#x27;: &#x27;a1&#x27; appears again (first on line 2)" in text
    assert not Item.objects.exists()

    response = client.post("/studies/values-advice/items/", {"file": SimpleUploadedFile("items.csv", ITEMS_CSV.encode())})
    assert response.status_code == 302
    page = client.get("/studies/values-advice/items/").content.decode()
    assert "Imported 4 items from items.csv (2 new item groups)." in page
    assert sorted(Item.objects.values_list("item_id", "group__name")) == [("a1", "A"), ("a2", "A"), ("b1", "B"), ("b2", "B")]


def test_items_upload_takes_jsonl_with_a_format_choice(client_for):
    client = client_for()
    client.post("/studies/new/", NEW_STUDY)
    jsonl = b'{"item_id": "x1", "group": "A", "query": "Q?", "response": "R."}\n{"item_id": "x2", "group": "A", "query": "Q?"\n'
    response = client.post("/studies/values-advice/items/", {"file": SimpleUploadedFile("items.txt", jsonl), "format": "jsonl"})
    assert response.status_code == 400 and "items.txt: line 2, column 46: invalid JSON" in response.content.decode()
    assert not Item.objects.exists()


def _ready_study(client) -> Study:
    client.post("/studies/new/", NEW_STUDY)
    client.post("/studies/values-advice/items/", {"file": SimpleUploadedFile("items.csv", ITEMS_CSV.encode())})
    return Study.objects.get(slug="values-advice")


def _complete_preview(client, study: Study) -> Participant:
    client.get("/s/values-advice/preview/")
    preview = Participant.objects.filter(study=study, is_preview=True).latest("arrived_at")
    while preview.completed_at is None:
        client.post(f"/s/values-advice/p/{preview.token}/", answers_for(preview))
        preview.refresh_from_db()
    return preview


def test_opening_is_refused_with_every_unmet_checklist_entry(client_for):
    client = client_for()
    client.post("/studies/new/", {**NEW_STUDY, "no_consent_code": "C1OK", "prolific_study_id": ""})
    response = client.post("/studies/values-advice/launch/open/", {"link_confirmed": "yes"})
    assert response.status_code == 409
    refused = response.content.decode().split('id="open-refused"')[1].split("</div>")[0]
    for label in ("Items in every item group", "Prolific completion codes set", "Prolific study id set",
                  "Survey previewed to the end"):
        assert label in refused
    assert "Two outcomes share one code" in refused
    assert "Consent text written" not in refused and "Participant link pasted" not in refused
    assert Study.objects.get(slug="values-advice").status == Study.Status.DRAFT


def test_a_ready_study_opens_once_previewed_and_the_link_confirmed(client_for):
    client = client_for()
    study = _ready_study(client)
    launch = client.get("/studies/values-advice/launch/").content.decode()
    assert "http://testserver/s/values-advice/?PROLIFIC_PID={{%PROLIFIC_PID%}}&amp;STUDY_ID={{%STUDY_ID%}}" in launch
    response = client.post("/studies/values-advice/launch/open/", {"link_confirmed": "yes"})
    assert response.status_code == 409 and "Survey previewed to the end" in response.content.decode()

    preview = _complete_preview(client, study)
    assert preview.is_preview and preview.status == Participant.Status.COMPLETED
    response = client.post("/studies/values-advice/launch/open/", {})
    assert response.status_code == 409
    assert "Participant link pasted into the Prolific study" in response.content.decode()
    response = client.post("/studies/values-advice/launch/open/", {"link_confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == "/studies/values-advice/dashboard/"
    study.refresh_from_db()
    assert study.status == Study.Status.LIVE
    # The preview counts for the checklist, never for the analysis.
    assert not analysable_participants(study=study).filter(pk=preview.pk).exists()

    assert client.post("/studies/values-advice/launch/close/").status_code == 302
    study.refresh_from_db()
    assert study.status == Study.Status.CLOSED


def test_only_the_studys_researchers_can_open_it(client_for):
    study = StudyFactory(slug="theirs", status=Study.Status.DRAFT)
    client = client_for()
    assert client.post("/studies/theirs/launch/open/", {"link_confirmed": "yes"}).status_code == 403
    assert client.get("/studies/theirs/launch/").status_code == 403
    assert client.post("/studies/theirs/items/", {"file": SimpleUploadedFile("i.csv", ITEMS_CSV.encode())}).status_code == 403
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT and not Item.objects.exists()


@pytest.mark.parametrize("path", ["/studies/", "/studies/{slug}/dashboard/", "/studies/{slug}/settings/",
                                  "/studies/{slug}/items/", "/studies/{slug}/launch/", "/studies/{slug}/analysis/",
                                  "/studies/{slug}/prolific/", "/studies/{slug}/prolific/review/", "/studies/new/"])
def test_every_researcher_page_has_the_researcher_navigation(client_for, path):
    client = client_for()
    study = _ready_study(client)
    text = client.get(path.format(slug=study.slug)).content.decode()
    assert 'href="/studies/">Your studies</a>' in text and 'href="/studies/new/">New study</a>' in text
    if "{slug}" in path:
        nav = text.split('aria-label="This study"')[1].split("</nav>")[0]
        for href in ("dashboard/", "settings/", "items/", "launch/", "analysis/", "prolific/"):
            assert f'href="/studies/{study.slug}/{href}"' in nav
        assert f'href="/s/{study.slug}/preview/"' in nav


def test_a_wrong_upload_is_removed_until_someone_takes_part(client_for):
    client = client_for()
    study = _ready_study(client)
    _complete_preview(client, study)
    response = client.post("/studies/values-advice/items/remove/", {})
    assert response.status_code == 302 and Item.objects.count() == 4  # not confirmed
    client.post("/studies/values-advice/items/remove/", {"confirm": "yes"})
    assert not Item.objects.exists() and not ItemGroup.objects.exists() and not Participant.objects.exists()
    assert "Removed 4 items" in client.get("/studies/values-advice/items/").content.decode()

    client.post("/studies/values-advice/items/", {"file": SimpleUploadedFile("items.csv", ITEMS_CSV.encode())})
    ParticipantFactory(study=study)
    client.post("/studies/values-advice/items/remove/", {"confirm": "yes"})
    assert Item.objects.count() == 4
    page = client.get("/studies/values-advice/items/").content.decode()
    assert "so its items stay" in page and "Remove all items" not in page


def test_the_power_table_ends_where_power_shows_as_one_and_the_figure_is_exact_beyond():
    import json
    import math

    import pingouin

    from surveys.study_views import power_context

    context = power_context(target=700, rules=StudyAnalysisSettings(threshold=0.1, alpha=0.05))
    table = {int(n): p for n, p in json.loads(context["table_json"]).items()}
    assert min(table) == 5 and max(table) == 500 and table[500] < 1  # r = .1 is not saturated by 500 raters
    assert table[500] == round(pingouin.power_corr(r=0.1, n=500), 2)
    assert context["power"] == round(pingouin.power_corr(r=0.1, n=700), 2)  # exact beyond the table
    assert context["needed"] == math.ceil(pingouin.power_corr(r=0.1, power=0.8))
    saturating = power_context(target=46, rules=StudyAnalysisSettings(threshold=0.5, alpha=0.05))
    values = list(json.loads(saturating["table_json"]).values())
    assert values[-1] == 1.0 and all(p < 1 for p in values[:-1])
    assert power_context(target=46, rules=StudyAnalysisSettings(threshold=0, alpha=0.05)) is None


def test_the_demo_researcher_may_create_studies(demo_study):
    user = demo_study.researchers.get()
    assert user_may_create_studies(user) and not user.is_staff

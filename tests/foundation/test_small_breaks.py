"""Issue 16's small breaks: /api/v1/ lists its endpoints, HEAD works wherever GET does, a favicon,
and ``make demo PORT=...`` prints links for the port it serves on."""

import re
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from benchmark.models import LLM

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_api_root_lists_every_endpoint_with_its_address(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    body = response.json()
    urls = {endpoint["url"] for endpoint in body["endpoints"]}
    for path in ("items/", "itembanks/", "models/", "runs/", "runs/{run_id}/", "leaderboard/", "references/",
                 "studies/{slug}/analyses/"):
        assert f"http://testserver/api/v1/{path}" in urls
    assert "http://testserver/api/v1/" not in urls
    assert body["schema"] == "http://testserver/api/schema/"
    # Every listed address without parameters answers (200, or 401/403 for the ones that need a login).
    for url in urls:
        if "{" not in url:
            assert client.get(url).status_code in (200, 401, 403), url


@pytest.mark.django_db
def test_head_answers_wherever_get_does(client):
    from results.services import published_results_load

    published_results_load()
    llm = LLM.objects.order_by("pk").first()
    paths = [
        "/", "/healthz", reverse("results:leaderboard"), reverse("results:model", args=[llm.pk]),
        reverse("results:compare"), reverse("results:alignment"), reverse("results:self-test"),
        reverse("results:items"), "/api/v1/", "/api/v1/leaderboard/", "/api/v1/models/", "/accounts/login/",
    ]
    for path in paths:
        get, head = client.get(path), client.head(path)
        assert get.status_code == 200, path
        assert head.status_code == 200, (path, head.status_code)
        assert head.content == b"", path


@pytest.fixture
def demo_study(db, settings, tmp_path):
    from surveys.demo import seed_demo_study

    settings.VAR_DIR = tmp_path
    return seed_demo_study()[0]


def test_head_on_a_participant_page_shows_it_without_submitting(client, demo_study):
    from tests.surveys.helpers import arrive

    url, participant = arrive(client, demo_study.slug)
    assert client.head(url).status_code == 200
    participant.refresh_from_db()
    assert participant.step == 0


@pytest.mark.django_db
def test_pages_link_a_favicon_and_favicon_ico_leads_to_it(client):
    page = client.get("/").content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    assert icon.endswith("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == icon
    assert client.get(icon).status_code == 200


def test_make_demo_takes_a_port_and_seed_demo_prints_links_for_it():
    dry_run = subprocess.run(["make", "-n", "demo", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "seed_demo --base-url http://127.0.0.1:8123" in dry_run.stdout
    assert "runserver 127.0.0.1:8123" in dry_run.stdout
    default = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "runserver 127.0.0.1:8000" in default.stdout


INTERNAL_WORDS = ("paper 003", "provider published", "003…", "is_published_only", "published_only")


@pytest.mark.django_db
def test_public_pages_use_no_internal_words_and_show_no_endpoint(client):
    from benchmark.models import ItemBank, Run
    from results.services import published_results_load

    published_results_load()
    published = LLM.objects.filter(is_published_only=True).order_by("pk").first()
    hosted = LLM.objects.create(provider="openai", name="local-model", base_url="http://10.1.2.3:8000/v1")
    Run.objects.create(bank=ItemBank.objects.first(), llm=hosted, provider="openai", model="local-model",
                       base_url=hosted.base_url, status=Run.Status.COMPLETED)
    pages = ["/", reverse("results:leaderboard"), reverse("results:model", args=[published.pk]),
             reverse("results:model", args=[hosted.pk]), reverse("results:compare"), reverse("results:alignment"),
             reverse("results:items"), reverse("results:self-test")]
    for path in pages:
        text = client.get(path).content.decode()
        for word in INTERNAL_WORDS:
            assert word not in text, (path, word)
        assert "10.1.2.3" not in text, path  # a model's endpoint is never shown publicly


@pytest.mark.django_db
def test_login_page_is_a_styled_card_that_names_wrong_credentials(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'class="login-card"' in page and 'class="form-field"' in page and "createresearcher" in page
    wrong = client.post("/accounts/login/", {"username": "nobody", "password": "wrong-password"}).content.decode()
    assert 'class="error-box" role="alert"' in wrong and "enter a correct username and password" in wrong.lower()


@pytest.mark.django_db
def test_item_explorer_says_why_it_is_empty(client, tmp_path):
    from results.services import published_results_load
    from tests.results.builders import imported_bank

    published_results_load()
    page = client.get(reverse("results:items")).content.decode()
    assert 'id="items-empty"' in page and "scores only" in page  # the paper's bank has no items: a reason, not a blank
    imported_bank(tmp_path, name="explorer-bank", n_items=6, seed=1)
    page = client.get(reverse("results:items")).content.decode()
    assert 'id="items-empty"' not in page and "6 items" in page
    filtered = client.get(reverse("results:items") + "?q=no-such-words-anywhere").content.decode()
    assert "No items match these filters." in filtered

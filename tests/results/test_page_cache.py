"""The results page cache (results/cache.py): served by data version, never stale, never personal; and its rate limit."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import override_settings

from benchmark.models import LLM, Run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]
ENABLED = override_settings(RESULTS_CACHE_SECONDS=300)


@pytest.fixture
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def published():
    call_command("load_published_results", verbosity=0)
    return Run.objects.filter(source=Run.Source.PUBLISHED)


@ENABLED
def test_second_anonymous_request_is_served_from_the_cache(client, published):
    first = client.get("/results/?dimensions=Benevolence")
    second = client.get("/results/?dimensions=Benevolence")
    assert first["X-Results-Cache"] == "miss" and second["X-Results-Cache"] == "hit"
    assert first.content == second.content
    assert second["Content-Type"].startswith("text/html")
    assert second["Content-Security-Policy"]  # headers of the outer middleware still applied on a hit
    other = client.get("/results/?dimensions=Power")  # the query string is part of the key
    assert other["X-Results-Cache"] == "miss"


@ENABLED
def test_a_write_without_signals_gives_a_new_page(client, published):
    run = published.first()
    name = run.llm.display_name or run.llm.name
    assert name.encode() in client.get("/results/").content
    client.get("/results/")
    Run.objects.filter(pk=run.pk).update(is_published=False)  # QuerySet.update sends no signal
    page = client.get("/results/")
    assert page["X-Results-Cache"] == "miss"


@ENABLED
def test_a_saved_model_bumps_the_data_version(client, published, django_capture_on_commit_callbacks):
    llm = LLM.objects.get(pk=published.first().llm_id)
    client.get("/results/")
    assert client.get("/results/")["X-Results-Cache"] == "hit"
    with django_capture_on_commit_callbacks(execute=True):
        llm.display_name = "A renamed model"
        llm.save()
    page = client.get("/results/")
    assert page["X-Results-Cache"] == "miss"
    assert b"A renamed model" in page.content


@ENABLED
def test_signed_in_users_and_forms_with_a_csrf_token_are_never_cached(client, django_user_model, published):
    self_test = client.get("/results/self-test/")
    assert self_test.status_code == 200
    assert "X-Results-Cache" not in self_test and "X-Results-Cache" not in client.get("/results/self-test/")
    user = django_user_model.objects.create_user("visitor", password="pw-123456789")
    client.force_login(user)
    assert "X-Results-Cache" not in client.get("/results/")
    assert "X-Results-Cache" not in client.get("/results/")


@override_settings(RESULTS_RATE_LIMIT="3/60")
def test_anonymous_results_traffic_has_its_own_rate_limit(client, django_user_model):
    assert [client.get("/results/").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get("/results/compare/")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert client.get("/").status_code == 200  # other pages are not counted
    client.force_login(django_user_model.objects.create_user("researcher2", password="pw-123456789"))
    assert client.get("/results/").status_code == 200  # signed-in users are not limited

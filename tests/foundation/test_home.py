"""The front page leads to every part a visitor or researcher looks for."""

import pytest


@pytest.mark.django_db
def test_the_home_page_links_the_results_site_and_the_api(client):
    response = client.get("/")
    assert response.status_code == 200
    for href in ("/results/", "/results/compare/", "/results/self-test/", "/api/docs/", "/accounts/login/"):
        assert f'href="{href}' in response.content.decode()


@pytest.mark.django_db
def test_a_logged_in_researcher_sees_their_studies_link(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("r", password="x"))
    assert 'href="/studies/"' in client.get("/").content.decode()


@pytest.mark.django_db
def test_an_unknown_api_address_answers_json_404(client):
    response = client.get("/api/v1/runs/abc/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found: /api/v1/runs/abc/"}


@pytest.mark.django_db
def test_an_unknown_page_answers_the_site_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content

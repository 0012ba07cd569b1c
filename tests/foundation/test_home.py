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

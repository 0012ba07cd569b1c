"""Oversized bodies get 413; a database outage gets a friendly 503 page, never a stack trace."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import override_settings


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_it_refuses_an_oversized_body_with_413(client):
    response = client.post("/api/v1/", data="x" * 5000, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body too large: 5000 bytes, the limit is 1000 bytes."


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_within_the_limit_passes_through(client):
    response = client.post("/healthz", data="x" * 10, content_type="text/plain")
    assert response.status_code != 413


@pytest.mark.django_db
def test_a_database_outage_gives_a_friendly_503_page(client):
    with mock.patch("config.views.connection.cursor", side_effect=OperationalError("server closed the connection")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Nothing you submitted was half-saved" in response.content


@pytest.mark.django_db
def test_a_database_outage_on_the_api_answers_json(client):
    with mock.patch("config.views.connection.cursor", side_effect=OperationalError("gone")):
        response = client.get("/healthz", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    assert "briefly unavailable" in response.json()["detail"]

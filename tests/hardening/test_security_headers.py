"""Security headers: CSP, Permissions-Policy, frame denial, nosniff, HSTS behind TLS."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from config.middleware import content_security_policy
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.helpers import arrive

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db

INLINE_SCRIPT_RE = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"(?:text/plain|application/json)\")[^>]*>", re.I)
HANDLER_RE = re.compile(r"\son[a-z]+\s*=", re.I)
JS_URL_RE = re.compile(r"javascript:", re.I)


def directives(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


@pytest.fixture
def study():
    group = ItemGroupFactory(study=StudyFactory(slug="headers"))
    ItemFactory.create_batch(3, group=group)
    return group.study


def test_a_participant_page_forbids_inline_scripts_framing_and_plugins(client, study):
    url, _ = arrive(client, study.slug)
    response = client.get(url)
    assert response.status_code == 200
    csp = directives(response["Content-Security-Policy"])
    assert csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert csp["form-action"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/", "/studies/"])
def test_researcher_and_admin_pages_are_not_frameable_and_run_only_our_scripts(client, path):
    response = client.get(path)
    assert directives(response["Content-Security-Policy"])["script-src"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"


def test_only_the_api_docs_pages_get_inline_scripts(client):
    docs = client.get("/api/docs/")
    assert directives(docs["Content-Security-Policy"])["script-src"] == "'self' 'unsafe-inline'"
    results = client.get("/results/")
    assert directives(results["Content-Security-Policy"])["script-src"] == "'self'"
    assert directives(results["Content-Security-Policy"])["frame-ancestors"] == "'none'"
    assert directives(content_security_policy())["script-src"] == "'self'"


def test_error_pages_carry_the_headers_too(client):
    response = client.get("/s/no-such-study/")
    assert response.status_code == 404
    assert "Content-Security-Policy" in response
    assert response["X-Frame-Options"] == "DENY"


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SECURE_SSL_REDIRECT=False)
def test_hsts_is_sent_on_https_requests_when_tls_is_on(client):
    secure = client.get("/", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/")


def _served_templates() -> list[Path]:
    """Every project template: only drf-spectacular's own pages (not ours) are under CSP_INLINE_SCRIPT_PATHS."""
    assert settings.CSP_INLINE_SCRIPT_PATHS == ["/api/docs/", "/api/redoc/"]
    return [path for base in [ROOT / "templates", *ROOT.glob("*/templates")] for path in base.rglob("*.html")]


def test_no_template_served_under_the_strict_policy_has_inline_script():
    """An inline <script>, on*= handler or javascript: URL would silently stop working under script-src 'self'."""
    offenders = []
    for path in _served_templates():
        text = path.read_text(encoding="utf-8")
        for pattern, what in ((INLINE_SCRIPT_RE, "inline <script>"), (HANDLER_RE, "event handler attribute"), (JS_URL_RE, "javascript: URL")):
            for match in pattern.finditer(text):
                line = text[: match.start()].count("\n") + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not offenders, "move these scripts to static files or add the path to CSP_INLINE_SCRIPT_PATHS:\n" + "\n".join(offenders)

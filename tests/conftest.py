"""Markers for tests that need real services, skipped with a visible reason when absent.

With REQUIRE_SERVICES=1 (set by .ci/run) a skipped service test is an error instead.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

# In CI the property tests explore the same examples on every run, so a landing never hinges on luck;
# locally they keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

CHROMIUM = Path("/usr/bin/chromium")


def _missing(marker: str) -> str | None:
    if marker == "postgres" and not settings.DATABASE_IS_POSTGRES:
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker == "redis" and not os.environ.get("REDIS_URL"):
        return "needs Redis and a Celery worker: set REDIS_URL=redis://..."
    if marker == "redis" and not settings.DATABASE_IS_POSTGRES:
        return "a real Celery worker shares the test database: needs DATABASE_URL=postgres://..."
    if marker == "browser" and not (CHROMIUM.exists() or shutil.which("chromium")):
        return "needs headless Chromium: apt-get install chromium"
    return None


def pytest_collection_modifyitems(config, items):
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    unmet = set()
    for item in items:
        for marker in ("postgres", "redis", "browser"):
            if marker in item.keywords:
                reason = _missing(marker)
                if reason:
                    unmet.add(reason)
                    item.add_marker(pytest.mark.skip(reason=reason))
    if required and unmet:
        raise pytest.UsageError("REQUIRE_SERVICES=1 but service tests would be skipped: " + "; ".join(sorted(unmet)))

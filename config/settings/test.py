"""Test override: fast hashing, in-memory SQLite unless DATABASE_URL names PostgreSQL."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from config.settings.base import *  # noqa: E402,F403
from config.settings.base import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": None}  # in-memory, per test run
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute"}}  # noqa: F405
ENTRY_RATE_LIMIT = "100000/60"  # tests arrive from one address many times a minute; tests/hardening override it
SELF_TEST_STORE_RATE_LIMIT = "100000/3600"
RESULTS_RATE_LIMIT = "100000/60"
# Test databases reuse ids across tests, so a page cached in one test could match another's data: the results
# cache is off here and switched on by the tests of the cache itself (tests/results/test_page_cache.py).
RESULTS_CACHE_SECONDS = 0
# Tests talk to providers' protocols on local HTTP servers; production allows no custom endpoint by default.
BENCHMARK_ENDPOINT_HOSTS = ["127.0.0.1", "localhost"]
# Every test client arrives from 127.0.0.1: lift the per-address caps; tests/hardening override them.
UNCONSENTED_PER_ADDRESS = 100000
PLACES_PER_ADDRESS = 100000

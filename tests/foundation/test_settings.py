"""Settings come from the environment; production refuses to start without a secret key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


SHOW = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings.base'); django.setup();"
    "from django.conf import settings as s; print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER)"
)


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = run_python(SHOW, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_an_empty_variable_counts_as_unset():
    result = run_python(SHOW, DJANGO_DEBUG="1", DATABASE_URL="", CELERY_BROKER_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.sqlite3", "True"]


def test_it_uses_postgres_and_real_workers_when_urls_are_set():
    result = run_python(
        SHOW,
        DJANGO_DEBUG="1",
        DATABASE_URL="postgres://u@127.0.0.1:5432/x",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "django.db.backends.postgresql", "False"]


def test_it_rejects_a_boolean_it_cannot_read():
    result = run_python(SHOW, DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


@pytest.mark.parametrize("flag", ["--deploy"])
def test_check_deploy_is_clean_with_production_settings(flag):
    code = "import sys; from django.core.management import execute_from_command_line; execute_from_command_line(['manage.py','check','--deploy','--fail-level','WARNING'])"
    result = run_python(
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings.base');" + code,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="k" * 10 + "-a-long-random-production-secret-key-for-the-check-0123456789",
        DJANGO_ALLOWED_HOSTS="values.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

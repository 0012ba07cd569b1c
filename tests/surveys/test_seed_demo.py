"""seed_demo: idempotent demo study, researcher account, printed links, hooks of other apps."""

import re

from django.contrib.auth import authenticate
from django.core.management import call_command

from surveys import demo
from surveys.models import Item, ItemGroup, Study


def test_seed_demo_is_idempotent_and_prints_working_links(db, settings, tmp_path, capsys, client):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo")
    first = capsys.readouterr().out
    Study.objects.filter(slug="demo").update(status=Study.Status.CLOSED, attention_check_count=3, attention_check_pages="items:1, pvq21, bfi10")
    call_command("seed_demo")
    second = capsys.readouterr().out

    study = Study.objects.get(slug="demo")
    assert study.status == Study.Status.LIVE and study.attention_check_count == 4 and study.consent_text
    assert study.attention_check_pages == "" and (study.completion_code, study.failed_checks_code, study.no_consent_code) == (
        "DEMO-COMPLETE", "DEMO-FAILCHK", "DEMO-NOCONSENT")
    assert ItemGroup.objects.filter(study=study).count() == 2 and Item.objects.filter(study=study).count() == 12
    assert Item.objects.filter(study=study).exclude(title="").exists() and Item.objects.filter(study=study, title="").exists()
    password = (tmp_path / "demo-researcher-password").read_text().strip()
    assert f"password '{password}'" in first and f"password '{password}'" in second
    user = authenticate(username="researcher", password=password)
    assert user is not None and study.researchers.filter(pk=user.pk).exists()

    link = re.search(r"Participant link:\s+http://127.0.0.1:8000(\S+)", second).group(1)
    assert re.search(r"PROLIFIC_PID=[0-9a-f]{24}&STUDY_ID=\w+&SESSION_ID=\w+", link)
    assert client.get(link).status_code == 303
    assert "Preview link:      http://127.0.0.1:8000/s/demo/preview/" in second


def test_the_password_can_come_from_the_environment(db, settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("DEMO_RESEARCHER_PASSWORD", "from-the-env-123")
    call_command("seed_demo")
    assert authenticate(username="researcher", password="from-the-env-123") is not None
    assert not (tmp_path / "demo-researcher-password").exists()


def test_seed_demo_calls_the_hooks_of_other_apps_in_order(db, settings, tmp_path, monkeypatch, capsys):
    settings.VAR_DIR = tmp_path
    calls = []
    monkeypatch.setattr(demo, "SEED_HOOKS", [lambda: calls.append("list") or "hook from the list ran"])
    settings.DEMO_SEED_HOOKS = ["tests.surveys.test_seed_demo.settings_hook"]
    call_command("seed_demo")
    assert "hook from the list ran" in capsys.readouterr().out
    assert calls == ["list"] and SETTINGS_HOOK_CALLS == [1]


SETTINGS_HOOK_CALLS = []


def settings_hook():
    SETTINGS_HOOK_CALLS.append(1)

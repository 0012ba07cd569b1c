"""Issue 11 finding 4: a study's "token from an environment variable" reads only variables the operator
named for that study (PROLIFIC_TOKEN_ENV_VARS); any other variable is refused before anything is read,
so no server secret is shown (not even its last four characters), sent to Prolific or borrowed."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from prolific.apps import token_env_vars_check
from prolific.models import ProlificSettings
from prolific.services import (
    ProlificOpsError,
    prolific_settings_update,
    study_token,
    token_description,
    token_env_vars_for,
)
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db
SECRET = "server-secret-value-QZ7K"
LAB_TOKEN = "lab-token-value-8F2M"


@pytest.fixture
def env(monkeypatch, settings):
    monkeypatch.setenv("SOME_SERVER_SECRET", SECRET)
    monkeypatch.setenv("DJANGO_SECRET_KEY", SECRET)
    monkeypatch.setenv("PROLIFIC_TOKEN_LAB_A", LAB_TOKEN)
    settings.PROLIFIC_TOKEN_ENV_VARS = {"PROLIFIC_TOKEN_LAB_A": ["lab-a"], "PROLIFIC_TOKEN_SHARED": "*"}


def test_only_the_variables_named_for_the_study_are_offered(env):
    assert token_env_vars_for(study=StudyFactory(slug="lab-a")) == ["PROLIFIC_TOKEN_LAB_A", "PROLIFIC_TOKEN_SHARED"]
    assert token_env_vars_for(study=StudyFactory(slug="lab-b")) == ["PROLIFIC_TOKEN_SHARED"]


@pytest.mark.parametrize("var", ["SOME_SERVER_SECRET", "DJANGO_SECRET_KEY", "PATH", "HOME"])
def test_any_other_variable_is_refused_and_its_value_never_shown(env, var):
    study = StudyFactory(slug="lab-a")
    with pytest.raises(ProlificOpsError, match=f"may not read its Prolific token from \\${var}") as caught:
        prolific_settings_update(study=study, token_env_var=var)
    assert SECRET[-4:] not in str(caught.value)
    assert "not set" not in str(caught.value)  # no oracle for which variables exist
    assert not ProlificSettings.objects.filter(study=study).exclude(token_env_var="").exists()
    assert token_description(study=study) == "not configured"


def test_another_studys_token_cannot_be_borrowed(env):
    thief = StudyFactory(slug="lab-b")
    with pytest.raises(ProlificOpsError, match="PROLIFIC_TOKEN_LAB_A.*for this study: PROLIFIC_TOKEN_SHARED"):
        prolific_settings_update(study=thief, token_env_var="PROLIFIC_TOKEN_LAB_A")
    owner = StudyFactory(slug="lab-a")
    prolific_settings_update(study=owner, token_env_var="PROLIFIC_TOKEN_LAB_A")
    assert study_token(study=owner) == LAB_TOKEN
    assert token_description(study=owner) == f"from $PROLIFIC_TOKEN_LAB_A (…{LAB_TOKEN[-4:]})"


def test_a_variable_taken_off_the_list_is_no_longer_read(env, settings):
    study = StudyFactory(slug="lab-a")
    prolific_settings_update(study=study, token_env_var="PROLIFIC_TOKEN_LAB_A")
    settings.PROLIFIC_TOKEN_ENV_VARS = {}
    with pytest.raises(ProlificOpsError, match="may not read"):
        study_token(study=study)
    description = token_description(study=study)
    assert "no longer allowed" in description and LAB_TOKEN[-4:] not in description


def test_server_secrets_cannot_be_listed_and_the_startup_check_says_so(settings):
    settings.PROLIFIC_TOKEN_ENV_VARS = {"DATABASE_URL": "*", "bad name": ["x"], "PROLIFIC_TOKEN_OK": 3}
    messages = [error.msg for error in token_env_vars_check()]
    assert any("DATABASE_URL holds a server secret" in m for m in messages)
    assert any("'bad name' is not an environment variable name" in m for m in messages)
    assert any("PROLIFIC_TOKEN_OK" in m and "list of study slugs" in m for m in messages)
    with pytest.raises(ProlificOpsError, match="misconfigured"):
        token_env_vars_for(study=StudyFactory())
    settings.PROLIFIC_TOKEN_ENV_VARS = {"OPENAI_KEY_FOR_RUNS": "*"}
    settings.BENCHMARK_CREDENTIALS = {"openai": {"provider": "openai", "env": "OPENAI_KEY_FOR_RUNS"}}
    assert [e.msg for e in token_env_vars_check()] == [
        "OPENAI_KEY_FOR_RUNS holds a server secret and cannot be a study's Prolific token."
    ]


def test_the_settings_form_refuses_it_and_lists_what_is_allowed(client, env):
    study = StudyFactory(slug="lab-b")
    user = get_user_model().objects.create_user("ada", password="pw-ada-123456")
    study.researchers.add(user)
    client.force_login(user)
    response = client.post(
        "/studies/lab-b/prolific/settings/",
        {"token_env_var": "SOME_SERVER_SECRET", "rejection_message": "x" * 120, "return_reason": "Please return."},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "may not read its Prolific token from $SOME_SERVER_SECRET" in page and SECRET[-4:] not in page
    assert "Allowed for this study by the server operator: PROLIFIC_TOKEN_SHARED" in page
    assert not ProlificSettings.objects.filter(study=study).exclude(token_env_var="").exists()


def test_the_command_refuses_it_too(env):
    StudyFactory(slug="lab-b")
    with pytest.raises(CommandError, match="may not read its Prolific token from \\$SOME_SERVER_SECRET"):
        call_command("prolific", "lab-b", "configure", "--token-env", "SOME_SERVER_SECRET", stdout=io.StringIO())

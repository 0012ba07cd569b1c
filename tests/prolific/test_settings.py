"""Per-study token: stored encrypted or read from an environment variable; never shown in full."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from prolific.models import ProlificSettings
from prolific.secrets_box import SecretUnreadable
from prolific.services import ProlificOpsError, prolific_settings_update, study_token, token_description
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db
TOKEN = "abcdefghijklmnopqrstuvwxyz-token-9876"


def test_a_stored_token_is_encrypted_and_only_its_last_four_characters_are_shown(db):
    study = StudyFactory()
    prolific_settings_update(study=study, token=TOKEN)
    row = ProlificSettings.objects.get(study=study)
    assert TOKEN not in row.token_encrypted
    assert study_token(study=study) == TOKEN
    assert token_description(study=study) == "stored encrypted (…9876)"


def test_a_token_can_come_from_an_environment_variable(monkeypatch, settings, db):
    study = StudyFactory()
    settings.PROLIFIC_TOKEN_ENV_VARS = {"PROLIFIC_TOKEN_WAVE1": [study.slug]}
    prolific_settings_update(study=study, token=TOKEN)
    prolific_settings_update(study=study, token_env_var="PROLIFIC_TOKEN_WAVE1")
    assert ProlificSettings.objects.get(study=study).token_encrypted == ""  # replaced, not kept
    with pytest.raises(ProlificOpsError, match="PROLIFIC_TOKEN_WAVE1 .* is not set"):
        study_token(study=study)
    monkeypatch.setenv("PROLIFIC_TOKEN_WAVE1", "env-token-4321")
    assert study_token(study=study) == "env-token-4321"
    assert token_description(study=study) == "from $PROLIFIC_TOKEN_WAVE1 (…4321)"


def test_bad_settings_are_refused_with_a_message(db):
    study = StudyFactory()
    with pytest.raises(ProlificOpsError, match="not an environment variable name"):
        prolific_settings_update(study=study, token_env_var="rm -rf")
    with pytest.raises(ProlificOpsError, match="has 12 characters; Prolific requires at least 100"):
        prolific_settings_update(study=study, rejection_message="Too short!!!")
    with pytest.raises(ProlificOpsError, match="no Prolific API token"):
        study_token(study=study)


def test_a_changed_secret_key_gives_a_clear_error_not_garbage(settings, db):
    study = StudyFactory()
    prolific_settings_update(study=study, token=TOKEN)
    settings.SECRET_KEY = "a-different-secret-key-" * 3
    with pytest.raises(SecretUnreadable, match="Enter the token again"):
        study_token(study=study)


def test_a_dedicated_key_can_be_configured_and_must_be_valid(settings, db):
    from cryptography.fernet import Fernet

    settings.PROLIFIC_TOKEN_KEY = Fernet.generate_key().decode()
    study = StudyFactory()
    prolific_settings_update(study=study, token=TOKEN)
    settings.SECRET_KEY = "rotating SECRET_KEY does not matter with a dedicated key " * 2
    assert study_token(study=study) == TOKEN
    settings.PROLIFIC_TOKEN_KEY = "not-a-key"
    with pytest.raises(ImproperlyConfigured, match="PROLIFIC_TOKEN_KEY"):
        study_token(study=study)

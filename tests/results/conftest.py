import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.results.builders import completed_run, ess_references, imported_bank


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def researcher_token(db):
    user = get_user_model().objects.create_user("alice", password="pw-alice-123")
    user.groups.add(Group.objects.get_or_create(name="researchers")[0])
    return Token.objects.create(user=user).key


@pytest.fixture
def visitor_token(db):
    user = get_user_model().objects.create_user("bob", password="pw-bob-123")
    return Token.objects.create(user=user).key


@pytest.fixture
def bank(db, tmp_path):
    return imported_bank(tmp_path)


@pytest.fixture
def scored(bank):
    """Three models with baseline runs on ``bank`` (one leans to advice-column sources), one with personas."""
    runs = {
        "model-a": completed_run(bank, "model-a"),
        "model-b": completed_run(bank, "model-b", bias={"scruples": 2, "dearabby": 2}, unparsed_every=7),
        "model-c": completed_run(bank, "model-c", bias={"sharegpt": -2}),
    }
    runs["model-a:male"] = completed_run(bank, "model-a", persona="gender-male")
    runs["model-a:female"] = completed_run(bank, "model-a", persona="gender-female")
    ess_references()
    return runs

"""Rate limit on Prolific entry links and login throttling for researchers (cache-backed, per client address)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from config.middleware import MSG_ENTRY_LIMIT, parse_rate
from surveys.models import Participant
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.helpers import entry_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def study():
    group = ItemGroupFactory(study=StudyFactory(slug="limited"))
    ItemFactory.create_batch(3, group=group)
    return group.study


def pid(n: int) -> str:
    return f"{n:024x}"


@override_settings(ENTRY_RATE_LIMIT="3/60")
def test_entry_links_beyond_the_limit_from_one_address_get_429_and_create_nobody(client, study):
    for n in range(3):
        assert client.get(entry_url(study.slug, pid(n))).status_code == 303
    refused = client.get(entry_url(study.slug, pid(99)))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert MSG_ENTRY_LIMIT.split(".")[0] in refused.content.decode()
    assert Participant.objects.filter(study=study).count() == 3


@override_settings(ENTRY_RATE_LIMIT="2/60")
def test_the_limit_is_per_client_address(client, study):
    for n in range(2):
        client.get(entry_url(study.slug, pid(n)), REMOTE_ADDR="10.0.0.1")
    assert client.get(entry_url(study.slug, pid(2)), REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.get(entry_url(study.slug, pid(3)), REMOTE_ADDR="10.0.0.2").status_code == 303


@override_settings(ENTRY_RATE_LIMIT="1/60")
def test_participant_pages_are_not_limited(client, study):
    url = client.get(entry_url(study.slug, pid(1)))["Location"]
    for _ in range(5):
        assert client.get(url).status_code == 200


@override_settings(ENTRY_RATE_LIMIT="1/60", TRUSTED_PROXY_HOPS=0)
def test_a_forged_forwarded_for_header_does_not_escape_the_limit_without_a_trusted_proxy(client, study):
    client.get(entry_url(study.slug, pid(1)), HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert client.get(entry_url(study.slug, pid(2)), HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


@override_settings(ENTRY_RATE_LIMIT="1/60", TRUSTED_PROXY_HOPS=1)
def test_behind_a_trusted_proxy_the_forwarded_client_address_is_limited(client, study):
    # The proxy appends the address it saw; whatever the client sent before that is ignored.
    assert client.get(entry_url(study.slug, pid(1)), HTTP_X_FORWARDED_FOR="9.9.9.9, 1.1.1.1").status_code == 303
    assert client.get(entry_url(study.slug, pid(2)), HTTP_X_FORWARDED_FOR="8.8.8.8, 1.1.1.1").status_code == 429
    assert client.get(entry_url(study.slug, pid(3)), HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 303


def test_the_default_entry_limit_allows_a_busy_shared_network():
    from django.conf import settings

    from config.settings import base

    count, seconds = parse_rate(base.ENTRY_RATE_LIMIT, "ENTRY_RATE_LIMIT")
    assert count / seconds >= 1.0  # 60 participants a minute behind one NAT address
    assert settings.ENTRY_RATE_LIMIT  # the test settings lift it for other test packages


@pytest.mark.parametrize("value", ["60", "a/60", "0/60", "60/0", "60/60/1"])
def test_a_bad_rate_setting_is_a_clear_configuration_error(value):
    with pytest.raises(ImproperlyConfigured, match="ENTRY_RATE_LIMIT"):
        parse_rate(value, "ENTRY_RATE_LIMIT")


@pytest.fixture
def researcher():
    return get_user_model().objects.create_user("alice", password="correct horse battery staple")


def login(client, path="/accounts/login/", username="alice", password="wrong", addr="10.1.1.1"):  # noqa: S107
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=addr)


@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_IP=100, LOGIN_THROTTLE_SECONDS=600)
def test_repeated_failed_logins_lock_that_username_from_that_address(client, researcher):
    for _ in range(3):
        assert login(client).status_code == 200
    locked = login(client, password="correct horse battery staple")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert locked["Retry-After"] == "600"
    assert login(client, addr="10.2.2.2", password="correct horse battery staple").status_code == 302


@override_settings(LOGIN_FAILURES_PER_USER=100, LOGIN_FAILURES_PER_IP=4, LOGIN_THROTTLE_SECONDS=600)
def test_guessing_many_usernames_from_one_address_is_throttled(client, researcher):
    for n in range(4):
        login(client, username=f"user{n}")
    assert login(client, username="alice", password="correct horse battery staple").status_code == 429


@override_settings(LOGIN_FAILURES_PER_USER=3, LOGIN_FAILURES_PER_IP=100)
def test_a_successful_login_clears_the_failures(client, researcher):
    login(client)
    login(client)
    assert login(client, password="correct horse battery staple").status_code == 302
    client.logout()
    for _ in range(2):
        assert login(client).status_code == 200
    assert login(client, password="correct horse battery staple").status_code == 302


@override_settings(LOGIN_FAILURES_PER_USER=2, LOGIN_FAILURES_PER_IP=100)
def test_the_admin_login_is_throttled_too(client, researcher):
    researcher.is_staff = True
    researcher.save()
    for _ in range(2):
        assert login(client, path="/admin/login/").status_code == 200
    assert login(client, path="/admin/login/", password="correct horse battery staple").status_code == 429

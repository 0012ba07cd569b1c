"""Issue 11, finding 1: no server secret leaves for a URL a user chose.

The attack as reported: a researcher creates a run whose ``base_url`` is their own listener and
whose ``settings.api_key_env`` names a server secret (DJANGO_SECRET_KEY, DATABASE_URL); the worker
sends that variable as the bearer key, and the error text of an internal reply is readable
anonymously. Here a real HTTP listener on 127.0.0.1 records every request's headers.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from benchmark.credentials import CredentialError, host_matches, resolve
from benchmark.models import CredentialGrant, Run
from benchmark.providers import get_provider
from benchmark.providers.netguard import address_is_public
from benchmark.runner import PendingRequest, RunAborted, run_requests
from benchmark.services import BenchmarkError, run_create, run_execute
from results.apis import PUBLIC_RUN_ERROR
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db

SECRET = "server-secret-value-0123456789"
LOCAL_CREDENTIALS = {
    "openai": {"provider": "openai", "env": "OPENAI_API_KEY", "hosts": ["api.openai.com"]},
    "anthropic": {"provider": "anthropic", "env": "ANTHROPIC_API_KEY", "hosts": ["api.anthropic.com"]},
    "local-vllm": {"provider": "openai", "env": "LOCAL_VLLM_KEY", "hosts": ["127.0.0.1"]},
}


class Listener(ThreadingHTTPServer):
    """Answers like an OpenAI-compatible server ("3"), or with ``status`` and an internal-looking body; records headers."""

    daemon_threads = True

    def __init__(self, status: int = 200):
        self.status = status
        self.seen: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def close(self):
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(dict(self.headers))
        if self.server.status == 200 and self.path.endswith("/messages"):  # Anthropic Messages
            body = {"content": [{"type": "text", "text": "3"}], "stop_reason": "end_turn"}
        elif self.server.status == 200:
            body = {"choices": [{"message": {"content": "3"}}]}
        else:
            body = {"error": {"message": "internal admin panel: db=postgres://root:hunter2@10.0.0.5/prod"}}
        data = json.dumps(body).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def listener():
    servers = []

    def start(status: int = 200) -> Listener:
        servers.append(Listener(status))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def secrets_in_environment(monkeypatch, settings):
    for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.setenv(name, f"{name}-{SECRET}")
    monkeypatch.setenv("LOCAL_VLLM_KEY", "local-vllm-key")
    settings.BENCHMARK_CREDENTIALS = LOCAL_CREDENTIALS
    settings.BENCHMARK_ENDPOINT_HOSTS = ["127.0.0.1"]


@pytest.fixture
def researcher(django_user_model):
    user = django_user_model.objects.create_user("mallory", password="x-test-only")
    user.groups.add(Group.objects.get_or_create(name="researchers")[0])
    return user


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def leaked(server: Listener) -> list[str]:
    return [value for headers in server.seen for value in headers.values() if SECRET in value]


def test_a_variable_name_sent_by_a_researcher_is_refused_and_nothing_is_sent(researcher, bank, listener):
    server = listener()
    for variable in ("DJANGO_SECRET_KEY", "DATABASE_URL"):
        for provider in ("openai", "anthropic"):
            response = api_as(researcher).post("/api/v1/runs/", {
                "itembank": bank.name, "provider": provider, "model": "x", "base_url": server.base_url,
                "settings": {"api_key_env": variable}}, format="json")
            assert response.status_code == 400
            assert "api_key_env" in response.json()["detail"] and "credential" in response.json()["detail"]
    assert not Run.objects.exists() and server.seen == []


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_custom_endpoint_without_a_credential_of_its_own_gets_no_key(researcher, bank, listener, provider):
    server = listener()
    base_url = server.base_url if provider == "openai" else server.base_url.removesuffix("/v1")
    response = api_as(researcher).post("/api/v1/runs/", {
        "itembank": bank.name, "provider": provider, "model": "x", "base_url": base_url,
        "settings": {"concurrency": 2, "max_attempts": 1}}, format="json")
    assert response.status_code == 201, response.content
    run_execute(response.json()["id"])
    assert server.seen, "the run sent its requests"
    assert leaked(server) == []
    assert not any(key.lower() in ("authorization", "x-api-key") for headers in server.seen for key in headers)


def test_a_credential_is_never_sent_to_another_host(researcher, bank, listener):
    server = listener()
    CredentialGrant.objects.create(credential="openai", group=Group.objects.get(name="researchers"))
    response = api_as(researcher).post("/api/v1/runs/", {
        "itembank": bank.name, "provider": "openai", "model": "x", "base_url": server.base_url,
        "credential": "openai"}, format="json")
    assert response.status_code == 400 and "may only be sent to api.openai.com" in response.json()["detail"]
    assert server.seen == []


def test_a_credential_bound_to_a_local_endpoint_is_sent_there(bank, listener):
    server = listener()
    run = run_create(bank=bank, provider="openai", model="x", base_url=server.base_url, credential="local-vllm",
                     settings={"concurrency": 2})
    run_execute(run.pk)
    assert {headers["Authorization"] for headers in server.seen} == {"Bearer local-vllm-key"}


def test_a_run_whose_credential_was_rebound_is_refused_at_execution(bank, listener, settings):
    server = listener()
    run = run_create(bank=bank, provider="openai", model="x", base_url=server.base_url, credential="local-vllm")
    settings.BENCHMARK_CREDENTIALS = {**LOCAL_CREDENTIALS, "local-vllm": {**LOCAL_CREDENTIALS["local-vllm"],
                                                                          "hosts": ["vllm.internal"]}}
    with pytest.raises(BenchmarkError, match="may only be sent to vllm.internal"):
        run_execute(run.pk)
    assert server.seen == []


def test_a_credential_of_another_provider_is_refused(bank, listener):
    with pytest.raises(BenchmarkError, match="is for provider 'openai', not 'anthropic'"):
        run_create(bank=bank, provider="anthropic", model="x", base_url=listener().base_url, credential="local-vllm")


def test_a_researcher_uses_only_granted_credentials(researcher, bank, django_user_model):
    client = api_as(researcher)
    body = {"itembank": bank.name, "provider": "openai", "model": "gpt-4o"}
    refused = client.post("/api/v1/runs/", body, format="json")
    assert refused.status_code == 400 and "granted" in refused.json()["detail"]
    refused = client.post("/api/v1/runs/", {**body, "credential": "local-vllm"}, format="json")
    assert refused.status_code == 400 and "has not been granted to you" in refused.json()["detail"]
    assert client.get("/api/v1/credentials/").json() == []

    study = StudyFactory()
    study.researchers.add(researcher)
    CredentialGrant.objects.create(credential="openai", study=study)
    listed = client.get("/api/v1/credentials/").json()
    assert listed == [{"name": "openai", "provider": "openai", "hosts": ["api.openai.com"], "is_set": True}]
    assert "OPENAI_API_KEY" not in json.dumps(listed) and SECRET not in json.dumps(listed)
    created = client.post("/api/v1/runs/", body, format="json")
    assert created.status_code == 201 and created.json()["credential"] == "openai"
    # Another user of the same group, outside the study, does not inherit the study's grant.
    other = django_user_model.objects.create_user("eve", password="x-test-only")
    other.groups.add(Group.objects.get(name="researchers"))
    assert api_as(other).post("/api/v1/runs/", body, format="json").status_code == 400


def test_the_credentials_list_needs_a_researcher(db):
    assert APIClient().get("/api/v1/credentials/").status_code == 401


@override_settings(BENCHMARK_ENDPOINT_HOSTS=[])
def test_a_custom_endpoint_must_be_allow_listed(researcher, bank, listener):
    server = listener()
    for url in (server.base_url, "http://169.254.169.254/latest/meta-data", "http://[::1]:9/v1", "http://10.0.0.5/v1"):
        response = api_as(researcher).post("/api/v1/runs/", {
            "itembank": bank.name, "provider": "openai", "model": "x", "base_url": url}, format="json")
        assert response.status_code == 400 and "BENCHMARK_ENDPOINT_HOSTS" in response.json()["detail"], url
    assert server.seen == []


def test_outbound_requests_refuse_non_public_addresses_at_connection(listener, settings):
    """Even a provider built directly (the default endpoint's name resolving to a private address, DNS rebinding)
    cannot connect to a loopback, private or link-local address unless the host is allow-listed."""
    server = listener()
    settings.BENCHMARK_ENDPOINT_HOSTS = []
    provider = get_provider("openai", model="x", base_url=server.base_url)
    request = PendingRequest(tag="t", key="k", body=provider.request_body("hi", None))
    with pytest.raises(RunAborted) as caught:
        run_requests(provider, [request], on_batch=lambda batch: None, concurrency=1)
    assert "refused to connect" in str(caught.value.cause) and not caught.value.cause.retryable
    assert server.seen == []
    settings.BENCHMARK_ENDPOINT_HOSTS = ["127.0.0.1"]
    received = []
    run_requests(provider, [request], on_batch=received.extend, concurrency=1)
    assert len(received) == 1 and len(server.seen) == 1


def test_a_host_name_resolving_to_a_private_address_is_refused_unless_allow_listed(listener, settings):
    """The guard checks what a name resolves to (here ``localhost`` → loopback), not only addresses in the URL."""
    server = listener()
    port = server.server_address[1]
    settings.BENCHMARK_ENDPOINT_HOSTS = ["127.0.0.1"]  # the address is allowed, the name is not
    provider = get_provider("openai", model="x", base_url=f"http://localhost:{port}/v1")
    request = PendingRequest(tag="t", key="k", body=provider.request_body("hi", None))
    with pytest.raises(RunAborted, match="'localhost' resolves to a non-public address") as caught:
        run_requests(provider, [request], on_batch=lambda batch: None, concurrency=1)
    assert not caught.value.cause.retryable and server.seen == []
    settings.BENCHMARK_ENDPOINT_HOSTS = [f"localhost:{port}"]
    received = []
    run_requests(provider, [request], on_batch=received.extend, concurrency=1)
    assert len(received) == 1 and len(server.seen) == 1


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),  # noqa: S104
    ("fd00::1", False), ("fe80::1", False), ("::ffff:127.0.0.1", False), ("::ffff:169.254.169.254", False),
    ("224.0.0.1", False), ("fd00:ec2::254", False),
])
def test_address_classification(address, public):
    assert address_is_public(address) is public


@pytest.mark.parametrize(("host", "port", "patterns", "expected"), [
    ("127.0.0.1", 8000, ["127.0.0.1"], True),
    ("127.0.0.1", 8000, ["127.0.0.1:8001"], False),
    ("127.0.0.1", 8001, ["127.0.0.1:8001"], True),
    ("::1", 8000, ["[::1]:8000"], True),
    ("api.openai.com.evil.example", None, ["api.openai.com"], False),
    ("evil-api.openai.com", None, ["api.openai.com"], False),
])
def test_host_matching_is_exact(host, port, patterns, expected):
    assert host_matches(host, port, patterns) is expected


def test_userinfo_in_a_url_does_not_fool_the_host_check():
    with pytest.raises(CredentialError, match="not an allowed endpoint"):
        resolve(provider="openai", base_url="http://api.openai.com@10.0.0.5/v1",
                default_base_url="https://api.openai.com/v1", credential=None)


def test_provider_error_text_is_for_the_runs_researchers_only(researcher, bank, listener, django_user_model):
    server = listener(status=401)
    created = api_as(researcher).post("/api/v1/runs/", {
        "itembank": bank.name, "provider": "openai", "model": "x", "base_url": server.base_url,
        "settings": {"max_attempts": 1}}, format="json").json()
    Run.objects.filter(pk=created["id"]).update(is_published=True)
    with pytest.raises(BenchmarkError):
        run_execute(created["id"])
    anonymous = APIClient().get(f"/api/v1/runs/{created['id']}/").json()
    assert anonymous["status"] == "failed" and anonymous["error"] == PUBLIC_RUN_ERROR
    assert anonymous["credential"] is None and "hunter2" not in json.dumps(anonymous)
    stranger = django_user_model.objects.create_user("stranger", password="x-test-only")
    assert "hunter2" not in json.dumps(api_as(stranger).get(f"/api/v1/runs/{created['id']}/").json())
    listed = APIClient().get("/api/v1/runs/").json()["results"]
    assert "hunter2" not in json.dumps(listed)
    own = api_as(researcher).get(f"/api/v1/runs/{created['id']}/").json()
    assert "HTTP 401" in own["error"] and "hunter2" in own["error"]


def test_the_command_line_refuses_a_variable_name(bank):
    with pytest.raises(CommandError, match="--credential"):
        call_command("run_benchmark", "--itembank", bank.name, "--provider", "openai", "--model", "x",
                     "--api-key-env", "DJANGO_SECRET_KEY")

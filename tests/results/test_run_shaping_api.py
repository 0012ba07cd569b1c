"""POST /api/v1/runs/ with provider parameters and presets: recorded on the run, or refused with the reason."""

import pytest

from benchmark.models import Run
from benchmark.providers.testserver import LLMTestServer, ServerBehaviour
from tests.results.builders import imported_bank

pytestmark = pytest.mark.django_db


def test_a_run_with_params_and_a_preset_records_what_it_sends(api, tmp_path, researcher_token,
                                                               django_capture_on_commit_callbacks):
    imported_bank(tmp_path, name="small", n_items=4, seed=3)
    api.credentials(HTTP_AUTHORIZATION=f"Token {researcher_token}")
    with LLMTestServer(ServerBehaviour(think_tokens=300)) as server, django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/runs/", {
            "itembank": "small", "provider": "openai", "model": "qwq-32b", "base_url": server.base_url,
            # The tiny bank keys only PVQ items: any other family would stop the run before a request.
            "settings": {"preset": "inline-think", "params": {"top_p": 0.95, "seed": 1}, "concurrency": 2,
                         "families": ["pvq"]},
        }, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["settings"]["max_tokens"] == 4096 and created["settings"]["params"] == {"top_p": 0.95, "seed": 1}
    assert created["settings"]["request"]["parameters"] == {"model": "qwq-32b", "temperature": 0.0, "max_tokens": 4096,
                                                            "top_p": 0.95, "seed": 1}
    detail = api.get(f"/api/v1/runs/{created['id']}/").json()
    assert detail["status"] == "completed" and detail["parse"]["parsed"] == 24
    assert detail["cut_off"] == {"count": 0, "share": 0.0, "finish_reasons": {}}


@pytest.mark.parametrize(("provider", "model", "settings", "reason"), [
    ("openai", "o3-mini", {"temperature": 0}, "only the default temperature (1)"),
    ("openai", "o1-mini", {"logprobs": True}, "returns no log-probabilities"),
    ("anthropic", "claude-opus-4-7", {"temperature": 0.2}, "accepts no temperature"),
    ("anthropic", "claude-sonnet-4-5", {"params": {"thinking": {"type": "enabled", "budget_tokens": 1024}}},
     "budget_tokens (1024) must be below max_tokens (64)"),
    ("openai", "gpt-4o", {"params": {"max_tokens": 10}}, "set by --max-tokens"),
    ("openai", "gpt-4o", {"params": "top_p=1"}, "params"),
    ("openai", "gpt-4o", {"request": {"parameters": {}}}, "set by the server"),
    ("openai", "gpt-4o", {"max_tokens": 0}, "max_tokens"),
])
def test_a_combination_the_model_refuses_is_a_400_before_any_request(api, bank, researcher_token, provider, model,
                                                                     settings, reason):
    api.credentials(HTTP_AUTHORIZATION=f"Token {researcher_token}")
    with LLMTestServer() as server:
        base_url = server.base_url if provider == "openai" else server.anthropic_base_url
        response = api.post("/api/v1/runs/", {"itembank": bank.name, "provider": provider, "model": model,
                                              "base_url": base_url, "settings": settings}, format="json")
        assert server.counts["requests"] == 0
    assert response.status_code == 400, response.content
    assert reason in response.json()["detail"]
    assert not Run.objects.exists()

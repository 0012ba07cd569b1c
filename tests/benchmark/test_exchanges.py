"""Recorded exchanges (tests/benchmark/data/exchanges): the parsers read the vendors' documented responses, the
bodies we build have the documented shape, and the stand-in server answers the documented error requests with
the real error texts."""

import json
from pathlib import Path

import httpx
import pytest

from benchmark.providers import GenerationSettings, get_provider

EXCHANGES = Path(__file__).parent / "data" / "exchanges"
ANSWERS = sorted(p for p in EXCHANGES.glob("*/*.json") if "exchanges" not in json.loads(p.read_text()))
ERRORS = sorted(p for p in EXCHANGES.glob("*/*.json") if "exchanges" in json.loads(p.read_text()))


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _settings_for(request: dict) -> GenerationSettings:
    """The run settings that produce the documented request (token limit, logprobs, thinking)."""
    config = request.get("generationConfig") or {}
    limit = request.get("max_tokens") or config.get("maxOutputTokens") or 64
    params = {key: request[key] for key in ("thinking",) if key in request}
    if "thinkingConfig" in config:
        params["thinkingConfig"] = config["thinkingConfig"]
    temperature = request.get("temperature", config.get("temperature"))
    return GenerationSettings(temperature=temperature, max_tokens=limit,
                              logprobs=bool(request.get("logprobs") or config.get("responseLogprobs")), params=params)


@pytest.mark.parametrize("path", ANSWERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_parser_reads_the_documented_response(path):
    exchange = _load(path)
    provider = get_provider(exchange["provider"], model=exchange["model"], base_url="http://127.0.0.1:9", api_key="k",
                            settings=_settings_for(exchange["request"]))
    completed = provider.read_response(exchange["response"])
    assert {"text": completed.text, "finish_reason": completed.finish_reason,
            "top_logprobs": completed.top_logprobs} == exchange["read"]


@pytest.mark.parametrize("path", ANSWERS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_body_we_build_has_the_documented_fields(path):
    exchange = _load(path)
    request = exchange["request"]
    provider = get_provider(exchange["provider"], model=exchange["model"], base_url="http://127.0.0.1:9", api_key="k",
                            settings=_settings_for(request))
    body = provider.request_body("prompt", None)
    documented = set(request) - {"top_logprobs"}  # the documentation asks for 2 alternatives, we ask for more
    assert documented <= set(body)
    if "generationConfig" in request:
        assert set(request["generationConfig"]) - {"logprobs"} <= set(body["generationConfig"])
    for key in ("model", "max_tokens", "thinking", "logprobs"):
        if key in request:
            assert body[key] == request[key]


@pytest.mark.parametrize("path", ERRORS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_stand_in_refuses_the_documented_requests_with_the_real_texts(path, llm_server):
    exchange = _load(path)
    server = llm_server()
    url = {"openai": f"{server.base_url}/chat/completions", "anthropic": f"{server.anthropic_base_url}/v1/messages"}
    for recorded in exchange["exchanges"]:
        response = httpx.post(url[exchange["provider"]], json=recorded["request"], timeout=5)
        assert response.status_code == recorded["status"]
        assert response.json()["error"]["message"].startswith(recorded["message"])

"""A local stand-in for an LLM API, for tests and ``make bench``: OpenAI chat completions, Anthropic Messages
and Gemini generateContent.

It answers each prompt with one of the six phrases chosen by a hash of the messages, so answers
(and therefore scores) are reproducible, and it can misbehave on demand: latency, a 429 with
``Retry-After`` (and ``retry-after-ms``) every Nth request, a 500 every Nth request, garbage answers
every Nth request, 401 for a wrong key, and permanent failure (401) after a number of successful
answers; and as the real APIs do (:func:`_real_api_failure`): 429 above a number of requests in
flight, Anthropic's 529 overloaded, Cloudflare's 520-524 pages, ``x-should-retry``, OpenAI's
quota-exhausted 429 (``insufficient_quota``), OpenRouter's 200 with ``finish_reason: "error"``, and
a redirect.

Like the real APIs it checks requests per model (``strict_models``, on by default), with the
vendors' own 400 texts: OpenAI o-series and GPT-5 models (``o1…``, ``o3…``, ``o4…``, ``gpt-5…``)
refuse ``max_tokens``, a temperature other than 1 and ``logprobs``; Claude Opus 4.7 and later
refuse any ``temperature`` and ``"enabled"`` thinking; other Claude models check extended thinking
(``budget_tokens`` ≥ 1024 and below ``max_tokens``, temperature only 1) and the 0-1 temperature
range; Gemini refuses unknown ``generationConfig`` fields. Generated text is counted in tokens
(one per word) against the request's token limit and cut there, with the API's own finish reason
(``length``, ``max_tokens``, ``MAX_TOKENS``). ``think_tokens`` makes the model reason first: inline
``<think>…</think>`` on the OpenAI protocol, a ``thinking`` block on Anthropic when thinking is on,
hidden thoughts on Gemini; ``reasoning_tokens`` are the o-series' hidden reasoning (an answer whose
reasoning fills ``max_completion_tokens`` comes back empty with ``finish_reason`` ``length``, as the
real API does). Log-probabilities are per token of the literal text, so a decorated answer's first
token is ``**`` or ``"``, as a real tokenizer's would be.

Run it standalone: ``python -m benchmark.providers.testserver --port 8089 --latency 0.2``, then
``manage.py run_benchmark --provider openai --base-url http://127.0.0.1:8089/v1 --model test ...``.
"""

import argparse
import hashlib
import json
import math
import re
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchmark.prompts import PHRASES

DECORATIONS = ("{}", "{}.", "{}", "**{}**", "{}", "\"{}\"", "{}", " {}\n")
GARBAGE = "I'm sorry, but I can't rate how similar this is to my own thoughts."


@dataclass
class ServerBehaviour:
    """Knobs. A value of 0 switches a failure off; ``*_every`` counts every request received."""

    latency: float = 0.0
    rate_limit_every: int = 0
    retry_after: str = "0"
    error_every: int = 0
    garbage_every: int = 0
    fail_after: int = 0  # answer this many completions, then 401 for every request
    api_key: str | None = None  # if set, requests must carry it (Bearer, x-api-key or x-goog-api-key)
    logprobs: bool = True
    strict_models: bool = True  # refuse what the real API refuses for the requested model (module docstring)
    think_tokens: int = 0  # reasoning before the answer: inline <think> (OpenAI), thinking block, Gemini thoughts
    reasoning_tokens: int = 0  # hidden reasoning of o-series / GPT-5 models, counted against the token limit
    # Transient and quota failures as the real APIs send them (issue 17), see _real_api_failure.
    capacity: int = 0  # more requests than this in flight at once: 429 at once (a rate limiter in front of the model)
    retry_after_ms: str | None = None  # OpenAI's retry-after-ms header on every 429
    immediate_rejections: bool = False  # 429s (rate_limit_every too) come before the latency, as a real limiter's
    overloaded_every: int = 0  # Anthropic's 529 overloaded_error
    proxy_error_every: int = 0  # a Cloudflare 52x HTML page
    proxy_status: int = 522
    should_retry: str | None = None  # x-should-retry header ("true"/"false") on every error answer
    quota_exhausted: bool = False  # OpenAI's 429 insufficient_quota for every request
    error_answer_every: int = 0  # OpenRouter's HTTP 200 with finish_reason "error" and an error object
    redirect_to: str | None = None  # 307 Temporary Redirect to this URL for every request


def answer_for(messages_material: str) -> str:
    """The deterministic answer for a conversation: a phrase picked by hash, sometimes decorated."""
    digest = hashlib.sha256(messages_material.encode()).digest()
    phrase = PHRASES[digest[0] % len(PHRASES)]
    decoration = DECORATIONS[digest[1] % len(DECORATIONS)]
    return decoration.format(phrase[0].upper() + phrase[1:] if digest[2] % 2 else phrase)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response and no Nagle delay: otherwise headers and body leave as two segments
    # and the second waits for the client's delayed ACK (~40 ms per request on Linux).
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: "LLMTestServer"

    def log_message(self, format, *args):  # noqa: A002 - silence per-request logging
        return

    def _send(self, status: int, payload: dict | str, headers: dict | None = None) -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        headers = dict(headers or {})
        if status >= 300 and self.server.behaviour.should_retry is not None:
            headers["x-should-retry"] = self.server.behaviour.should_retry
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _rate_limited(self, message: str = "rate limited") -> None:
        behaviour = self.server.behaviour
        self.server.count("429")
        headers = {"Retry-After": behaviour.retry_after}
        if behaviour.retry_after_ms is not None:
            headers["retry-after-ms"] = behaviour.retry_after_ms
        self._send(429, {"error": {"message": message, "type": "requests", "code": "rate_limit_exceeded"}}, headers)

    def do_GET(self):  # noqa: N802 - http.server's naming
        """``GET /stats``: the request counters, for a server running in another process."""
        if self.path.rstrip("/") != "/stats":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        with self.server._lock:
            counts = dict(self.server.counts)
        return self._send(200, counts)

    def do_POST(self):  # noqa: N802 - http.server's naming
        with self.server.in_flight() as in_flight:
            self._post(in_flight)

    def _post(self, in_flight: int):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        behaviour = self.server.behaviour
        number = self.server.count("requests")
        if _real_api_failure(self, number, in_flight, before_latency=True):
            return
        if behaviour.latency:
            time.sleep(behaviour.latency)
        if _real_api_failure(self, number, in_flight, before_latency=False):
            return
        path = self.path.rstrip("/")
        gemini = _GEMINI_ROUTE.fullmatch(path)
        protocol = "anthropic" if path == "/v1/messages" else "gemini" if gemini else "openai"
        if not gemini and path not in ("/v1/chat/completions", "/chat/completions", "/v1/messages"):
            self.server.count("404")
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        key = (self.headers.get("x-api-key") or self.headers.get("x-goog-api-key")
               or (self.headers.get("Authorization") or "").removeprefix("Bearer "))
        if behaviour.api_key is not None and key != behaviour.api_key:
            self.server.count("401")
            return self._send(401, {"error": {"message": "invalid api key"}})
        if behaviour.rate_limit_every and number % behaviour.rate_limit_every == 0:
            return self._rate_limited()
        if behaviour.error_every and number % behaviour.error_every == 0:
            self.server.count("500")
            return self._send(500, {"error": {"message": "internal error"}})
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise TypeError("the body is not a JSON object")
            if gemini:
                model, conversation = gemini.group(1), body["contents"]
                system = body.get("systemInstruction")
            else:
                model, conversation, system = body["model"], body["messages"], body.get("system")
        except (ValueError, KeyError, TypeError):
            self.server.count("400")
            return self._send(400, _error(protocol, "malformed request"))
        if behaviour.strict_models:
            refusal = _REFUSALS[protocol](model, body)
            if refusal:
                self.server.count("400")
                return self._send(400, _error(protocol, refusal))
        if not self.server.claim_answer():
            self.server.count("401")
            return self._send(401, {"error": {"message": "key revoked"}})
        material = json.dumps([model, system, conversation], sort_keys=True)
        text = GARBAGE if behaviour.garbage_every and number % behaviour.garbage_every == 0 else answer_for(material)
        return self._send(200, _ANSWERS[protocol](number, model, body, text, behaviour))


_GEMINI_ROUTE = re.compile(r"/v1beta/models/([^/:]+):generateContent")
_O_SERIES = re.compile(r"(o[1-9]|gpt-5)([-.].*)?", re.IGNORECASE)
_OPUS_47 = re.compile(r"claude-(opus-4-([7-9]|\d{2})|(opus|sonnet|haiku)-([5-9]|\d{2}))([-.].*)?", re.IGNORECASE)
# generationConfig fields of the Gemini API (GenerationConfig in google-genai); anything else is a 400.
_GEMINI_CONFIG_FIELDS = {
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema", "responseModalities",
    "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed", "presencePenalty",
    "frequencyPenalty", "responseLogprobs", "logprobs", "enableEnhancedCivicAnswers", "speechConfig",
    "thinkingConfig", "mediaResolution",
}


def _error(protocol: str, message: str, status: str = "INVALID_ARGUMENT") -> dict:
    """An error body in the protocol's own shape (the message is what real clients show)."""
    if protocol == "anthropic":
        return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
    if protocol == "gemini":
        return {"error": {"code": 400, "message": message, "status": status}}
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


def _openai_refusal(model: str, body: dict) -> str | None:
    if not _O_SERIES.fullmatch(model):
        return None
    if "max_tokens" in body:
        return "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
    if "temperature" in body and body["temperature"] != 1:
        return (f"Unsupported value: 'temperature' does not support {json.dumps(body['temperature'])} with this model. "
                "Only the default (1) value is supported.")
    if "logprobs" in body:
        return "Unsupported parameter: 'logprobs' is not supported with this model."
    return None


def _anthropic_refusal(model: str, body: dict) -> str | None:
    if "max_tokens" not in body:
        return "max_tokens: Field required"
    thinking = body.get("thinking") or {}
    if _OPUS_47.fullmatch(model):
        if "temperature" in body:
            return "`temperature` is deprecated for this model."
        if thinking.get("type") == "enabled":
            return ('"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
                    '"output_config.effort" to control thinking behavior.')
        return None
    if "temperature" in body and not 0 <= body["temperature"] <= 1:
        return "temperature: range: 0..1"
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= body["max_tokens"]:
            return ("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
                    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
    if thinking.get("type") in ("enabled", "adaptive") and body.get("temperature", 1) != 1:
        return ("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult our "
                "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility")
    return None


def _gemini_refusal(model: str, body: dict) -> str | None:
    config = body.get("generationConfig") or {}
    for name in config:
        if name not in _GEMINI_CONFIG_FIELDS:
            return f'Invalid JSON payload received. Unknown name "{name}" at \'generation_config\': Cannot find field.'
    if "temperature" in config and not 0 <= config["temperature"] <= 2:
        return "* GenerateContentRequest.generation_config.temperature: must be in the range [0.0, 2.0]"
    return None


_REFUSALS = {"openai": _openai_refusal, "anthropic": _anthropic_refusal, "gemini": _gemini_refusal}

_TOKEN = re.compile(r"\s*[^\W_]+|\s*[^\w\s]+|\s+")


def tokens_of(text: str) -> list[str]:
    """The stand-in tokenizer: words with their leading space, and runs of punctuation (``**``, ``"``) on their own."""
    return _TOKEN.findall(text)


def _words(count: int, seed: str) -> list[str]:
    vocabulary = ("the", "response", "values", "helping", "others", "so", "I", "think", "it", "fits", "my", "view")
    start = hashlib.sha256(seed.encode()).digest()[0]
    return [vocabulary[(start + i) % len(vocabulary)] for i in range(count)]


def _limited(text: str, limit: int | None, spent: int = 0) -> tuple[str, bool]:
    """``text`` cut at ``limit`` tokens (one per word), ``spent`` already used; whether it was cut."""
    room = None if limit is None else max(0, limit - spent)
    if room is None or len(text.split()) <= room:
        return text, False
    pieces = re.split(r"(\s+)", text)  # words at even indices, the whitespace between them at odd ones
    kept, count = [], 0
    for index, piece in enumerate(pieces):
        if index % 2 == 0 and piece:
            if count == room:
                break
            count += 1
        kept.append(piece)
    return "".join(kept).rstrip(), True


def _logprobs_content(text: str) -> list[dict]:
    """OpenAI ``logprobs.content`` for ``text``: each literal token, most likely, with one alternative."""
    content = []
    for token in tokens_of(text):
        alternative = "somewhat" if token.strip().lower() != "somewhat" else "very"
        content.append({"token": token, "logprob": math.log(0.9), "bytes": list(token.encode()), "top_logprobs": [
            {"token": token, "logprob": math.log(0.9), "bytes": list(token.encode())},
            {"token": alternative, "logprob": math.log(0.1), "bytes": list(alternative.encode())},
        ]})
    return content


def _openai_answer(number: int, model: str, body: dict, text: str, behaviour: ServerBehaviour) -> dict:
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    hidden = behaviour.reasoning_tokens if _O_SERIES.fullmatch(model) else 0
    if behaviour.think_tokens:
        text = "<think>\n" + " ".join(_words(behaviour.think_tokens, text)) + "\n</think>\n\n" + text
    if limit is not None and hidden >= limit:
        text, cut, hidden = "", True, limit  # the reasoning used every token: the real API answers nothing
    else:
        text, cut = _limited(text, limit, hidden)
    choice = {"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
              "logprobs": None, "finish_reason": "length" if cut else "stop"}
    if body.get("logprobs") and behaviour.logprobs:
        choice["logprobs"] = {"content": _logprobs_content(text), "refusal": None}
    completion_tokens = len(text.split()) + hidden
    return {"id": f"chatcmpl-{number}", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [choice], "usage": {"prompt_tokens": 100, "completion_tokens": completion_tokens,
                                           "total_tokens": 100 + completion_tokens,
                                           "completion_tokens_details": {"reasoning_tokens": hidden}}}


def _anthropic_answer(number: int, model: str, body: dict, text: str, behaviour: ServerBehaviour) -> dict:
    limit = body["max_tokens"]
    blocks, spent = [], 0
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        thought, cut = _limited(" ".join(_words(behaviour.think_tokens or 40, text)), limit)
        blocks.append({"type": "thinking", "thinking": thought, "signature": f"sig{number}"})
        spent = len(thought.split())
    text, cut = _limited(text, limit, spent)
    if text or not cut:
        blocks.append({"type": "text", "text": text})
    return {"id": f"msg_{number}", "type": "message", "role": "assistant", "model": model, "content": blocks,
            "stop_reason": "max_tokens" if cut else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": spent + len(text.split())}}


def _gemini_answer(number: int, model: str, body: dict, text: str, behaviour: ServerBehaviour) -> dict:
    config = body.get("generationConfig") or {}
    limit = config.get("maxOutputTokens")
    budget = (config.get("thinkingConfig") or {}).get("thinkingBudget")
    thoughts = 0 if budget == 0 else behaviour.think_tokens
    parts = []
    if thoughts and (config.get("thinkingConfig") or {}).get("includeThoughts"):
        parts.append({"text": " ".join(_words(thoughts, text)), "thought": True})
    if limit is not None and thoughts >= limit:
        text, cut = "", True
    else:
        text, cut = _limited(text, limit, thoughts)
    if text:
        parts.append({"text": text})
    candidate = {"content": {"role": "model", **({"parts": parts} if parts else {})},
                 "finishReason": "MAX_TOKENS" if cut else "STOP", "index": 0}
    if config.get("responseLogprobs") and behaviour.logprobs:
        tokens = tokens_of(text)
        candidate["logprobsResult"] = {
            "topCandidates": [{"candidates": [{"token": token, "logProbability": math.log(0.9)},
                                              {"token": "somewhat", "logProbability": math.log(0.1)}]}
                              for token in tokens],
            "chosenCandidates": [{"token": token, "logProbability": math.log(0.9)} for token in tokens],
        }
    return {"candidates": [candidate], "usageMetadata": {
        "promptTokenCount": 100, "candidatesTokenCount": len(text.split()), "thoughtsTokenCount": thoughts,
        "totalTokenCount": 100 + len(text.split()) + thoughts}, "modelVersion": model, "responseId": f"resp-{number}"}


_ANSWERS = {"openai": _openai_answer, "anthropic": _anthropic_answer, "gemini": _gemini_answer}


def _real_api_failure(handler: _Handler, number: int, in_flight: int, *, before_latency: bool) -> bool:
    """Answer request ``number`` with one of the real APIs' failures if the behaviour asks for it; True if it did.

    Rejections a real API makes before the model runs (redirect, quota, capacity, immediate 429s)
    come ``before_latency``; failures during generation (529, 52x, a 200 carrying an error) after it.
    The bodies are the vendors' documented shapes.
    """
    behaviour, server = handler.server.behaviour, handler.server
    anthropic = handler.path.rstrip("/").endswith("/messages")
    if before_latency:
        if behaviour.redirect_to:
            server.count("307")
            handler._send(307, {"error": {"message": "moved"}}, {"Location": behaviour.redirect_to})
            return True
        if behaviour.quota_exhausted:
            server.count("quota")
            handler._send(429, {"error": {
                "message": "You exceeded your current quota, please check your plan and billing details. For more "
                           "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "type": "insufficient_quota", "param": None, "code": "insufficient_quota",
            }})
            return True
        if behaviour.capacity and in_flight > behaviour.capacity:
            handler._rate_limited(f"more than {behaviour.capacity} requests at once")
            return True
        if behaviour.immediate_rejections and behaviour.rate_limit_every and number % behaviour.rate_limit_every == 0:
            handler._rate_limited()
            return True
        return False
    if behaviour.overloaded_every and number % behaviour.overloaded_every == 0:
        server.count("529")
        handler._send(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        return True
    if behaviour.proxy_error_every and number % behaviour.proxy_error_every == 0:
        status = behaviour.proxy_status
        server.count(str(status))
        handler._send(status, f"<!DOCTYPE html>\n<html><head><title>api.example.com | {status}: Connection timed out"
                              f"</title></head><body>Error code {status}. Cloudflare Ray ID: 8f1e2d3c4b5a6978</body></html>")
        return True
    if behaviour.error_answer_every and number % behaviour.error_answer_every == 0 and not anthropic:
        server.count("error_answer")
        handler._send(200, {
            "id": f"gen-{number}", "object": "chat.completion", "model": "test", "provider": "Upstream",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "error",
                         "native_finish_reason": "error",
                         "error": {"code": 502, "message": "Upstream provider returned an error"}}],
        })
        return True
    return False


class LLMTestServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 (port 0 = a free port) with request counters."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, behaviour: ServerBehaviour | None = None, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.behaviour = behaviour or ServerBehaviour()
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak_in_flight = 0
        self._thread: threading.Thread | None = None

    def count(self, name: str) -> int:
        with self._lock:
            self.counts[name] += 1
            return self.counts[name]

    @contextmanager
    def in_flight(self):
        """Count a request as being answered while the block runs; yields how many are (this one included)."""
        with self._lock:
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            current = self._in_flight
        try:
            yield current
        finally:
            with self._lock:
                self._in_flight -= 1

    @property
    def requests_in_flight(self) -> int:
        """Requests received and not yet answered (a test waits for 0 before reading or clearing ``counts``)."""
        with self._lock:
            return self._in_flight

    def claim_answer(self) -> bool:
        """Count one answer, unless ``fail_after`` answers were already given (checked and counted atomically)."""
        with self._lock:
            limit = self.behaviour.fail_after
            if limit and self.counts["answered"] >= limit:
                return False
            self.counts["answered"] += 1
            return True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def gemini_base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "LLMTestServer":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="llm-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> "LLMTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve deterministic LLM answers over the OpenAI and Anthropic protocols.")
    parser.add_argument("--port", type=int, default=8089, help="0 = any free port (printed on the first line)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="answer every Nth request with 429")
    parser.add_argument("--retry-after", default="1", help="Retry-After value sent with 429s")
    parser.add_argument("--error-every", type=int, default=0, help="answer every Nth request with 500")
    parser.add_argument("--garbage-every", type=int, default=0, help="answer every Nth request with unparsable text")
    parser.add_argument("--think-tokens", type=int, default=0, help="reason this many tokens before answering")
    parser.add_argument("--reasoning-tokens", type=int, default=0, help="hidden reasoning tokens of o-series models")
    parser.add_argument("--retry-after-ms", help="retry-after-ms value sent with 429s (OpenAI)")
    parser.add_argument("--immediate-rejections", action="store_true",
                        help="send 429s at once instead of after the latency, as a real rate limiter does")
    parser.add_argument("--capacity", type=int, default=0, help="answer 429 when more requests than this are in flight")
    parser.add_argument("--overloaded-every", type=int, default=0, help="answer every Nth request with 529 overloaded")
    parser.add_argument("--proxy-error-every", type=int, default=0, help="answer every Nth request with a Cloudflare 522")
    parser.add_argument("--error-answer-every", type=int, default=0,
                        help="answer every Nth request with HTTP 200 and finish_reason 'error' (OpenRouter)")
    args = parser.parse_args(argv)
    behaviour = ServerBehaviour(
        latency=args.latency, rate_limit_every=args.rate_limit_every, retry_after=args.retry_after,
        error_every=args.error_every, garbage_every=args.garbage_every, think_tokens=args.think_tokens,
        reasoning_tokens=args.reasoning_tokens, retry_after_ms=args.retry_after_ms,
        immediate_rejections=args.immediate_rejections, capacity=args.capacity, overloaded_every=args.overloaded_every,
        proxy_error_every=args.proxy_error_every, error_answer_every=args.error_answer_every,
    )
    server = LLMTestServer(behaviour, port=args.port)
    print(f"serving on {server.base_url} (OpenAI), {server.anthropic_base_url}/v1/messages (Anthropic) and "
          f"{server.gemini_base_url}/v1beta/models/MODEL:generateContent (Gemini)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()

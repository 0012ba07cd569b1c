"""A local stand-in for an LLM API, for tests and ``make bench``: OpenAI chat completions and Anthropic Messages.

It answers each prompt with one of the six phrases chosen by a hash of the messages, so answers
(and therefore scores) are reproducible, and it can misbehave on demand: latency, a 429 with
``Retry-After`` every Nth request, a 500 every Nth request, garbage answers every Nth request,
401 for a wrong key, and permanent failure (401) after a number of successful answers.

Run it standalone: ``python -m benchmark.providers.testserver --port 8089 --latency 0.2``, then
``manage.py run_benchmark --provider openai --base-url http://127.0.0.1:8089/v1 --model test ...``.
"""

import argparse
import hashlib
import json
import math
import threading
import time
from collections import Counter
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
    api_key: str | None = None  # if set, requests must carry it (Bearer or x-api-key)
    logprobs: bool = True


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

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        """``GET /stats``: the request counters, for a server running in another process."""
        if self.path.rstrip("/") != "/stats":
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        with self.server._lock:
            counts = dict(self.server.counts)
        return self._send(200, counts)

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        behaviour = self.server.behaviour
        number = self.server.count("requests")
        if behaviour.latency:
            time.sleep(behaviour.latency)
        anthropic = self.path.rstrip("/").endswith("/messages")
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions", "/v1/messages"):
            self.server.count("404")
            return self._send(404, {"error": {"message": f"no route {self.path}"}})
        key = self.headers.get("x-api-key") or (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if behaviour.api_key is not None and key != behaviour.api_key:
            self.server.count("401")
            return self._send(401, {"error": {"message": "invalid api key"}})
        if behaviour.rate_limit_every and number % behaviour.rate_limit_every == 0:
            self.server.count("429")
            return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": behaviour.retry_after})
        if behaviour.error_every and number % behaviour.error_every == 0:
            self.server.count("500")
            return self._send(500, {"error": {"message": "internal error"}})
        try:
            body = json.loads(raw)
            messages = body["messages"]
            model = body["model"]
        except (ValueError, KeyError, TypeError):
            self.server.count("400")
            return self._send(400, {"error": {"message": "malformed request"}})
        if not self.server.claim_answer():
            self.server.count("401")
            return self._send(401, {"error": {"message": "key revoked"}})
        material = json.dumps([model, body.get("system"), messages], sort_keys=True)
        text = GARBAGE if behaviour.garbage_every and number % behaviour.garbage_every == 0 else answer_for(material)
        if anthropic:
            return self._send(200, {
                "id": f"msg_{number}", "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            })
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if body.get("logprobs") and behaviour.logprobs:
            first = text.strip(" *\"\n").split(" ")[0]
            choice["logprobs"] = {"content": [{"token": first, "logprob": math.log(0.9), "top_logprobs": [
                {"token": first, "logprob": math.log(0.9)}, {"token": "somewhat", "logprob": math.log(0.1)},
            ]}]}
        return self._send(200, {"id": f"chatcmpl-{number}", "object": "chat.completion", "model": model, "choices": [choice]})


class LLMTestServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 (port 0 = a free port) with request counters."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, behaviour: ServerBehaviour | None = None, port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.behaviour = behaviour or ServerBehaviour()
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def count(self, name: str) -> int:
        with self._lock:
            self.counts[name] += 1
            return self.counts[name]

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
    args = parser.parse_args(argv)
    behaviour = ServerBehaviour(
        latency=args.latency, rate_limit_every=args.rate_limit_every, retry_after=args.retry_after,
        error_every=args.error_every, garbage_every=args.garbage_every,
    )
    server = LLMTestServer(behaviour, port=args.port)
    print(f"serving on {server.base_url} (OpenAI) and {server.anthropic_base_url}/v1/messages (Anthropic)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    main()

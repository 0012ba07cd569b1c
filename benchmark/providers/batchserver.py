"""A local stand-in for the providers' batch APIs, for tests: the OpenAI Batch API and Anthropic Message Batches.

It extends :class:`benchmark.providers.testserver.LLMTestServer` (which still answers one-by-one
requests) with the documented batch routes and shapes (see :mod:`benchmark.providers.batches`):

- OpenAI: ``POST /v1/files`` (multipart, ``purpose=batch``), ``POST /v1/batches``,
  ``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content``.
- Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}``,
  ``GET /v1/messages/batches/{id}/results``.

Each request in a batch is answered as the one-by-one route would answer it (same deterministic
phrase, same per-model refusals), so a batch run and a normal run of one model give the same
scores. Knobs (:class:`BatchBehaviour`): how many polls a batch stays in progress, every Nth
request of a batch errored, a batch that fails validation as a whole, a ``results_url`` on a
foreign host. Counters: ``batch_submissions``, ``batch_polls``, ``batch_results``, ``file_uploads``.
"""

import email.parser
import email.policy
import itertools
import json
import re
import time
from dataclasses import dataclass, field

from benchmark.providers.testserver import _ANSWERS, _REFUSALS, LLMTestServer, _error, _Handler, answer_for

CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass
class BatchBehaviour:
    in_progress_polls: int = 1  # status polls answered "in progress" before the batch has ended
    error_every: int = 0  # every Nth request of a batch gets an error result (0: none)
    fail_validation: bool = False  # OpenAI: the batch fails as a whole (status "failed" with errors)
    foreign_results_url: str | None = None  # Anthropic: results_url on another origin (must not be followed)


@dataclass
class _Batch:
    protocol: str
    requests: list[tuple[str, dict]]
    polls: int = 0
    results: bytes | None = None
    errors: bytes | None = None
    counts: dict = field(default_factory=dict)


class _BatchHandler(_Handler):
    server: "BatchTestServer"

    def _authorised(self) -> bool:
        key = self.headers.get("x-api-key") or (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.server.behaviour.api_key is not None and key != self.server.behaviour.api_key:
            self.server.count("401")
            self._send(401, {"error": {"message": "invalid api key"}})
            return False
        return True

    def _send_bytes(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/binary")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        path = self.path.rstrip("/")
        routes = [
            (r"/v1/batches/([\w-]+)", self._openai_status),
            (r"/v1/files/([\w-]+)/content", self._openai_file),
            (r"/v1/messages/batches/([\w-]+)", self._anthropic_status),
            (r"/v1/messages/batches/([\w-]+)/results", self._anthropic_results),
        ]
        for pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match:
                if self._authorised():
                    handler(match.group(1))
                return None
        return super().do_GET()

    def do_POST(self):  # noqa: N802
        path = self.path.rstrip("/")
        handlers = {"/v1/files": self._openai_upload, "/v1/batches": self._openai_create,
                    "/v1/messages/batches": self._anthropic_create}
        if path not in handlers:
            return super().do_POST()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self._authorised():
            handlers[path](raw)
        return None

    # --- OpenAI -----------------------------------------------------------------------------------

    def _openai_upload(self, raw: bytes) -> None:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + (self.headers.get("Content-Type") or "").encode() + b"\r\n\r\n" + raw)
        fields = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                  for part in message.iter_parts()} if message.is_multipart() else {}
        if fields.get("purpose") != b"batch" or not fields.get("file"):
            return self._send(400, _error("openai", "multipart fields 'purpose' (batch) and 'file' are required"))
        file_id = self.server.store_file(fields["file"])
        self.server.count("file_uploads")
        return self._send(200, {"id": file_id, "object": "file", "bytes": len(fields["file"]), "created_at": int(time.time()),
                                "filename": "requests.jsonl", "purpose": "batch", "status": "processed"})

    def _openai_create(self, raw: bytes) -> None:
        body = json.loads(raw)
        content = self.server.files.get(body.get("input_file_id"))
        if content is None:
            return self._send(404, _error("openai", f"No such File object: {body.get('input_file_id')}"))
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return self._send(400, _error("openai", "endpoint must be /v1/chat/completions and completion_window 24h"))
        requests, seen = [], set()
        for line in content.decode().splitlines():
            entry = json.loads(line)
            if entry["custom_id"] in seen or entry.get("url") != "/v1/chat/completions" or entry.get("method") != "POST":
                return self._send(400, _error("openai", f"invalid batch line for custom_id {entry['custom_id']!r}"))
            seen.add(entry["custom_id"])
            requests.append((entry["custom_id"], entry["body"]))
        batch_id = self.server.add_batch(_Batch("openai", requests))
        self.server.count("batch_submissions")
        return self._send(200, self._openai_object(batch_id))

    def _openai_object(self, batch_id: str) -> dict:
        batch = self.server.batches[batch_id]
        status, errors = "validating", None
        if batch.polls > 0:
            status = "in_progress"
        if batch.results is not None:
            status = "completed"
        if batch.counts.get("failed_validation"):
            status, errors = "failed", {"object": "list", "data": [
                {"code": "invalid_request", "message": "The batch input file is not valid.", "param": None, "line": 1}]}
        total = len(batch.requests)
        return {
            "id": batch_id, "object": "batch", "endpoint": "/v1/chat/completions", "errors": errors,
            "input_file_id": "file-in", "completion_window": "24h", "status": status,
            "output_file_id": batch.counts.get("output_file_id"), "error_file_id": batch.counts.get("error_file_id"),
            "created_at": 1700000000, "request_counts": {
                "total": total, "completed": batch.counts.get("completed", 0), "failed": batch.counts.get("failed", 0)},
            "metadata": None,
        }

    def _openai_status(self, batch_id: str) -> None:
        batch = self.server.batches.get(batch_id)
        if batch is None or batch.protocol != "openai":
            return self._send(404, _error("openai", f"No batch with id {batch_id!r}"))
        self.server.count("batch_polls")
        self.server.advance(batch_id)
        return self._send(200, self._openai_object(batch_id))

    def _openai_file(self, file_id: str) -> None:
        content = self.server.files.get(file_id)
        if content is None:
            return self._send(404, _error("openai", f"No such File object: {file_id}"))
        self.server.count("batch_results")
        return self._send_bytes(content)

    # --- Anthropic --------------------------------------------------------------------------------

    def _anthropic_create(self, raw: bytes) -> None:
        body = json.loads(raw)
        requests, seen = [], set()
        for entry in body.get("requests") or []:
            custom_id = entry.get("custom_id") or ""
            if not CUSTOM_ID.fullmatch(custom_id) or custom_id in seen:
                return self._send(400, _error("anthropic", f"requests: custom_id {custom_id!r} must match "
                                                           "^[a-zA-Z0-9_-]{1,64}$ and be unique"))
            seen.add(custom_id)
            requests.append((custom_id, entry.get("params") or {}))
        if not requests:
            return self._send(400, _error("anthropic", "requests: at least one request is required"))
        batch_id = self.server.add_batch(_Batch("anthropic", requests))
        self.server.count("batch_submissions")
        return self._send(200, self._anthropic_object(batch_id))

    def _anthropic_object(self, batch_id: str) -> dict:
        batch = self.server.batches[batch_id]
        ended = batch.results is not None
        base = self.server.batch_behaviour.foreign_results_url or self.server.anthropic_base_url
        return {
            "id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else len(batch.requests),
                               "succeeded": batch.counts.get("completed", 0), "errored": batch.counts.get("failed", 0),
                               "canceled": 0, "expired": 0},
            "ended_at": "2026-12-07T00:00:00Z" if ended else None, "created_at": "2026-12-07T00:00:00Z",
            "expires_at": "2026-12-08T00:00:00Z", "cancel_initiated_at": None,
            "results_url": f"{base}/v1/messages/batches/{batch_id}/results" if ended else None,
        }

    def _anthropic_status(self, batch_id: str) -> None:
        batch = self.server.batches.get(batch_id)
        if batch is None or batch.protocol != "anthropic":
            return self._send(404, _error("anthropic", f"No batch with id {batch_id!r}"))
        self.server.count("batch_polls")
        self.server.advance(batch_id)
        return self._send(200, self._anthropic_object(batch_id))

    def _anthropic_results(self, batch_id: str) -> None:
        batch = self.server.batches.get(batch_id)
        if batch is None or batch.results is None:
            return self._send(404, _error("anthropic", f"batch {batch_id!r} has no results yet"))
        self.server.count("batch_results")
        return self._send_bytes(batch.results)


class BatchTestServer(LLMTestServer):
    """:class:`LLMTestServer` plus the OpenAI and Anthropic batch routes (module docstring)."""

    def __init__(self, behaviour=None, batch_behaviour: BatchBehaviour | None = None, port: int = 0):
        super().__init__(behaviour, port=port)
        self.RequestHandlerClass = _BatchHandler
        self.batch_behaviour = batch_behaviour or BatchBehaviour()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self._ids = itertools.count(1)

    def store_file(self, content: bytes) -> str:
        with self._lock:
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = content
        return file_id

    def add_batch(self, batch: _Batch) -> str:
        with self._lock:
            batch_id = f"{'batch' if batch.protocol == 'openai' else 'msgbatch'}_{next(self._ids)}"
            self.batches[batch_id] = batch
        return batch_id

    def advance(self, batch_id: str) -> None:
        """One status poll: after ``in_progress_polls`` of them the batch has ended and its results exist."""
        with self._lock:
            batch = self.batches[batch_id]
            batch.polls += 1
            if batch.results is not None or batch.polls <= self.batch_behaviour.in_progress_polls:
                return
            if self.batch_behaviour.fail_validation and batch.protocol == "openai":
                batch.counts["failed_validation"] = True
                return
        self._finish(batch)

    def _answer(self, protocol: str, number: int, body: dict) -> tuple[int, dict]:
        model, conversation = body["model"], body["messages"]
        refusal = _REFUSALS[protocol](model, body) if self.behaviour.strict_models else None
        if refusal:
            return 400, _error(protocol, refusal)
        material = json.dumps([model, body.get("system"), conversation], sort_keys=True)
        return 200, _ANSWERS[protocol](number, model, body, answer_for(material), self.behaviour)

    def _finish(self, batch: _Batch) -> None:
        good, bad = [], []
        every = self.batch_behaviour.error_every
        for number, (custom_id, body) in enumerate(batch.requests, start=1):
            status, payload = (500, _error(batch.protocol, "internal error while processing the request")) \
                if every and number % every == 0 else self._answer(batch.protocol, number, body)
            if batch.protocol == "openai":
                line = {"id": f"batch_req_{number}", "custom_id": custom_id,
                        "response": {"status_code": status, "request_id": f"req_{number}", "body": payload}, "error": None}
            elif status == 200:
                line = {"custom_id": custom_id, "result": {"type": "succeeded", "message": payload}}
            else:
                line = {"custom_id": custom_id, "result": {"type": "errored", "error": payload}}
            (good if status == 200 else bad).append(json.dumps(line) + "\n")
        with self._lock:
            batch.counts.update(completed=len(good), failed=len(bad))
            if batch.protocol == "openai":
                batch.counts["output_file_id"] = self._store_locked("".join(good).encode()) if good else None
                batch.counts["error_file_id"] = self._store_locked("".join(bad).encode()) if bad else None
                batch.results = b""
            else:
                batch.results = "".join(good + bad).encode()

    def _store_locked(self, content: bytes) -> str:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = content
        return file_id

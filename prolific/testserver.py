"""A local fake of the Prolific API endpoints the platform uses, for tests and demos.

Runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with a port chosen by the OS. It implements,
as Prolific documents them:

- ``GET  /api/v1/studies/{id}/``                      study detail
- ``GET  /api/v1/studies/{id}/submissions/``          paginated list (``results``, ``_links``, ``meta``)
- ``POST /api/v1/submissions/{id}/transition/``       ``{"action": "APPROVE"|"REJECT", "message", "rejection_category"}``
- ``POST /api/v1/submissions/bulk-approve/``          ``{"study_id", "participant_ids"}`` or ``{"submission_ids"}``
- ``POST /api/v1/submissions/{id}/request-return/``   ``{"request_return_reasons": [...]}``

and their errors: 401 for a wrong token, 404 for unknown ids, 400 for a rejection message under 100
characters or a missing/unknown rejection category, 400 for a transition from a final status, plus
injectable 429s (rate limit with ``Retry-After``, and wallet contention on payment endpoints).
Error bodies use Prolific's envelope ``{"error": {"status", "title", "detail"}}``.

Usage::

    with FakeProlific(token="secret-token") as fake:
        fake.add_study("study1")
        sid = fake.add_submission("study1", "pid1")
        ... point PROLIFIC_API_BASE_URL at fake.url ...
"""

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REJECTION_CATEGORIES = {
    "TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK", "LOW_EFFORT",
    "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER",
}  # fmt: skip
FINAL_STATUSES = {"APPROVED", "REJECTED", "RETURNED", "TIMED-OUT", "SCREENED OUT", "PARTIALLY APPROVED"}
BULK_APPROVE_OK = "The request to bulk approve has been made successfully."
WALLET_CONTENTION = "Too many concurrent payment operations on this workspace's wallet; retry with back-off."


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(status: int, title: str, detail) -> tuple[int, dict, dict]:
    return status, {}, {"error": {"status": status, "title": title, "detail": detail}}


@dataclass
class Fault:
    method: str
    path_pattern: str
    status: int
    headers: dict
    body: object
    remaining: int


@dataclass
class FakeProlificState:
    token: str
    page_size: int
    studies: dict = field(default_factory=dict)
    submissions: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    approve_lag: int = 0
    pending_approvals: dict = field(default_factory=dict)


class FakeProlific:
    def __init__(self, *, token: str = "fake-token-0000", page_size: int = 50):  # noqa: S107
        self.state = FakeProlificState(token=token, page_size=page_size)
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "FakeProlific":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FakeProlific":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- arranging state ------------------------------------------------------------------------------
    def add_study(self, study_id: str, *, name: str = "Value Portrait survey", status: str = "ACTIVE") -> None:
        with self.lock:
            self.state.studies[study_id] = {"id": study_id, "name": name, "internal_name": name, "status": status}

    def add_submission(
        self, study_id: str, participant_id: str, *, status: str = "AWAITING REVIEW", submission_id: str | None = None
    ) -> str:
        submission_id = submission_id or secrets.token_hex(12)
        with self.lock:
            self.state.submissions[submission_id] = {
                "id": submission_id,
                "study_id": study_id,
                "participant_id": participant_id,
                "status": status,
                "started_at": _now(),
                "completed_at": _now() if status not in ("ACTIVE", "RESERVED") else None,
                "return_requested": None,
            }
        return submission_id

    def set_status(self, submission_id: str, status: str) -> None:
        with self.lock:
            self.state.submissions[submission_id]["status"] = status

    def status_of(self, submission_id: str) -> str:
        with self.lock:
            return self.state.submissions[submission_id]["status"]

    def fail_next(
        self, method: str, path_pattern: str, status: int, *, times: int = 1, headers=None, body=None
    ) -> None:
        """The next ``times`` requests whose path matches the regex answer ``status`` instead."""
        body = body if body is not None else {"error": {"status": status, "title": "Injected", "detail": "Injected"}}
        with self.lock:
            self.state.faults.append(Fault(method, path_pattern, status, headers or {}, body, times))

    def rate_limit_next(self, times: int = 1, *, retry_after: str = "0", path_pattern: str = ".*") -> None:
        body = {"error": {"status": 429, "title": "Too Many Requests", "detail": "Request was throttled."}}
        self.fail_next("*", path_pattern, 429, times=times, headers={"Retry-After": retry_after}, body=body)

    def payment_contention_next(self, times: int = 1) -> None:
        """Wallet contention on payment operations: a 429 without Retry-After, as Prolific describes it."""
        body = {"error": {"status": 429, "title": "Too Many Requests", "detail": WALLET_CONTENTION}}
        self.fail_next("POST", r"/submissions/(bulk-approve|[^/]+/transition)/", 429, times=times, body=body)

    def requests_to(self, method: str, pattern: str) -> list[dict]:
        with self.lock:
            return [r for r in self.state.requests if r["method"] == method and re.search(pattern, r["path"])]

    # -- request handling (called by the handler, under the lock) ------------------------------------
    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, dict, object]:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return _error(400, "Bad Request", "Body is not valid JSON.")
        with self.lock:
            state = self.state
            state.requests.append({"method": method, "path": path, "query": query, "json": payload})
            if headers.get("Authorization") != f"Token {state.token}":
                return _error(401, "Unauthorized", "Invalid token.")
            for fault in state.faults:
                if fault.remaining > 0 and fault.method in ("*", method) and re.search(fault.path_pattern, path):
                    fault.remaining -= 1
                    return fault.status, fault.headers, fault.body
            return self._route(method, path, query, payload)

    def _route(self, method, path, query, payload):
        if method == "GET" and (m := re.fullmatch(r"/api/v1/studies/([^/]+)/", path)):
            study = self.state.studies.get(m[1])
            return (200, {}, study) if study else _error(404, "Not Found", "Study not found.")
        if method == "GET" and (m := re.fullmatch(r"/api/v1/studies/([^/]+)/submissions/", path)):
            return self._list(m[1], query)
        if method == "POST" and path == "/api/v1/submissions/bulk-approve/":
            return self._bulk_approve(payload)
        if method == "POST" and (m := re.fullmatch(r"/api/v1/submissions/([^/]+)/transition/", path)):
            return self._transition(m[1], payload)
        if method == "POST" and (m := re.fullmatch(r"/api/v1/submissions/([^/]+)/request-return/", path)):
            return self._request_return(m[1], payload)
        return _error(404, "Not Found", f"No route for {method} {path}.")

    def _list(self, study_id, query):
        if study_id not in self.state.studies:
            return _error(404, "Not Found", "Study not found.")
        self._advance_pending_approvals()
        rows = [s for s in self.state.submissions.values() if s["study_id"] == study_id]
        offset = int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", [str(self.state.page_size)])[0]), self.state.page_size)
        page = rows[offset : offset + limit]
        base = f"{self.url}/api/v1/studies/{study_id}/submissions/"
        next_href = f"{base}?offset={offset + limit}&limit={limit}" if offset + limit < len(rows) else None
        prev_href = f"{base}?offset={max(offset - limit, 0)}&limit={limit}" if offset > 0 else None
        body = {
            "results": [self._public(s) for s in page],
            "_links": {
                "self": {"href": f"{base}?offset={offset}&limit={limit}", "title": "Current"},
                "next": {"href": next_href, "title": "Next"},
                "previous": {"href": prev_href, "title": "Previous"},
                "last": {"href": f"{base}?offset={max(len(rows) - limit, 0)}&limit={limit}", "title": "Last"},
            },
            "meta": {"count": len(rows)},
        }
        return 200, {}, body

    @staticmethod
    def _public(s: dict) -> dict:
        return {
            "id": s["id"],
            "participant_id": s["participant_id"],
            "status": s["status"],
            "started_at": s["started_at"],
            "completed_at": s["completed_at"],
            "return_requested": s["return_requested"],
        }

    def _advance_pending_approvals(self):
        for sid in list(self.state.pending_approvals):
            self.state.pending_approvals[sid] -= 1
            if self.state.pending_approvals[sid] <= 0:
                self.state.submissions[sid]["status"] = "APPROVED"
                del self.state.pending_approvals[sid]

    def _transition(self, submission_id, payload):
        sub = self.state.submissions.get(submission_id)
        if sub is None:
            return _error(404, "Not Found", "Submission not found.")
        if not isinstance(payload, dict) or payload.get("action") not in ("APPROVE", "REJECT"):
            return _error(400, "Bad Request", {"action": ["This fake supports APPROVE and REJECT."]})
        action = payload["action"]
        if action == "REJECT":
            message = payload.get("message") or ""
            if len(message) < 100:
                return _error(400, "Bad Request", {"message": ["Message must be at least 100 characters long."]})
            if payload.get("rejection_category") not in REJECTION_CATEGORIES:
                return _error(400, "Bad Request", {"rejection_category": ["A valid rejection category is required."]})
        target = "APPROVED" if action == "APPROVE" else "REJECTED"
        if sub["status"] == target:
            return 200, {}, self._public(sub)  # Prolific ignores a repeated identical transition
        if sub["status"] != "AWAITING REVIEW":
            return _error(400, "Bad Request", f"Cannot transition a submission from {sub['status']} to {target}.")
        sub["status"] = target
        return 200, {}, self._public(sub)

    def _bulk_approve(self, payload):
        if not isinstance(payload, dict):
            return _error(400, "Bad Request", "Expected a JSON object.")
        if "submission_ids" in payload:
            targets = [self.state.submissions.get(i) for i in payload["submission_ids"]]
        elif "study_id" in payload and "participant_ids" in payload:
            by_pid = {
                s["participant_id"]: s for s in self.state.submissions.values() if s["study_id"] == payload["study_id"]
            }
            targets = [by_pid.get(p) for p in payload["participant_ids"]]
        else:
            return _error(400, "Bad Request", "Provide study_id and participant_ids, or submission_ids.")
        if any(t is None for t in targets):
            return _error(400, "Bad Request", f"{sum(t is None for t in targets)} ids do not belong to the study.")
        for sub in targets:
            if sub["status"] == "AWAITING REVIEW":
                if self.state.approve_lag > 0:
                    sub["status"] = "PROCESSING"
                    self.state.pending_approvals[sub["id"]] = self.state.approve_lag
                else:
                    sub["status"] = "APPROVED"
        return 200, {}, BULK_APPROVE_OK

    def _request_return(self, submission_id, payload):
        sub = self.state.submissions.get(submission_id)
        if sub is None:
            return _error(404, "Not Found", "Submission not found.")
        reasons = payload.get("request_return_reasons") if isinstance(payload, dict) else None
        if not reasons or not isinstance(reasons, list) or not all(isinstance(r, str) and r for r in reasons):
            return _error(400, "Bad Request", {"request_return_reasons": ["A list of reasons is required."]})
        if sub["status"] in FINAL_STATUSES:
            return _error(400, "Bad Request", f"Cannot request a return of a {sub['status']} submission.")
        sub["return_requested"] = _now()
        return 200, {}, {
            "id": sub["id"], "status": sub["status"], "participant": sub["participant_id"],
            "return_requested": sub["return_requested"],
        }  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProlific

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.fake.handle(method, self.path, self.headers, body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (stdlib naming)
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")

    def log_message(self, format, *args):  # keep test output quiet
        pass

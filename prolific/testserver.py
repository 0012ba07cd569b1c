"""A local fake of the Prolific API endpoints the platform uses, for tests and demos.

Runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with a port chosen by the OS. It implements,
as Prolific documents them:

- ``GET  /api/v1/studies/{id}/``                      study detail
- ``GET  /api/v1/studies/{id}/submissions/``          paginated list (``results``, ``_links``, ``meta``)
- ``POST /api/v1/submissions/{id}/transition/``       ``{"action": "APPROVE"|"REJECT", "message", "rejection_category"}``
- ``POST /api/v1/submissions/bulk-approve/``          ``{"study_id", "participant_ids"}`` or ``{"submission_ids"}``
- ``POST /api/v1/submissions/{id}/request-return/``   ``{"request_return_reasons": [...]}``
- ``POST /api/v1/hooks/secrets/``                     ``{"workspace_id"}`` -> 201 ``{"id", "value", "workspace_id"}``
  (replaces the workspace's previous secret: one per workspace)
- ``GET  /api/v1/hooks/subscriptions/?workspace_id=`` ``{"results": [...]}``
- ``POST /api/v1/hooks/subscriptions/``               ``{"event_type", "target_url", "workspace_id"}`` -> 201, the
  subscription (``is_enabled: false``) and the one-time ``X-Hook-Secret`` response header; refused without a
  workspace secret or with a target URL that is not https (unless ``allow_http_targets``)
- ``POST /api/v1/hooks/subscriptions/{id}/``          ``{"secret": <X-Hook-Secret>}`` confirms (``is_enabled: true``)

``deliver`` / ``deliver_status_change`` send events as Prolific does — only to confirmed subscriptions,
signed with the workspace's current secret (``X-Prolific-Request-Signature`` = base64 HMAC-SHA256 of
``X-Prolific-Request-Timestamp`` + body) with ``X-Event-ID`` and ``X-Timestamp``.

and their errors: 401 for a wrong token, 404 for unknown ids, 400 for a rejection message under 100
characters or a missing/unknown rejection category, 400 for a transition from a final status, plus
injectable 429s (rate limit with ``Retry-After``, and wallet contention on payment endpoints), any
injected answer (e.g. a 302 redirect), bulk approvals that are accepted but never applied
(``bulk_approve_applies = False``), and requests applied but answered only after the client gave up
(``stall_after_applying``).
Error bodies use Prolific's envelope ``{"error": {"status", "title", "detail"}}``.

Usage::

    with FakeProlific(token="secret-token") as fake:
        fake.add_study("study1")
        sid = fake.add_submission("study1", "pid1")
        ... point PROLIFIC_API_BASE_URL at fake.url ...
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

REJECTION_CATEGORIES = {
    "TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK", "LOW_EFFORT",
    "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER",
}  # fmt: skip
FINAL_STATUSES = {"APPROVED", "REJECTED", "RETURNED", "TIMED-OUT", "SCREENED OUT", "PARTIALLY APPROVED"}
BULK_APPROVE_OK = "The request to bulk approve has been made successfully."
DEFAULT_WORKSPACE = "63722982f9cc073ecc730f6b"
STALL_MAX_SECONDS = 10.0
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
    bulk_approve_applies: bool = True
    stalls: list = field(default_factory=list)
    workspaces: set = field(default_factory=set)
    hook_secrets: dict = field(default_factory=dict)  # workspace id -> {"id", "value", "workspace_id"}
    subscriptions: dict = field(default_factory=dict)  # id -> subscription, with its "_hook_secret"
    allow_http_targets: bool = False
    deliveries: list = field(default_factory=list)


class FakeProlific:
    def __init__(
        self, *, token: str = "fake-token-0000", page_size: int = 50, workspace_id: str = DEFAULT_WORKSPACE  # noqa: S107
    ):
        self.state = FakeProlificState(token=token, page_size=page_size, workspaces={workspace_id})
        self.workspace_id = workspace_id
        self.lock = threading.Lock()
        self.release = threading.Event()  # lets stalled answers go (set on stop)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> "FakeProlific":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
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
    def add_study(
        self, study_id: str, *, name: str = "Value Portrait survey", status: str = "ACTIVE", workspace_id: str | None = None
    ) -> None:
        with self.lock:
            self.state.studies[study_id] = {"id": study_id, "name": name, "internal_name": name, "status": status}
            self.state.studies[study_id]["_workspace"] = workspace_id or self.workspace_id

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

    def stall_after_applying(self, method: str, path_pattern: str, *, times: int = 1) -> None:
        """The next ``times`` matching requests are applied, but their answer waits until ``release`` is set
        (or ``STALL_MAX_SECONDS``): a client with a shorter timeout sees a timeout after Prolific acted."""
        with self.lock:
            self.state.stalls.append(Fault(method, path_pattern, 0, {}, None, times))

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
            answer = self._route(method, path, query, payload)
            stall = next((f for f in state.stalls if f.remaining > 0 and f.method in ("*", method)
                          and re.search(f.path_pattern, path)), None)  # fmt: skip
            if stall is not None:
                stall.remaining -= 1
        if stall is not None:  # applied; the answer comes late, outside the lock
            self.release.wait(STALL_MAX_SECONDS)
        return answer

    def _route(self, method, path, query, payload):
        if method == "GET" and (m := re.fullmatch(r"/api/v1/studies/([^/]+)/", path)):
            study = self.state.studies.get(m[1])
            if study is None:
                return _error(404, "Not Found", "Study not found.")
            return 200, {}, {k: v for k, v in study.items() if not k.startswith("_")}
        if method == "GET" and (m := re.fullmatch(r"/api/v1/studies/([^/]+)/submissions/", path)):
            return self._list(m[1], query)
        if method == "POST" and path == "/api/v1/submissions/bulk-approve/":
            return self._bulk_approve(payload)
        if method == "POST" and (m := re.fullmatch(r"/api/v1/submissions/([^/]+)/transition/", path)):
            return self._transition(m[1], payload)
        if method == "POST" and (m := re.fullmatch(r"/api/v1/submissions/([^/]+)/request-return/", path)):
            return self._request_return(m[1], payload)
        if method == "POST" and path == "/api/v1/hooks/secrets/":
            return self._hook_secret_create(payload)
        if method == "GET" and path == "/api/v1/hooks/subscriptions/":
            workspace = query.get("workspace_id", [None])[0]
            rows = [self._subscription_public(s) for s in self.state.subscriptions.values()
                    if workspace is None or s["workspace_id"] == workspace]  # fmt: skip
            return 200, {}, {"results": rows}
        if method == "POST" and path == "/api/v1/hooks/subscriptions/":
            return self._subscription_create(payload)
        if method == "POST" and (m := re.fullmatch(r"/api/v1/hooks/subscriptions/([^/]+)/", path)):
            return self._subscription_confirm(m[1], payload)
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
            if sub["status"] == "AWAITING REVIEW" and self.state.bulk_approve_applies:
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


    # -- webhooks ------------------------------------------------------------------------------------------
    def _hook_secret_create(self, payload):
        workspace = payload.get("workspace_id") if isinstance(payload, dict) else None
        if workspace not in self.state.workspaces:
            return _error(404, "Not Found", "Workspace not found.")
        secret = {"id": secrets.token_hex(12), "value": secrets.token_urlsafe(32), "workspace_id": workspace}
        self.state.hook_secrets[workspace] = secret  # replaces the previous one
        return 201, {}, dict(secret)

    @staticmethod
    def _subscription_public(sub: dict) -> dict:
        return {k: v for k, v in sub.items() if not k.startswith("_")}

    def _subscription_create(self, payload):
        if not isinstance(payload, dict) or not all(payload.get(k) for k in ("event_type", "target_url", "workspace_id")):
            return _error(400, "Bad Request", "event_type, target_url and workspace_id are required.")
        workspace, target = payload["workspace_id"], str(payload["target_url"])
        if workspace not in self.state.workspaces:
            return _error(404, "Not Found", "Workspace not found.")
        if workspace not in self.state.hook_secrets:
            return _error(400, "Bad Request", "Create a secret for the workspace before subscribing.")
        if payload["event_type"] not in ("submission.status.change", "study.status.change"):
            return _error(400, "Bad Request", {"event_type": [f"Unknown event type {payload['event_type']}."]})
        if not target.startswith("https://") and not (self.state.allow_http_targets and target.startswith("http://")):
            return _error(400, "Bad Request", {"target_url": ["The target URL must use https://."]})
        sub = {
            "id": secrets.token_hex(12), "event_type": payload["event_type"], "target_url": target,
            "workspace_id": workspace, "is_enabled": False, "_hook_secret": secrets.token_hex(16),
        }  # fmt: skip
        self.state.subscriptions[sub["id"]] = sub
        return 201, {"X-Hook-Secret": sub["_hook_secret"]}, self._subscription_public(sub)

    def _subscription_confirm(self, subscription_id, payload):
        sub = self.state.subscriptions.get(subscription_id)
        if sub is None:
            return _error(404, "Not Found", "Subscription not found.")
        secret = payload.get("secret") if isinstance(payload, dict) else None
        if not secret or not hmac.compare_digest(str(secret), sub["_hook_secret"]):
            return _error(400, "Bad Request", {"secret": ["The secret does not match this subscription's X-Hook-Secret."]})
        sub["is_enabled"] = True
        return 200, {}, self._subscription_public(sub)

    def deliver(self, event_type: str, payload: dict, *, workspace_id: str | None = None) -> list[httpx.Response]:
        """Send one event to every confirmed subscription of the workspace for ``event_type``, as Prolific does."""
        workspace = workspace_id or self.workspace_id
        with self.lock:
            targets = [s["target_url"] for s in self.state.subscriptions.values()
                       if s["workspace_id"] == workspace and s["event_type"] == event_type and s["is_enabled"]]  # fmt: skip
            secret = self.state.hook_secrets.get(workspace, {}).get("value")
        body = json.dumps(payload).encode()
        answers = []
        for target in targets:
            timestamp = str(int(time.time()))
            signature = base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest())
            headers = {
                "Content-Type": "application/json",
                "X-Prolific-Request-Signature": signature.decode(),
                "X-Prolific-Request-Timestamp": timestamp,
                "X-Event-ID": secrets.token_hex(12),
                "X-Timestamp": timestamp,
            }
            answer = httpx.post(target, content=body, headers=headers, timeout=10, follow_redirects=False)
            with self.lock:
                self.state.deliveries.append({"target_url": target, "status": answer.status_code, "payload": payload})
            answers.append(answer)
        return answers

    def deliver_status_change(self, submission_id: str) -> list[httpx.Response]:
        """A ``submission.status.change`` event for the submission's current status."""
        with self.lock:
            sub = self.state.submissions[submission_id]
            workspace = self.state.studies[sub["study_id"]]["_workspace"]
            payload = {"resource_id": sub["id"], "event_type": "submission.status.change",
                       "participant_id": sub["participant_id"], "status": sub["status"]}  # fmt: skip
        return self.deliver("submission.status.change", payload, workspace_id=workspace)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that gave up on a stalled answer is expected; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProlific

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.fake.handle(method, self.path, self.headers, body)
        data = json.dumps(payload).encode() if payload is not None else b""
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

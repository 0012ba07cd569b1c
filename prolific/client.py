"""The Prolific REST API client: every outbound call goes through ``ProlificClient.request``.

``request`` sets the ``Authorization: Token <token>`` header, applies timeouts, retries with
exponential backoff and jitter on 429 (rate limit or wallet contention, honouring ``Retry-After``),
on 502/503/504 and on network errors, and logs every attempt to ``ApiCall`` without the token and
with submission ids replaced by a keyed hash. Errors surface as ``ProlificError`` subclasses whose
messages a researcher can act on. Only 2xx answers are successes: redirects are not followed and
count as errors (a redirected POST would lose its body or land somewhere else).

A request that is not safe to repeat (``idempotent=False``: a return request messages the
participant) is retried only when it cannot have reached Prolific (no connection, 429, 503); when
it may have arrived but no answer came, ``ProlificOutcomeUnknown`` is raised and the caller finds
out from Prolific's own state whether it was applied.
"""

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from prolific.models import ApiCall
from prolific.redaction import redact_prolific_ids

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = {429, 502, 503, 504}
# Answers given before the request was processed: safe to retry even for a request that must not run twice.
RETRYABLE_UNSAFE_STATUSES = {429, 503}
# Transport errors raised before any byte of the request was sent.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
BULK_APPROVE_BATCH = 1000  # Prolific recommends at most 1,000 ids per bulk-approve call
SUBMISSIONS_PAGE_SIZE = 200


class ProlificError(Exception):
    """A call to Prolific failed; the message says what to do about it."""

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class ProlificAuthError(ProlificError):
    pass


class ProlificNotFound(ProlificError):
    pass


class ProlificRejected(ProlificError):
    """Prolific refused the request as invalid (400/422)."""


class ProlificUnavailable(ProlificError):
    """Still rate-limited, contended or unreachable after every retry."""


class ProlificOutcomeUnknown(ProlificError):
    """A request that is not safe to repeat may have reached Prolific, but no answer came: not retried."""


class ProlificRedirected(ProlificError):
    """Prolific answered 3xx; redirects are never followed."""


MSG_OUTCOME_UNKNOWN = (
    "No answer came from Prolific to {method} {path} ({error}); it may or may not have been applied. It was not "
    "sent again, so that nothing happens twice: the next reconcile shows whether Prolific applied it."
)
MSG_REDIRECTED = (
    "Prolific answered {status} (a redirect to {location}) to {method} {path}. Redirects are not followed: check that "
    "PROLIFIC_API_BASE_URL ({base_url}) is Prolific's API address, https://api.prolific.com."
)
MSG_AUTH_REFUSED = (
    "Prolific refused the API token ({status}): it is wrong, deleted or lacks access to this study. "
    "Create a token under Prolific > API tokens and enter it again on the study's Prolific page."
)


def _error_detail(response: httpx.Response) -> str:
    """Prolific's error text: ``{"error": {"detail": ...}}``, DRF's ``{"detail": ...}`` or the raw body.

    Prolific ids in it are replaced by keyed hashes (see ``redact_prolific_ids``).
    """
    return redact_prolific_ids(_raw_error_detail(response))


def _raw_error_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            detail = error.get("detail") or error.get("title") or error
            if isinstance(detail, dict | list):
                return "; ".join(f"{k}: {v}" for k, v in detail.items()) if isinstance(detail, dict) else str(detail)
            return str(detail)[:300]
    return str(body)[:300]


@dataclass
class Page:
    results: list[dict]
    next_url: str | None
    count: int | None


class ProlificClient:
    def __init__(
        self,
        *,
        token: str,
        study=None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_attempts: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not token:
            raise ProlificAuthError("No Prolific API token is configured for this study.")
        self.base_url = (base_url or settings.PROLIFIC_API_BASE_URL).rstrip("/")
        self.study = study
        self.max_attempts = max_attempts or settings.PROLIFIC_MAX_ATTEMPTS
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout or settings.PROLIFIC_HTTP_TIMEOUT_SECONDS,
            headers={"Authorization": f"Token {token}", "Accept": "application/json"},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the one function for all outbound HTTP ------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        log_path: str | None = None,
        subject: str = "",
        idempotent: bool = True,
    ) -> Any:
        """Send one API request with retries; return the decoded JSON body.

        ``log_path`` is the path as it may appear in the log (ids replaced); ``subject`` a
        pseudonymised description of whom the call concerns. With ``idempotent=False`` the request
        is retried only when it cannot have been processed (see the module docstring).
        """
        return self.request_with_headers(
            method, path, json=json, params=params, log_path=log_path, subject=subject, idempotent=idempotent
        )[0]

    def request_with_headers(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        log_path: str | None = None,
        subject: str = "",
        idempotent: bool = True,
    ) -> tuple[Any, httpx.Headers]:
        """``request``, also returning the answer's headers (Prolific sends some results only there)."""
        log_path = log_path or path
        for attempt in range(1, self.max_attempts + 1):
            started = time.monotonic()
            try:
                response = self._http.request(method, path, json=json, params=params)
            except httpx.TransportError as exc:
                self._log(method, log_path, subject, None, attempt, started, f"{type(exc).__name__}")
                if not idempotent and not isinstance(exc, NOT_SENT_ERRORS):
                    raise ProlificOutcomeUnknown(
                        MSG_OUTCOME_UNKNOWN.format(method=method, path=log_path, error=type(exc).__name__)
                    ) from None
                if attempt == self.max_attempts:
                    raise ProlificUnavailable(
                        f"Could not reach Prolific at {self.base_url} after {attempt} attempts ({type(exc).__name__})."
                    ) from None
                self._sleep(self._backoff(attempt, None))
                continue
            status = response.status_code
            if 200 <= status < 300:
                self._log(method, log_path, subject, status, attempt, started, "")
                return (response.json() if response.content else None), response.headers
            if 300 <= status < 400:
                location = redact_prolific_ids(response.headers.get("Location", "nowhere given"))[:200]
                message = MSG_REDIRECTED.format(
                    status=status, location=location, method=method, path=log_path, base_url=self.base_url
                )
                self._log(method, log_path, subject, status, attempt, started, f"redirect to {location}")
                raise ProlificRedirected(message, status_code=status)
            detail = _error_detail(response)
            self._log(method, log_path, subject, status, attempt, started, detail)
            retryable = RETRYABLE_STATUSES if idempotent else RETRYABLE_UNSAFE_STATUSES
            if status in retryable and attempt < self.max_attempts:
                self._sleep(self._backoff(attempt, response.headers.get("Retry-After")))
                continue
            if not idempotent and status in RETRYABLE_STATUSES - RETRYABLE_UNSAFE_STATUSES:
                raise ProlificOutcomeUnknown(
                    MSG_OUTCOME_UNKNOWN.format(method=method, path=log_path, error=f"{status}: {detail}"),
                    status_code=status,
                )
            raise self._error_for(status, detail, method, log_path, attempt)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def _error_for(self, status: int, detail: str, method: str, path: str, attempt: int) -> ProlificError:
        if status in (401, 403):
            return ProlificAuthError(MSG_AUTH_REFUSED.format(status=status), status_code=status)
        if status == 404:
            return ProlificNotFound(f"Prolific has no such resource: {method} {path} ({detail}).", status_code=404)
        if status in RETRYABLE_STATUSES:
            return ProlificUnavailable(
                f"Prolific kept answering {status} ({detail}) after {attempt} attempts; try again in a few minutes.",
                status_code=status,
            )
        if status in (400, 422):
            return ProlificRejected(f"Prolific refused {method} {path}: {detail}", status_code=status)
        return ProlificError(f"Prolific answered {status} to {method} {path}: {detail}", status_code=status)

    @staticmethod
    def _backoff(attempt: int, retry_after: str | None) -> float:
        cap = settings.PROLIFIC_RETRY_MAX_SECONDS
        if retry_after:
            try:
                return min(float(retry_after), cap)
            except ValueError:
                pass  # an HTTP-date: fall back to exponential backoff
        base = settings.PROLIFIC_RETRY_BASE_SECONDS * (2 ** (attempt - 1))
        return min(base, cap) * (0.5 + random.random() / 2)  # jitter: spread simultaneous retries

    def _log(self, method, path, subject, status, attempt, started, error) -> None:
        duration_ms = int((time.monotonic() - started) * 1000)
        ApiCall.objects.create(
            study=self.study,
            method=method,
            path=path[:300],
            subject=subject[:200],
            status_code=status,
            attempt=attempt,
            duration_ms=duration_ms,
            error=error[:300],
        )
        logger.info("prolific %s %s attempt=%s status=%s %sms", method, path, attempt, status, duration_ms)

    # -- endpoints --------------------------------------------------------------------------------
    def study_get(self, prolific_study_id: str) -> dict:
        return self.request("GET", f"/api/v1/studies/{prolific_study_id}/", subject="study")

    def submissions_list(self, prolific_study_id: str) -> list[dict]:
        """Every submission of a study, following Prolific's ``_links.next.href`` pagination."""
        path = f"/api/v1/studies/{prolific_study_id}/submissions/"
        params: dict | None = {"limit": SUBMISSIONS_PAGE_SIZE, "offset": 0}
        results: list[dict] = []
        seen_pages = 0
        while path:
            body = self.request("GET", path, params=params, log_path=path.split("?")[0], subject="study submissions")
            page = self._page(body)
            results.extend(page.results)
            seen_pages += 1
            if not page.next_url or not page.results or seen_pages > 10_000:
                break
            # The next link is absolute; keep only path and query so calls stay on our base URL and client.
            next_url = httpx.URL(page.next_url)
            path = next_url.raw_path.decode()
            params = None
        return results

    @staticmethod
    def _page(body: Any) -> Page:
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ProlificError("Prolific's submissions list had no 'results' list; the API may have changed.")
        links = body.get("_links") or {}
        next_link = links.get("next") or {}
        next_url = next_link.get("href") if isinstance(next_link, dict) else None
        meta = body.get("meta") or {}
        return Page(results=body["results"], next_url=next_url, count=meta.get("count"))

    def submission_transition(
        self,
        submission_id: str,
        *,
        action: str,
        subject: str,
        message: str | None = None,
        rejection_category: str | None = None,
    ) -> dict:
        payload: dict[str, Any] = {"action": action}
        if message is not None:
            payload["message"] = message
        if rejection_category is not None:
            payload["rejection_category"] = rejection_category
        return self.request(
            "POST",
            f"/api/v1/submissions/{submission_id}/transition/",
            json=payload,
            log_path="/api/v1/submissions/{submission_id}/transition/",
            subject=subject,
        )

    def submissions_bulk_approve(self, submission_ids: Iterable[str]) -> Any:
        """Approve many submissions in one call, by submission id (the variant Prolific recommends).

        Prolific accepts the batch and applies it asynchronously: a 200 is not yet an approval.
        """
        ids = list(submission_ids)
        return self.request(
            "POST",
            "/api/v1/submissions/bulk-approve/",
            json={"submission_ids": ids},
            subject=f"{len(ids)} submissions",
        )

    def submission_request_return(self, submission_id: str, *, reasons: list[str], subject: str) -> dict:
        return self.request(
            "POST",
            f"/api/v1/submissions/{submission_id}/request-return/",
            json={"request_return_reasons": reasons},
            log_path="/api/v1/submissions/{submission_id}/request-return/",
            subject=subject,
            idempotent=False,  # each accepted request messages the participant
        )

    # -- webhooks (Prolific's "Subscribing" steps) ----------------------------------------------------------
    def hook_secret_create(self, workspace_id: str) -> str:
        """Create (or replace: one per workspace) the workspace's signing secret; returns its value."""
        body = self.request("POST", "/api/v1/hooks/secrets/", json={"workspace_id": workspace_id}, subject="workspace")
        value = body.get("value") if isinstance(body, dict) else None
        if not value:
            raise ProlificError("Prolific's answer to creating a webhook secret had no 'value'; the API may have changed.")
        return value

    def hook_subscriptions_list(self, workspace_id: str) -> list[dict]:
        body = self.request(
            "GET", "/api/v1/hooks/subscriptions/", params={"workspace_id": workspace_id}, subject="workspace"
        )
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ProlificError("Prolific's subscription list had no 'results' list; the API may have changed.")
        return body["results"]

    def hook_subscription_create(self, *, workspace_id: str, event_type: str, target_url: str) -> tuple[dict, str]:
        """Create a subscription; returns it and the one-time ``X-Hook-Secret`` that confirms it.

        The ``X-Hook-Secret`` comes as a header of this answer and is not the signing secret. The body
        is the subscription itself (as the official CLI reads it) or, as the reference's example shows,
        ``{"results": [...]}``; both are read.
        """
        body, headers = self.request_with_headers(
            "POST", "/api/v1/hooks/subscriptions/",
            json={"event_type": event_type, "target_url": target_url, "workspace_id": workspace_id},
            subject="workspace",
        )  # fmt: skip
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            matching = [r for r in body["results"] if isinstance(r, dict) and r.get("target_url") == target_url
                        and r.get("event_type") == event_type]  # fmt: skip
            body = matching[-1] if matching else None
        if not isinstance(body, dict) or not body.get("id"):
            raise ProlificError("Prolific's answer to creating a subscription had no subscription id; the API may have changed.")
        hook_secret = headers.get("X-Hook-Secret", "")
        if not hook_secret:
            raise ProlificError(
                "Prolific created the subscription but its answer had no X-Hook-Secret header, which confirming it needs. "
                "Delete the unconfirmed subscription on Prolific and subscribe again."
            )
        return body, hook_secret

    def hook_subscription_confirm(self, subscription_id: str, hook_secret: str) -> dict:
        """Confirm a subscription with the ``X-Hook-Secret`` its creation answered; returns the subscription."""
        body = self.request(
            "POST", f"/api/v1/hooks/subscriptions/{subscription_id}/", json={"secret": hook_secret},
            log_path="/api/v1/hooks/subscriptions/{subscription_id}/", subject="subscription",
        )  # fmt: skip
        if not isinstance(body, dict):
            raise ProlificError("Prolific's answer to confirming the subscription was not an object; the API may have changed.")
        return body

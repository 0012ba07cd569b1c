"""The one function that sends a provider request: timeouts and the retry policy by meaning live here.

What each answer means, as the official SDKs (openai-python, anthropic-sdk-python) and the vendors'
documentation describe it:

- ``x-should-retry: true`` / ``false`` (Anthropic, OpenAI) is the server's own verdict and wins over
  the status code -- except that an exhausted quota is never retried (below).
- 408, 409, 429 and every 5xx are transient and retried: overload (529 Anthropic, 503), proxy errors
  (Cloudflare's 520-524), rate limits.
- A 429 whose error code or type is ``insufficient_quota`` ("You exceeded your current quota") is the
  account's monthly cap, not a rate limit: the run fails at once with :class:`QuotaExhausted`.
- Every other 4xx (400 invalid request, 401, 403, 404 ...) is permanent; so is a 3xx: redirects are
  not followed (the address guard checked only the first host) and a moved endpoint is a
  configuration error.
- A 200 that carries an error (OpenRouter: ``choices[0].finish_reason == "error"`` and/or an
  ``error`` object) is a failed generation, retried like a 5xx -- never an answer to cache.
"""

import datetime
import email.utils
import json
import time

import aiohttp

from benchmark.providers.base import PermanentProviderError, ProviderError
from benchmark.providers.netguard import BlockedAddress

RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every status >= 500
OVERLOAD_STATUS = frozenset({429, 503, 529})  # the server asks for less load: adaptive concurrency backs off
QUOTA_CODES = frozenset({"insufficient_quota"})


class QuotaExhausted(PermanentProviderError):
    """The account's quota or spending cap is used up: no retry helps until someone adds credit."""


class RequestTimedOut(ProviderError):
    """No complete answer within the timeout (retryable; a sign of overload for adaptive concurrency)."""


def parse_retry_after(headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI), ``Retry-After`` seconds or an HTTP date; None if absent or unreadable.

    ``headers`` is any mapping with a case-insensitive ``get`` (aiohttp's, httpx's).
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: the caller falls back to its own backoff
    if parsed.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one must not be read as local time
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return max(0.0, parsed.timestamp() - time.time())


def _decoded(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _error_object(payload) -> dict | None:
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else None


def _error_detail(payload, raw: bytes) -> str:
    error = _error_object(payload)
    if error is not None:
        return str(error.get("message") or error)[:200]
    if isinstance(payload, dict) and payload.get("error"):
        return str(payload["error"])[:200]
    if payload is not None:
        return str(payload)[:200]
    return " ".join(raw[:400].decode("utf-8", "replace").split())[:200]


def _is_quota_exhausted(payload) -> bool:
    error = _error_object(payload)
    if error is None:
        return False
    if error.get("code") in QUOTA_CODES or error.get("type") in QUOTA_CODES:
        return True
    return "exceeded your current quota" in str(error.get("message") or "").lower()


def answer_error(payload: dict) -> str | None:
    """Why a 200 answer is a failed generation (OpenRouter's ``finish_reason: "error"`` or ``error`` object); None if it is an answer."""
    error = payload.get("error")
    choices = payload.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    if not error and isinstance(choice.get("error"), dict):
        error = choice["error"]
    if error:
        message = error.get("message") if isinstance(error, dict) else None
        return str(message or error)[:200]
    if choice.get("finish_reason") == "error":
        return "finish_reason 'error'"
    return None


def _status_error(status: int, headers, raw: bytes, *, url: str, label: str) -> ProviderError:
    payload = _decoded(raw)
    detail = _error_detail(payload, raw)
    message = f"{label}: HTTP {status} from {url}: {detail}"
    if 300 <= status < 400:
        return PermanentProviderError(
            f"{label}: HTTP {status} redirect from {url} to {headers.get('location') or '(no location)'}: redirects "
            "are not followed; set the base URL to the final address", status=status,
        )
    if status == 429 and _is_quota_exhausted(payload):
        return QuotaExhausted(
            f"{label}: quota exhausted (HTTP 429 from {url}: {detail}). Retrying will not help: add credit or raise "
            "the account's spending limit, then resume the run", status=status,
        )
    verdict = (headers.get("x-should-retry") or "").strip().lower()
    if verdict == "false":
        return PermanentProviderError(f"{message} (the server said not to retry: x-should-retry: false)", status=status)
    if verdict == "true" or status in RETRYABLE_STATUS or status >= 500:
        return ProviderError(message, retryable=True, status=status, retry_after=parse_retry_after(headers))
    if status == 400:
        return PermanentProviderError(f"{message} (the API refused the request as invalid; retrying will not help)",
                                      status=status)
    return PermanentProviderError(message, status=status)


async def request_raw(
    session: aiohttp.ClientSession, method: str, url: str, *, headers: dict, timeout: float, label: str,
    json_body: dict | None = None, data=None,
) -> bytes:
    """Send one request and return the body of a 2xx answer; raise :class:`ProviderError` by meaning otherwise.

    The one place a provider request is made (chat completions, and the batch APIs' uploads, polls and
    result downloads): the address guard, no redirects, timeouts and the retry classification apply to all.
    """
    try:
        async with session.request(
            method, url, json=json_body, data=data, headers=headers, allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            raw = await response.read()
            status = response.status
            response_headers = response.headers
    except BlockedAddress as exc:
        raise PermanentProviderError(f"{label}: refused to connect: {exc}") from exc
    except TimeoutError as exc:  # aiohttp.ServerTimeoutError too (it is also a ClientError)
        raise RequestTimedOut(f"{label}: timed out after {timeout:g} s", retryable=True) from exc
    except aiohttp.InvalidURL as exc:
        raise PermanentProviderError(f"{label}: invalid URL {url!r} ({exc})") from exc
    except aiohttp.ClientError as exc:
        raise ProviderError(f"{label}: connection error ({exc.__class__.__name__}: {exc})", retryable=True) from exc
    if status >= 300:
        raise _status_error(status, response_headers, raw, url=url, label=label)
    return raw


def decode_object(raw: bytes, *, label: str) -> dict:
    """A 2xx body as a JSON object; a body that is not one is a (retryable) failed answer."""
    payload = _decoded(raw)
    if payload is None:
        raise ProviderError(f"{label}: response is not JSON: {raw[:100]!r}", retryable=True)
    if not isinstance(payload, dict):
        raise ProviderError(f"{label}: response is not a JSON object", retryable=True)
    return payload


async def request_json(
    session: aiohttp.ClientSession, method: str, url: str, *, headers: dict, timeout: float, label: str,
    json_body: dict | None = None, data=None,
) -> dict:
    """:func:`request_raw` decoded as a JSON object."""
    raw = await request_raw(session, method, url, headers=headers, timeout=timeout, label=label,
                            json_body=json_body, data=data)
    return decode_object(raw, label=label)


async def post_json(
    session: aiohttp.ClientSession, url: str, *, headers: dict, body: dict, timeout: float, label: str
) -> dict:
    """POST ``body`` as JSON and return the decoded answer; raise :class:`ProviderError` on failure.

    ``session`` is the run's one connection pool (:func:`benchmark.providers.netguard.guarded_session`).
    ``label`` names the model in error messages ("openai model 'gpt-4o'").
    """
    payload = await request_json(session, "POST", url, headers=headers, json_body=body, timeout=timeout, label=label)
    problem = answer_error(payload)
    if problem is not None:
        raise ProviderError(f"{label}: HTTP 200 from {url} carried an error instead of an answer: {problem}",
                            retryable=True, status=200)
    return payload

"""The one function that sends a provider request: timeouts and error classification live here."""

import datetime
import email.utils
import time

import httpx

from benchmark.providers.base import PermanentProviderError, ProviderError
from benchmark.providers.netguard import BlockedAddress

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI), ``Retry-After`` seconds or an HTTP date; None if absent or unreadable."""
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


def _error_detail(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:200].strip()
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)[:200]
    return str(error or payload)[:200]


async def post_json(
    client: httpx.AsyncClient, url: str, *, headers: dict, body: dict, timeout: float, label: str
) -> dict:
    """POST ``body`` as JSON and return the decoded response; raise :class:`ProviderError` on failure.

    ``label`` names the model in error messages ("openai model 'gpt-4o'").
    """
    try:
        response = await client.post(url, json=body, headers=headers, timeout=timeout)
    except BlockedAddress as exc:
        raise PermanentProviderError(f"{label}: refused to connect: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise ProviderError(f"{label}: timed out after {timeout:g} s", retryable=True) from exc
    except httpx.TransportError as exc:
        raise ProviderError(f"{label}: connection error ({exc.__class__.__name__}: {exc})", retryable=True) from exc
    if response.status_code >= 400:
        detail = _error_detail(response)
        message = f"{label}: HTTP {response.status_code} from {url}: {detail}"
        if response.status_code in RETRYABLE_STATUS:
            raise ProviderError(
                message, retryable=True, status=response.status_code, retry_after=parse_retry_after(response.headers)
            )
        raise PermanentProviderError(message, status=response.status_code)
    try:
        payload = response.json()
    except ValueError as exc:
        raise ProviderError(f"{label}: response is not JSON: {response.text[:100]!r}", retryable=True) from exc
    if not isinstance(payload, dict):
        raise ProviderError(f"{label}: response is not a JSON object", retryable=True)
    return payload

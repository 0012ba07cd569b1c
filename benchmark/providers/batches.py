"""Provider batch APIs: the OpenAI Batch API and Anthropic Message Batches (half the price, answers within 24 h).

A run's requests are the same bodies a run sends one by one (built by the provider's ``build_body``
under the model family's shape, :mod:`benchmark.providers.families`), so a batch run has the same
protocol and fills the same completion cache. Each request's ``custom_id`` is its cache key (a
sha256, 64 hex characters: within Anthropic's ``^[a-zA-Z0-9_-]{1,64}$``), so results map back to
(item, prompt) and a restarted process can rebuild the mapping from the item bank alone.

OpenAI (https://platform.openai.com/docs/guides/batch):
  ``POST /v1/files`` (multipart, ``purpose=batch``) uploads a JSONL file of
  ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``; ``POST /v1/batches``
  ``{"input_file_id", "endpoint": "/v1/chat/completions", "completion_window": "24h"}`` creates the
  batch; ``GET /v1/batches/{id}`` reports ``status`` (validating, in_progress, finalizing, completed,
  failed, expired, cancelling, cancelled), ``request_counts`` and ``output_file_id`` /
  ``error_file_id``; ``GET /v1/files/{id}/content`` returns JSONL lines ``{"custom_id",
  "response": {"status_code", "body"}, "error"}``.
Anthropic (https://docs.anthropic.com/en/api/creating-message-batches):
  ``POST /v1/messages/batches`` ``{"requests": [{"custom_id", "params"}]}``; ``GET
  /v1/messages/batches/{id}`` reports ``processing_status`` (in_progress, canceling, ended),
  ``request_counts`` and ``results_url``; the results are JSONL lines ``{"custom_id", "result":
  {"type": "succeeded", "message"} | {"type": "errored", "error"} | {"type": "canceled"} |
  {"type": "expired"}}``.

Every call goes through :func:`benchmark.providers.http.request_raw` (address guard, no redirects,
retry classification). The API key is sent only to the run's own base URL: a ``results_url`` on
another origin is not followed; the documented path on the base URL is used instead.
"""

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from benchmark.providers.base import Completed, PermanentProviderError, Provider, ProviderError
from benchmark.providers.http import answer_error, request_json, request_raw

# What a batch's own status means for the run: still working, finished (results to read), or failed as a whole.
IN_PROGRESS, ENDED, FAILED = "in_progress", "ended", "failed"


@dataclass
class BatchStatus:
    """A provider's report on one batch, in the provider's words (``status``) and ours (``state``)."""

    state: str
    status: str
    counts: dict = field(default_factory=dict)  # the provider's request_counts
    error: str = ""  # why a failed batch failed
    raw: dict = field(default_factory=dict)


@dataclass
class BatchLine:
    """One request's outcome: an answer, or why there is none."""

    custom_id: str
    completed: Completed | None = None
    error: str = ""


def _lines(raw: bytes, *, label: str) -> list[dict]:
    out = []
    for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise ProviderError(f"{label}: batch results line {number} is not JSON ({exc})", retryable=True) from exc
        if not isinstance(value, dict) or not isinstance(value.get("custom_id"), str):
            raise ProviderError(f"{label}: batch results line {number} has no custom_id", retryable=True)
        out.append(value)
    return out


def _error_text(error) -> str:
    if isinstance(error, dict):
        inner = error.get("error") if isinstance(error.get("error"), dict) else error
        return str(inner.get("message") or inner.get("type") or inner.get("code") or inner)[:300]
    return str(error)[:300]


class BatchClient:
    """Submit, poll and read one provider's batches for a run's provider (its model, base URL and key)."""

    def __init__(self, provider: Provider, *, timeout: float = 120.0):
        self.provider = provider
        self.timeout = timeout
        self.label = f"{provider.name} model {provider.model!r} (batch)"

    async def _json(self, session, method: str, path_or_url: str, **kwargs) -> dict:
        return await request_json(session, method, self._url(path_or_url), headers=self.provider.headers(),
                                  timeout=self.timeout, label=self.label, **kwargs)

    async def _raw(self, session, path_or_url: str) -> bytes:
        return await request_raw(session, "GET", self._url(path_or_url), headers=self.provider.headers(),
                                 timeout=self.timeout, label=self.label)

    def _url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else f"{self.provider.base_url}{path_or_url}"

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.provider.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def _completed(self, body) -> Completed:
        if not isinstance(body, dict):
            raise ValueError("the answer is not a JSON object")
        problem = answer_error(body)
        if problem:
            raise ValueError(problem)
        return self.provider.read_response(body)

    def _line(self, custom_id: str, body) -> BatchLine:
        try:
            return BatchLine(custom_id, completed=self._completed(body))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            return BatchLine(custom_id, error=f"unexpected answer ({exc})")

    async def submit(self, session, requests: list[tuple[str, dict]], *, metadata: dict) -> dict:
        raise NotImplementedError

    async def status(self, session, batch_id: str) -> BatchStatus:
        raise NotImplementedError

    async def results(self, session, status: BatchStatus) -> list[BatchLine]:
        raise NotImplementedError


class OpenAIBatchClient(BatchClient):
    ENDPOINT = "/v1/chat/completions"
    TERMINAL = {"completed": ENDED, "expired": ENDED, "cancelled": ENDED, "failed": FAILED}

    async def submit(self, session, requests, *, metadata):
        lines = "".join(
            json.dumps({"custom_id": custom_id, "method": "POST", "url": self.ENDPOINT, "body": body},
                       ensure_ascii=False) + "\n"
            for custom_id, body in requests
        ).encode()
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", lines, filename="requests.jsonl", content_type="application/jsonl")
        uploaded = await self._json(session, "POST", "/files", data=form)
        created = await self._json(session, "POST", "/batches", json_body={
            "input_file_id": uploaded["id"], "endpoint": self.ENDPOINT, "completion_window": "24h",
            "metadata": {key: str(value) for key, value in metadata.items()},
        })
        return {"id": created["id"], "input_file_id": uploaded["id"]}

    async def status(self, session, batch_id):
        payload = await self._json(session, "GET", f"/batches/{batch_id}")
        status = str(payload.get("status") or "")
        errors = ((payload.get("errors") or {}).get("data")) or []
        error = "; ".join(
            f"{e.get('code') or 'error'}: {e.get('message') or ''}" + (f" (line {e['line']})" if e.get("line") else "")
            for e in errors if isinstance(e, dict)
        )
        return BatchStatus(state=self.TERMINAL.get(status, IN_PROGRESS), status=status,
                           counts=payload.get("request_counts") or {}, error=error or f"batch {status}", raw=payload)

    async def results(self, session, status):
        out: list[BatchLine] = []
        for file_field in ("output_file_id", "error_file_id"):
            file_id = status.raw.get(file_field)
            if not file_id:
                continue
            for line in _lines(await self._raw(session, f"/files/{file_id}/content"), label=self.label):
                response, error = line.get("response") or {}, line.get("error")
                code = response.get("status_code")
                if error or code != 200:
                    detail = _error_text(error or (response.get("body") or {}).get("error") or response.get("body"))
                    out.append(BatchLine(line["custom_id"], error=f"HTTP {code}: {detail}" if code else detail))
                else:
                    out.append(self._line(line["custom_id"], response.get("body")))
        return out


class AnthropicBatchClient(BatchClient):
    async def submit(self, session, requests, *, metadata):
        created = await self._json(session, "POST", "/v1/messages/batches", json_body={
            "requests": [{"custom_id": custom_id, "params": body} for custom_id, body in requests],
        })
        return {"id": created["id"]}

    async def status(self, session, batch_id):
        payload = await self._json(session, "GET", f"/v1/messages/batches/{batch_id}")
        status = str(payload.get("processing_status") or "")
        return BatchStatus(state=ENDED if status == "ended" else IN_PROGRESS, status=status,
                           counts=payload.get("request_counts") or {}, raw=payload)

    async def results(self, session, status):
        url = status.raw.get("results_url") or ""
        if not url or not self._same_origin(url):
            url = f"/v1/messages/batches/{status.raw['id']}/results"  # the key goes only to the run's own host
        out: list[BatchLine] = []
        for line in _lines(await self._raw(session, url), label=self.label):
            result = line.get("result") or {}
            kind = result.get("type")
            if kind == "succeeded":
                out.append(self._line(line["custom_id"], result.get("message")))
            elif kind == "errored":
                out.append(BatchLine(line["custom_id"], error=f"errored: {_error_text(result.get('error'))}"))
            else:
                out.append(BatchLine(line["custom_id"], error=f"{kind or 'no result'}"))
        return out


BATCH_CLIENTS: dict[str, type[BatchClient]] = {"openai": OpenAIBatchClient, "anthropic": AnthropicBatchClient}


def batch_client(provider: Provider, *, timeout: float = 120.0) -> BatchClient:
    """The batch client of a run's provider; a provider without a batch API is a permanent error."""
    try:
        cls = BATCH_CLIENTS[provider.name]
    except KeyError:
        raise PermanentProviderError(
            f"{provider.name} model {provider.model!r}: --batch needs a provider with a batch API "
            f"({', '.join(sorted(BATCH_CLIENTS))}); run without --batch"
        ) from None
    return cls(provider, timeout=timeout)


__all__ = ["BATCH_CLIENTS", "ENDED", "FAILED", "IN_PROGRESS", "BatchClient", "BatchLine", "BatchStatus",
           "batch_client"]

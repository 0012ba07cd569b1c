"""The provider interface: build a request body for one prompt, send it, read the answer text.

Each provider (OpenAI-compatible chat completions, Anthropic Messages) is a small class registered by
name. Every outbound call goes through :func:`benchmark.providers.http.post_json`, which applies the
timeouts and classifies failures by what they mean -- retryable (429 rate limits, 5xx, overload,
timeouts, dropped connections, a 200 carrying an error) or permanent (400, 401, 403, 404, other 4xx,
redirects, an exhausted quota) --, the distinction the runner's retry loop relies on.
"""

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

DEFAULT_TEMPERATURE = 0.0
DEFAULT_MAX_TOKENS = 64


class ProviderError(Exception):
    """A failed request. ``retryable`` says whether the same request may succeed later."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """An error no retry will fix: bad credentials, unknown model, malformed request."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message, retryable=False, status=status)


@dataclass(frozen=True)
class GenerationSettings:
    """Model parameters that change the output and therefore enter the cache key."""

    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    logprobs: bool = False
    extra: dict = field(default_factory=dict)  # provider-specific body fields, e.g. {"top_p": 1}


@dataclass(frozen=True)
class Completed:
    """A provider's answer: the text and, when requested and returned, the first token's top log-probabilities."""

    text: str
    top_logprobs: dict[str, float] | None = None


class Provider(ABC):
    """One API protocol. Subclasses set ``name``, ``default_base_url`` and the request/response methods.

    The API key is given by the caller (resolved from an operator-configured credential,
    :mod:`benchmark.credentials`); a provider never reads the environment itself.
    """

    name: str = ""
    default_base_url: str = ""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        settings: GenerationSettings | None = None,
    ):
        self.model = model
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.settings = settings or GenerationSettings()
        self.api_key = api_key or None
        if not self.api_key and self.base_url == self.default_base_url.rstrip("/"):
            raise PermanentProviderError(f"{self.name} model {model!r}: no API key for {self.base_url}")

    @abstractmethod
    def request_body(self, prompt: str, system_prompt: str | None) -> dict:
        """The JSON body for one prompt: everything that determines the completion."""

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """Request headers, including credentials (never cached or logged)."""

    @abstractmethod
    def endpoint(self) -> str:
        """The URL the body is posted to."""

    @abstractmethod
    def read_response(self, payload: dict) -> Completed:
        """The answer text (and log-probabilities) from a successful response body."""

    def cache_key(self, body: dict) -> str:
        """sha256 of what determines the completion: provider, base URL and the body (model, parameters, messages)."""
        material = json.dumps({"provider": self.name, "base_url": self.base_url, "body": body}, sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    async def complete(self, session, body: dict, *, timeout: float) -> Completed:
        """Send one request body over ``session`` (an ``aiohttp.ClientSession``, the run's connection pool)."""
        from benchmark.providers.http import post_json

        payload = await post_json(
            session, self.endpoint(), headers=self.headers(), body=body, timeout=timeout, label=f"{self.name} model {self.model!r}"
        )
        try:
            return self.read_response(payload)
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError(
                f"{self.name} model {self.model!r}: unexpected response shape ({exc!r})", retryable=True
            ) from exc

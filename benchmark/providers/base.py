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

from benchmark.providers.families import Shape, ShapeError, shape

DEFAULT_MAX_TOKENS = 64
# finish_reason / stop_reason / finishReason values meaning "stopped at the token limit" (OpenAI, Anthropic, Gemini).
CUT_OFF_REASONS = frozenset({"length", "max_tokens", "MAX_TOKENS"})


def is_cut_off(finish_reason: str | None) -> bool:
    """Whether an answer ended because it reached the token limit (so it may be incomplete)."""
    return finish_reason in CUT_OFF_REASONS


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
    """Model parameters that change the output and therefore enter the cache key.

    ``temperature`` None is the default: 0 where the model accepts a temperature, none sent where it
    does not (:func:`benchmark.providers.families.shape`). ``params`` are provider body fields passed
    through (``--param``), e.g. ``{"reasoning_effort": "low"}`` or ``{"thinking": {...}}``.
    """

    temperature: float | None = None
    max_tokens: int | None = DEFAULT_MAX_TOKENS
    logprobs: bool = False
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Completed:
    """A provider's answer: the text and, when requested and returned, the first token's top log-probabilities."""

    text: str
    top_logprobs: dict[str, float] | None = None
    finish_reason: str | None = None  # as the API spells it: "stop", "length", "end_turn", "max_tokens", "STOP" …


class Provider(ABC):
    """One API protocol. Subclasses set ``name``, ``default_base_url`` and the request/response methods.

    The API key is given by the caller (resolved from an operator-configured credential,
    :mod:`benchmark.credentials`); a provider never reads the environment itself.
    """

    name: str = ""
    default_base_url: str = ""
    prompt_fields: tuple[str, ...] = ()  # body fields that carry the prompt (left out when describing a request)

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
        self.shape = self.shape_for(model, self.settings)

    @classmethod
    def shape_for(cls, model: str, settings: GenerationSettings) -> Shape:
        """The settings checked against the model's family; a refused combination is a permanent error."""
        try:
            return shape(cls.name, model, temperature=settings.temperature, max_tokens=settings.max_tokens,
                         logprobs=settings.logprobs, params=settings.params)
        except ShapeError as exc:
            raise PermanentProviderError(f"{cls.name} model {model!r}: {exc}") from exc

    @classmethod
    @abstractmethod
    def build_body(cls, model: str, shape: Shape, prompt: str, system_prompt: str | None) -> dict:
        """The JSON body for one prompt under a checked shape: everything that determines the completion."""

    def request_body(self, prompt: str, system_prompt: str | None) -> dict:
        """The JSON body for one prompt: everything that determines the completion."""
        return self.build_body(self.model, self.shape, prompt, system_prompt)

    @classmethod
    def describe_request(cls, model: str, settings: GenerationSettings) -> dict:
        """What a run sends besides the prompt: its model family, the body's parameters, and what is left out and why."""
        checked = cls.shape_for(model, settings)
        body = cls.build_body(model, checked, "", None)
        return {
            "family": checked.family.key,
            "parameters": {key: value for key, value in body.items() if key not in cls.prompt_fields},
            "omitted": dict(checked.omitted),
        }

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

"""Model providers registered by name: ``get_provider("openai", model=..., base_url=...)``.

``openai`` (OpenAI-compatible chat completions), ``anthropic`` (Messages API) and ``gemini``
(Google's generateContent); what each sends per model family is in :mod:`benchmark.providers.families`.
"""

from benchmark.providers.anthropic import AnthropicProvider
from benchmark.providers.base import (
    Completed,
    GenerationSettings,
    PermanentProviderError,
    Provider,
    ProviderError,
)
from benchmark.providers.families import FAMILIES, ShapeError
from benchmark.providers.gemini import GeminiProvider
from benchmark.providers.openai import OpenAIProvider

PROVIDERS: dict[str, type[Provider]] = {cls.name: cls for cls in (OpenAIProvider, AnthropicProvider, GeminiProvider)}


def get_provider(name: str, **kwargs) -> Provider:
    """An instance of the provider registered as ``name``; keyword arguments go to its constructor."""
    try:
        cls = PROVIDERS[name]
    except KeyError:
        raise PermanentProviderError(f"unknown provider {name!r}; choose one of {', '.join(sorted(PROVIDERS))}") from None
    return cls(**kwargs)


__all__ = [
    "FAMILIES",
    "PROVIDERS",
    "Completed",
    "GenerationSettings",
    "PermanentProviderError",
    "Provider",
    "ProviderError",
    "ShapeError",
    "get_provider",
]

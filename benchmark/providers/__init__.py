"""Model providers registered by name: ``get_provider("openai", model=..., base_url=...)``."""

from benchmark.providers.anthropic import AnthropicProvider
from benchmark.providers.base import (
    Completed,
    GenerationSettings,
    PermanentProviderError,
    Provider,
    ProviderError,
)
from benchmark.providers.openai import OpenAIProvider

PROVIDERS: dict[str, type[Provider]] = {cls.name: cls for cls in (OpenAIProvider, AnthropicProvider)}


def get_provider(name: str, **kwargs) -> Provider:
    """An instance of the provider registered as ``name``; keyword arguments go to its constructor."""
    try:
        cls = PROVIDERS[name]
    except KeyError:
        raise PermanentProviderError(f"unknown provider {name!r}; choose one of {', '.join(sorted(PROVIDERS))}") from None
    return cls(**kwargs)


__all__ = [
    "PROVIDERS",
    "Completed",
    "GenerationSettings",
    "PermanentProviderError",
    "Provider",
    "ProviderError",
    "get_provider",
]

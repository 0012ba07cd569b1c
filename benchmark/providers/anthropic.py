"""The Anthropic Messages API (``POST /v1/messages``)."""

from benchmark.providers.base import DEFAULT_MAX_TOKENS, Completed, Provider

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider(Provider):
    name = "anthropic"
    default_base_url = "https://api.anthropic.com"

    def endpoint(self) -> str:
        return f"{self.base_url}/v1/messages"

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def request_body(self, prompt: str, system_prompt: str | None) -> dict:
        body = {
            "model": self.model,
            # The Messages API requires max_tokens.
            "max_tokens": self.settings.max_tokens or DEFAULT_MAX_TOKENS,
            "temperature": self.settings.temperature,
            "messages": [{"role": "user", "content": prompt}],
        }
        if system_prompt:
            body["system"] = system_prompt
        body.update(self.settings.extra)
        return body

    def read_response(self, payload: dict) -> Completed:
        blocks = payload["content"]
        return Completed(text="".join(block.get("text", "") for block in blocks if block.get("type") == "text"))

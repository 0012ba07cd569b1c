"""The Anthropic Messages API (``POST /v1/messages``).

``max_tokens`` is required; ``temperature`` (0-1) is sent unless the model accepts none (Claude
Opus 4.7 and later) or thinking is on. With extended thinking the response holds ``thinking``
blocks before the ``text`` block; only text blocks are the answer.
"""

from benchmark.providers.base import Completed, Provider
from benchmark.providers.families import Shape

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider(Provider):
    name = "anthropic"
    default_base_url = "https://api.anthropic.com"
    prompt_fields = ("messages", "system")

    def endpoint(self) -> str:
        return f"{self.base_url}/v1/messages"

    def headers(self) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    @classmethod
    def build_body(cls, model: str, shape: Shape, prompt: str, system_prompt: str | None) -> dict:
        body: dict = {"model": model, "max_tokens": shape.max_tokens}
        if shape.temperature is not None:
            body["temperature"] = shape.temperature
        body["messages"] = [{"role": "user", "content": prompt}]
        if system_prompt:
            body["system"] = system_prompt
        body.update(shape.params)
        return body

    def read_response(self, payload: dict) -> Completed:
        blocks = payload["content"]
        text = "".join(block.get("text", "") for block in blocks if block.get("type") == "text")
        return Completed(text=text, finish_reason=payload.get("stop_reason"))

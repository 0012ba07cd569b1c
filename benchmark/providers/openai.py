"""OpenAI-compatible chat completions: OpenAI, OpenRouter, vLLM, Ollama, llama.cpp server (``--base-url``).

The body follows the model's family (:mod:`benchmark.providers.families`): ``max_completion_tokens``
for the o-series and GPT-5.x, ``max_tokens`` for every other model; no ``temperature`` where the
model accepts none; ``logprobs`` only where allowed.
"""

from benchmark.providers.base import Completed, Provider
from benchmark.providers.families import Shape

TOP_LOGPROBS = 10

# Tokens that carry no answer: markdown, quotes, whitespace. A real API's first token is often one
# of these ("**", "\"", "\n"); the expected rating needs the first token of the answer itself.
_DECORATION = set(" \t\r\n*_`#>\"'“”‘’«»„「」『』.:-")


def answer_token_index(tokens: list[str]) -> int | None:
    """Index of the first token that starts the answer: after an inline ``<think>…</think>`` block and decoration."""
    start = 0
    text = "".join(tokens)
    if text.lstrip().lower().startswith("<think>"):
        end = text.lower().find("</think>")
        if end < 0:
            return None  # the reasoning never ended: there is no answer token
        end += len("</think>")
        consumed = 0
        for index, token in enumerate(tokens):
            consumed += len(token)
            if consumed >= end:
                start = index + 1
                break
    for index in range(start, len(tokens)):
        if tokens[index] and not set(tokens[index]) <= _DECORATION:
            return index
    return None


def first_answer_logprobs(content: list[dict]) -> dict[str, float] | None:
    """Top log-probabilities at the first answer token of an OpenAI ``logprobs.content`` list (None if none)."""
    index = answer_token_index([entry.get("token") or "" for entry in content])
    if index is None:
        return None
    return {entry["token"]: entry["logprob"] for entry in content[index].get("top_logprobs", [])} or None


class OpenAIProvider(Provider):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    prompt_fields = ("messages",)

    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    @classmethod
    def build_body(cls, model: str, shape: Shape, prompt: str, system_prompt: str | None) -> dict:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": prompt})
        body: dict = {"model": model, "messages": messages}
        if shape.temperature is not None:
            body["temperature"] = shape.temperature
        if shape.max_tokens is not None:
            body[shape.length_field] = shape.max_tokens
        if shape.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = TOP_LOGPROBS
        body.update(shape.params)
        return body

    def read_response(self, payload: dict) -> Completed:
        choice = payload["choices"][0]
        text = choice["message"].get("content") or ""
        content_logprobs = (choice.get("logprobs") or {}).get("content") or []
        top = first_answer_logprobs(content_logprobs) if content_logprobs else None
        return Completed(text=text, top_logprobs=top, finish_reason=choice.get("finish_reason"))

"""OpenAI-compatible chat completions: OpenAI, OpenRouter, vLLM, Ollama, llama.cpp server (``--base-url``)."""

from benchmark.providers.base import Completed, Provider


class OpenAIProvider(Provider):
    name = "openai"
    default_base_url = "https://api.openai.com/v1"

    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def request_body(self, prompt: str, system_prompt: str | None) -> dict:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages.append({"role": "user", "content": prompt})
        body = {"model": self.model, "messages": messages, "temperature": self.settings.temperature}
        if self.settings.max_tokens is not None:
            body["max_tokens"] = self.settings.max_tokens
        if self.settings.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = 10
        body.update(self.settings.extra)
        return body

    def read_response(self, payload: dict) -> Completed:
        choice = payload["choices"][0]
        text = choice["message"].get("content") or ""
        top = None
        content_logprobs = (choice.get("logprobs") or {}).get("content") or []
        if content_logprobs:
            top = {entry["token"]: entry["logprob"] for entry in content_logprobs[0].get("top_logprobs", [])}
        return Completed(text=text, top_logprobs=top)

"""Google's Gemini API, native protocol: ``POST {base}/v1beta/models/{model}:generateContent``.

The key goes in the ``x-goog-api-key`` header. The prompt is ``contents`` (one user turn), the
system prompt ``systemInstruction``, and the generation parameters sit in ``generationConfig``
(``temperature``, ``maxOutputTokens``, ``responseLogprobs`` + ``logprobs``, and whatever ``--param``
adds: ``thinkingConfig``, ``topP``, ``seed`` …; the request-level fields ``safetySettings``,
``tools``, ``toolConfig`` and ``cachedContent`` stay at the top). The answer is the text of
``candidates[0].content.parts`` that are not thoughts (``"thought": true``); ``finishReason`` is
``STOP``, ``MAX_TOKENS``, ``SAFETY`` … A prompt blocked before generation has no candidate: its
answer is empty with the block reason as finish reason.
"""

from urllib.parse import quote

from benchmark.providers.base import Completed, Provider
from benchmark.providers.families import Shape
from benchmark.providers.openai import answer_token_index

TOP_LOGPROBS = 5
TOP_LEVEL_FIELDS = frozenset({"safetySettings", "tools", "toolConfig", "cachedContent"})


class GeminiProvider(Provider):
    name = "gemini"
    default_base_url = "https://generativelanguage.googleapis.com"
    prompt_fields = ("contents", "systemInstruction")

    def endpoint(self) -> str:
        return f"{self.base_url}/v1beta/models/{quote(self.model, safe='-._')}:generateContent"

    def headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.api_key} if self.api_key else {}

    @classmethod
    def build_body(cls, model: str, shape: Shape, prompt: str, system_prompt: str | None) -> dict:
        config: dict = {}
        if shape.temperature is not None:
            config["temperature"] = shape.temperature
        config["maxOutputTokens"] = shape.max_tokens
        if shape.logprobs:
            config["responseLogprobs"] = True
            config["logprobs"] = TOP_LOGPROBS
        body: dict = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
        if system_prompt:
            body["systemInstruction"] = {"parts": [{"text": system_prompt}]}
        for key, value in shape.params.items():
            if key in TOP_LEVEL_FIELDS:
                body[key] = value
            else:
                config[key] = value
        body["generationConfig"] = config
        return body

    def read_response(self, payload: dict) -> Completed:
        candidates = payload.get("candidates") or []
        if not candidates:
            feedback = payload.get("promptFeedback") or {}
            if feedback.get("blockReason"):
                return Completed(text="", finish_reason=f"PROMPT_BLOCKED:{feedback['blockReason']}")
            raise KeyError("candidates")
        candidate = candidates[0]
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(part.get("text", "") for part in parts if not part.get("thought"))
        top = None
        logprobs = candidate.get("logprobsResult") or {}
        chosen = logprobs.get("chosenCandidates") or []
        if chosen:
            index = answer_token_index([entry.get("token") or "" for entry in chosen])
            tops = logprobs.get("topCandidates") or []
            if index is not None and index < len(tops):
                top = {entry["token"]: entry["logProbability"] for entry in tops[index].get("candidates", [])} or None
        return Completed(text=text, top_logprobs=top, finish_reason=candidate.get("finishReason"))

"""Reading imported answers: the ANSWERS.jsonl format of ``score_answers`` (pure, no Django).

One JSON object per line: ``{"item_id": str, "prompt_index": 0-5, "text": str}`` with an optional
``"finish_reason"`` (string or null). Prompt indices as in :mod:`benchmark.prompts`: 0-2 the three
templates with the phrases in the paper's order, 3-5 the same templates reversed. Every line is
checked before anything is used; the first problem is reported as ``FILE line N: …``.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from benchmark.prompts import PROMPT_COUNT

REQUIRED = ("item_id", "prompt_index", "text")
OPTIONAL = ("finish_reason",)


class AnswersFormatError(ValueError):
    """A malformed answers file; the message names the file and line."""


@dataclass(frozen=True)
class ImportedAnswer:
    line: int
    item_id: str
    prompt_index: int
    text: str
    finish_reason: str | None = None


def _record(path: Path, line: int, raw: str) -> ImportedAnswer:
    where = f"{path} line {line}"
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AnswersFormatError(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise AnswersFormatError(f"{where}: expected a JSON object, got {type(record).__name__}")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise AnswersFormatError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(record) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise AnswersFormatError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(REQUIRED + OPTIONAL)}")
    item_id, index, text = record["item_id"], record["prompt_index"], record["text"]
    if not isinstance(item_id, str) or not item_id.strip():
        raise AnswersFormatError(f"{where}: item_id must be a non-empty string, got {item_id!r}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < PROMPT_COUNT:
        raise AnswersFormatError(f"{where}: prompt_index must be an integer 0-{PROMPT_COUNT - 1}, got {index!r}")
    if not isinstance(text, str):
        raise AnswersFormatError(f"{where}: text must be a string, got {type(text).__name__}")
    finish_reason = record.get("finish_reason")
    if finish_reason is not None and not isinstance(finish_reason, str):
        raise AnswersFormatError(f"{where}: finish_reason must be a string or null, got {finish_reason!r}")
    return ImportedAnswer(line, item_id.strip(), index, text, finish_reason)


def read_answers(path: str | Path, *, known_items: set[str] | None = None) -> list[ImportedAnswer]:
    """Every answer of ``path``, validated; ``known_items`` (the bank's item ids) rejects unknown ids."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AnswersFormatError(f"{path}: cannot open ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise AnswersFormatError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    answers, seen = [], {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        answer = _record(path, number, raw)
        if known_items is not None and answer.item_id not in known_items:
            raise AnswersFormatError(f"{path} line {number}: unknown item_id {answer.item_id!r} (not in the item bank)")
        key = (answer.item_id, answer.prompt_index)
        if key in seen:
            raise AnswersFormatError(
                f"{path} line {number}: duplicate answer for item {answer.item_id!r} prompt {answer.prompt_index} "
                f"(first on line {seen[key]})"
            )
        seen[key] = number
        answers.append(answer)
    if not answers:
        raise AnswersFormatError(f"{path}: no answers")
    return answers

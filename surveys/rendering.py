"""Rows for the rating templates (``templates/surveys/includes/scale_rows.html``).

A row is a dict ``{"name", "number", "text", "selected", "error"}``; attention-check rows look
exactly like the others. ``pvq21_rows`` is public so other pages (the results site's
self-test) can render PVQ-21 with ``templates/surveys/includes/pvq21_questions.html``.
"""

from collections.abc import Mapping

from surveys.instruments import BFI10, BFI10_STEM, answer_code, pvq21_portraits
from surveys.plan import CheckSpec, interleave


def _selected(values: Mapping[str, str] | None, name: str) -> int | None:
    value = (values or {}).get(name)
    return answer_code(value)


def _number(rows: list[dict]) -> list[dict]:
    for n, row in enumerate(rows, start=1):
        row["number"] = n
    return rows


def _check_row(check: CheckSpec, values) -> dict:
    name = f"check-{check.key}"
    return {"name": name, "text": check.text, "selected": _selected(values, name)}


def pvq21_rows(form: str, *, checks: tuple[CheckSpec, ...] = (), values: Mapping[str, str] | None = None) -> list[dict]:
    """PVQ-21 rows in ``form`` (male/female/neutral), field names ``pvq-1`` ... ``pvq-21``."""
    rows = [
        {"name": f"pvq-{p['question']}", "text": p["text"], "selected": _selected(values, f"pvq-{p['question']}")}
        for p in pvq21_portraits(form)
    ]
    return _number([r if isinstance(r, dict) else _check_row(r, values) for r in interleave(rows, checks)])


def bfi10_rows(*, checks: tuple[CheckSpec, ...] = (), values: Mapping[str, str] | None = None) -> list[dict]:
    """BFI-10 rows, field names ``bfi-1`` ... ``bfi-10``; the text includes the stem's ellipsis."""
    stem = BFI10_STEM.removesuffix(" ...")
    rows = [
        {"name": f"bfi-{q['question']}", "text": f"{stem} {q['text'].removeprefix('... ')}", "selected": _selected(values, f"bfi-{q['question']}")}
        for q in BFI10
    ]
    return _number([r if isinstance(r, dict) else _check_row(r, values) for r in interleave(rows, checks)])


def item_rows(items: list, *, checks: tuple[CheckSpec, ...] = (), values: Mapping[str, str] | None = None) -> list[dict]:
    """One row per response of a query page (``items`` in display order), checks interleaved."""
    rows = [{"name": f"item-{item.pk}", "text": item.response, "selected": _selected(values, f"item-{item.pk}")} for item in items]
    return _number([r if isinstance(r, dict) else _check_row(r, values) for r in interleave(rows, checks)])

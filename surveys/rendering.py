"""Rows for the rating templates (``templates/surveys/includes/scale_rows.html``).

A row is a dict ``{"name", "number", "text", "selected", "error", "first_error"}``; attention-check
rows look exactly like the others. ``error`` is the message shown next to a row that needs an
answer and ``first_error`` marks the first such row (the page opens there). ``pvq21_rows`` is
public so other pages (the results site's self-test) can render PVQ-21 with
``templates/surveys/includes/pvq21_questions.html``.
"""

from collections.abc import Collection, Mapping

from surveys.instruments import BFI10, BFI10_STEM, answer_code, pvq21_portraits
from surveys.plan import CheckSpec, interleave


def _selected(values: Mapping[str, str] | None, name: str) -> int | None:
    value = (values or {}).get(name)
    return answer_code(value)


def _finish(rows: list, checks: tuple[CheckSpec, ...], values, errors: Mapping[str, str] | None, first_number: int) -> list[dict]:
    """Interleave the checks, number the rows from ``first_number`` and mark the rows with errors."""
    shown = [r if isinstance(r, dict) else {"name": f"check-{r.key}", "text": r.text} for r in interleave(rows, checks)]
    first = True
    for n, row in enumerate(shown, start=first_number):
        row["number"] = n
        row["selected"] = _selected(values, row["name"])
        row["error"] = (errors or {}).get(row["name"], "")
        row["first_error"] = bool(row["error"]) and first
        first = first and not row["error"]
    return shown


def pvq21_rows(
    form: str, *, checks: tuple[CheckSpec, ...] = (), values: Mapping[str, str] | None = None,
    questions: Collection[int] | None = None, first_number: int = 1, errors: Mapping[str, str] | None = None,
) -> list[dict]:
    """PVQ-21 rows in ``form`` (male/female/neutral), field names ``pvq-1`` ... ``pvq-21``.

    ``questions`` limits the rows to one page of the questionnaire (all 21 when None), numbered
    from ``first_number``.
    """
    rows = [
        {"name": f"pvq-{p['question']}", "text": p["text"]}
        for p in pvq21_portraits(form)
        if questions is None or p["question"] in questions
    ]
    return _finish(rows, checks, values, errors, first_number)


def bfi10_rows(
    *, checks: tuple[CheckSpec, ...] = (), values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None
) -> list[dict]:
    """BFI-10 rows, field names ``bfi-1`` ... ``bfi-10``; the text includes the stem's ellipsis."""
    stem = BFI10_STEM.removesuffix(" ...")
    rows = [{"name": f"bfi-{q['question']}", "text": f"{stem} {q['text'].removeprefix('... ')}"} for q in BFI10]
    return _finish(rows, checks, values, errors, 1)


def item_rows(
    items: list, *, checks: tuple[CheckSpec, ...] = (), values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[dict]:
    """One row per response of a query page (``items`` in display order), checks interleaved."""
    rows = [{"name": f"item-{item.pk}", "text": item.response} for item in items]
    return _finish(rows, checks, values, errors, 1)

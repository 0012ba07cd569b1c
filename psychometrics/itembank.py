"""The item-bank exchange formats written by ``export_items`` and the analysis dashboard.

JSONL, one annotated item per line (the format ``benchmark`` imports)::

    {"item_id": "...", "source": "...", "title": "..." or null, "query": "...", "response": "...",
     "correlations": [{"family": "pvq", "dimension": "Achievement", "rho": -0.322, "p_value": 0.029, "n": 46}, ...]}

Every dimension of the analysis is listed, selected or not; an undefined rho or p is null.
CSV, tidy long: one row per item x dimension (``ITEM_BANK_CSV_COLUMNS``).
Text cells a spreadsheet would run as a formula get a leading ``'`` (``config.spreadsheet``).
No Django here: callers pass plain dicts.
"""

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator

from config.spreadsheet import spreadsheet_cell

ITEM_BANK_CSV_COLUMNS = ["item_id", "source", "family", "dimension", "rho", "p_value", "p_adjusted", "n", "selected", "direction"]


def _number(value) -> float | None:
    """A float for JSON, or None for a missing or NaN value."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def item_bank_record(item: dict, correlations: Iterable[dict]) -> dict:
    """One JSONL record. ``item`` has item_id, source, title, query, response; each correlation has
    family, dimension, rho, p_value, n."""
    return {
        "item_id": item["item_id"],
        "source": item["source"] or "",
        "title": item["title"] or None,
        "query": item["query"],
        "response": item["response"],
        "correlations": [
            {
                "family": c["family"],
                "dimension": c["dimension"],
                "rho": _number(c["rho"]),
                "p_value": _number(c["p_value"]),
                "n": int(c["n"]),
            }
            for c in correlations
        ],
    }


def item_bank_jsonl_lines(records: Iterable[dict]) -> Iterator[str]:
    """Each record as one line of JSON (UTF-8 text kept readable), newline-terminated."""
    for record in records:
        yield json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def item_bank_csv_lines(rows: Iterable[dict]) -> Iterator[str]:
    """The header and one CSV line per item x dimension row (keys ``ITEM_BANK_CSV_COLUMNS``).

    Empty cells for undefined rho/p; ``selected`` is 1 or 0.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(ITEM_BANK_CSV_COLUMNS)
    yield flush()
    for row in rows:
        values = []
        for column in ITEM_BANK_CSV_COLUMNS:
            value = row[column]
            if column in ("rho", "p_value", "p_adjusted"):
                value = _number(value)
                value = "" if value is None else repr(value)
            elif column == "selected":
                value = int(bool(value))
            values.append(spreadsheet_cell(value))
        writer.writerow(values)
        yield flush()

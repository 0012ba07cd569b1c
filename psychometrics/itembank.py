"""The item-bank exchange formats written by ``export_items`` and the analysis dashboard.

JSONL (the format ``benchmark`` imports): a header line with the selection's rule set, then one
annotated item per line::

    {"itembank_format": 2, "selection": {"threshold": 0.3, "alpha": 0.05, "fdr": false, "correlation": "spearman",
     "keyed": "abs"}, "source": {"study": "demo", "analysis": 7}}
    {"item_id": "...", "source": "...", "title": "..." or null, "query": "...", "response": "...",
     "correlations": [{"family": "pvq", "dimension": "Achievement", "rho": -0.322, "p_value": 0.029, "n": 46,
                       "p_adjusted": null, "selected": true}, ...]}

Every dimension of the analysis is listed, selected or not; an undefined rho or p is null;
``p_adjusted`` (Benjamini-Hochberg) is given only when the analysis selected with it (``fdr``),
null otherwise. ``keyed`` "abs": a pair is selected on |rho|, so negatively keyed pairs are too.
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


ITEM_BANK_FORMAT = 2


def item_bank_header(*, threshold: float, alpha: float, fdr: bool, study: str, analysis: int) -> dict:
    """The JSONL header: the rule set behind every correlation's ``selected`` and where it comes from."""
    return {
        "itembank_format": ITEM_BANK_FORMAT,
        "selection": {"threshold": float(threshold), "alpha": float(alpha), "fdr": bool(fdr),
                      "correlation": "spearman", "keyed": "abs"},
        "source": {"study": study, "analysis": int(analysis)},
    }


def item_bank_record(item: dict, correlations: Iterable[dict], *, corrected: bool = False) -> dict:
    """One JSONL record. ``item`` has item_id, source, title, query, response; each correlation has
    family, dimension, rho, p_value, p_adjusted, n, selected. ``corrected``: the selection used
    ``p_adjusted`` (otherwise it is written as null: no correction was applied)."""
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
                "p_adjusted": _number(c["p_adjusted"]) if corrected else None,
                "selected": bool(c["selected"]),
            }
            for c in correlations
        ],
    }


def item_bank_jsonl_lines(records: Iterable[dict], *, header: dict | None = None) -> Iterator[str]:
    """The header (if given), then each record, as one line of JSON (UTF-8 text kept readable), newline-terminated."""
    if header is not None:
        yield json.dumps(header, ensure_ascii=False, allow_nan=False) + "\n"
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

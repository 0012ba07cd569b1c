"""Import query-response items into a study from CSV, JSON or JSONL (command and admin).

Every row needs ``item_id, group, query, response``; ``source`` and ``title`` may be empty.
The whole file is checked first and every problem is reported with its line and column; if
there is any problem nothing is imported, otherwise everything is imported in one transaction.
"""

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from surveys.models import Item, ItemGroup, Study

COLUMNS = ("item_id", "group", "source", "title", "query", "response")
REQUIRED = ("item_id", "group", "query", "response")
MAX_LENGTHS = {"item_id": 128, "group": 64, "source": 64}
FORMATS = ("csv", "json", "jsonl")
MAX_REPORTED = 50


class ItemImportError(ValueError):
    """The file has problems; ``errors`` lists them (file, line, column, value)."""

    def __init__(self, errors: list[str]):
        shown = errors[:MAX_REPORTED]
        more = f"\n... and {len(errors) - MAX_REPORTED} more problems" if len(errors) > MAX_REPORTED else ""
        super().__init__("Nothing was imported:\n" + "\n".join(shown) + more)
        self.errors = errors


@dataclass(frozen=True)
class ImportResult:
    items_created: int
    groups_created: int


def detect_format(filename: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".")
    fmt = {"ndjson": "jsonl"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise ItemImportError([f"{filename}: cannot tell the format from the extension '.{suffix}': use .csv, .json or .jsonl (or --format)."])
    return fmt


def _decode(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ItemImportError([f"{filename}: line {line}: the file is not UTF-8 text (byte {error.start})."]) from None


def _csv_rows(text: str, filename: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []  # reads the header row: a field over csv's size limit raises here
    except csv.Error as error:
        raise ItemImportError([f"{filename}: line 1 (header): {error}."]) from None
    problems = [f"{filename}: line 1: missing column '{name}'." for name in REQUIRED if name not in header]
    problems += [f"{filename}: line 1: unknown column '{name}' (expected {', '.join(COLUMNS)})." for name in header if name not in COLUMNS]
    if problems:
        raise ItemImportError(problems)
    rows, start = [], 2
    try:
        for record in reader:
            if None in record:
                raise ItemImportError([f"{filename}: line {start}: more values than columns in the header."])
            rows.append((start, record))
            start = reader.line_num + 1
    except csv.Error as error:
        # reader.line_num still points at the previous record here: name the line the bad one starts on.
        raise ItemImportError([f"{filename}: line {start}: {error}."]) from None
    return rows


def _json_rows(text: str, filename: str) -> list[tuple[int, object]]:
    decoder = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def skip(pos: int) -> int:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        return pos

    pos = skip(0)
    if pos >= len(text) or text[pos] != "[":
        raise ItemImportError([f"{filename}: line {line_of(pos)}: a JSON file must hold one array of objects."])
    rows, pos = [], skip(pos + 1)
    if pos < len(text) and text[pos] == "]":
        return rows
    while True:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            raise ItemImportError([f"{filename}: line {error.lineno}, column {error.colno}: invalid JSON ({error.msg})."]) from None
        rows.append((line_of(pos), value))
        pos = skip(end)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            break
        raise ItemImportError([f"{filename}: line {line_of(pos)}: expected ',' or ']' after an element."])
    if skip(pos + 1) != len(text):
        raise ItemImportError([f"{filename}: line {line_of(pos + 1)}: unexpected text after the closing ']'."])
    return rows


def _jsonl_rows(text: str, filename: str) -> list[tuple[int, object]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            raise ItemImportError([f"{filename}: line {number}, column {error.colno}: invalid JSON ({error.msg})."]) from None
    return rows


def read_rows(data: bytes, *, filename: str, fmt: str | None = None) -> list[tuple[int, object]]:
    """(line number, raw row) for every row of the file; raises ItemImportError on unreadable files."""
    fmt = fmt or detect_format(filename)
    if fmt not in FORMATS:
        raise ItemImportError([f"{filename}: unknown format '{fmt}': use one of {', '.join(FORMATS)}."])
    text = _decode(data, filename)
    return {"csv": _csv_rows, "json": _json_rows, "jsonl": _jsonl_rows}[fmt](text, filename)


def _clean_row(line: int, raw: object, filename: str, errors: list[str]) -> dict | None:
    where = f"{filename}: line {line}"
    if not isinstance(raw, dict):
        errors.append(f"{where}: each row must be an object with {', '.join(REQUIRED)}, got {type(raw).__name__}.")
        return None
    row = {}
    for name in raw:
        if name not in COLUMNS:
            errors.append(f"{where}, column '{name}': unknown column (expected {', '.join(COLUMNS)}).")
    for name in COLUMNS:
        value = raw.get(name, "")
        if value is None:
            value = ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            errors.append(f"{where}, column '{name}': expected text, got {json.dumps(value)[:60]}.")
            continue
        value = str(value).strip()
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; a NUL in a data file is corruption, not content.
            errors.append(f"{where}, column '{name}': contains a NUL (0x00) character; is the file damaged or not UTF-8 text?")
            continue
        if name in REQUIRED and not value:
            errors.append(f"{where}, column '{name}': empty value; every row needs {', '.join(REQUIRED)}.")
        limit = MAX_LENGTHS.get(name)
        if limit and len(value) > limit:
            errors.append(f"{where}, column '{name}': value '{value[:40]}...' is longer than {limit} characters.")
        row[name] = value
    return row


def validate_rows(*, study: Study, rows: Iterable[tuple[int, object]], filename: str) -> list[dict]:
    """Check every row; returns clean rows or raises ItemImportError listing every problem."""
    errors: list[str] = []
    clean, first_line = [], {}
    existing = set(Item.objects.filter(study=study).values_list("item_id", flat=True))
    for line, raw in rows:
        row = _clean_row(line, raw, filename, errors)
        if row is None:
            continue
        item_id = row.get("item_id", "")
        if item_id in first_line:
            errors.append(f"{filename}: line {line}, column 'item_id': '{item_id}' appears again (first on line {first_line[item_id]}).")
        elif item_id in existing:
            errors.append(f"{filename}: line {line}, column 'item_id': '{item_id}' already exists in study '{study.slug}'.")
        first_line.setdefault(item_id, line)
        clean.append(row)
    if not clean and not errors:
        errors.append(f"{filename}: the file has no rows.")
    if errors:
        raise ItemImportError(errors)
    return clean


@transaction.atomic
def items_import(*, study: Study, rows: list[dict]) -> ImportResult:
    """Create the (already validated) items and any item groups they name, all or nothing."""
    groups = {g.name: g for g in ItemGroup.objects.filter(study=study)}
    created_groups = 0
    for name in dict.fromkeys(row["group"] for row in rows):
        if name not in groups:
            groups[name] = ItemGroup.objects.create(study=study, name=name)
            created_groups += 1
    items = [
        Item(study=study, group=groups[row["group"]], item_id=row["item_id"], source=row["source"],
             title=row["title"], query=row["query"], response=row["response"])
        for row in rows
    ]
    for item in items:
        item.full_clean(exclude=["study", "group"], validate_unique=False)
    Item.objects.bulk_create(items, batch_size=500)
    return ImportResult(items_created=len(items), groups_created=created_groups)


def import_file(*, study: Study, data: bytes, filename: str, fmt: str | None = None) -> ImportResult:
    """Read, validate and import one file (the admin's path; the command adds a progress bar)."""
    rows = read_rows(data, filename=filename, fmt=fmt)
    return items_import(study=study, rows=validate_rows(study=study, rows=rows, filename=filename))

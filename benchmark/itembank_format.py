"""Reading the item-bank JSONL exchange format written by ``psychometrics``' ``export_items``.

One JSON object per line::

    {"item_id": "...", "source": "...", "title": "..." | null, "query": "...", "response": "...",
     "correlations": [{"family": "pvq", "dimension": "Benevolence", "rho": 0.41, "p_value": 0.003, "n": 46}, ...]}

``rho`` and ``p_value`` may be null (constant ratings). Dimension names are matched like the
psychometrics app does (case, spaces, hyphens and underscores ignored) and stored canonically.
Every line is validated before anything is stored; the first problem is reported with its line number.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from psychometrics.stats.dimensions import CUSTOM, canonical_dimension


class ItemBankFormatError(ValueError):
    """A malformed item-bank file; the message names the file and line."""


@dataclass
class ParsedCorrelation:
    family: str
    dimension: str
    rho: float | None
    p_value: float | None
    n: int


@dataclass
class ParsedItem:
    item_id: str
    source: str
    title: str
    query: str
    response: str
    correlations: list[ParsedCorrelation] = field(default_factory=list)


def _number(value, *, what: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number or null, got {value!r}")
    if math.isnan(value):
        return None
    if not low <= value <= high:
        raise ValueError(f"{what} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _no_nul(value: str, key: str) -> str:
    # PostgreSQL text cannot hold NUL; in an item bank it can only be corruption.
    if "\x00" in value:
        raise ValueError(f"{key!r} contains a NUL (\\u0000) character")
    return value


def _short(value: str, key: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"{key!r} is longer than {limit} characters: {value[:40]!r}...")
    return value


def _text(record: dict, key: str, *, required: bool, limit: int | None = None) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"{key!r} must be a non-empty string, got {value!r}")
    if limit is not None:
        _short(value, key, limit)
    return _no_nul(value, key)


def parse_item(record) -> ParsedItem:
    """Validate one decoded line; raises ValueError with a message naming the field and value."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    item_id = record.get("item_id")
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise ValueError(f"'item_id' must be a non-empty string, got {record.get('item_id')!r}")
    if len(item_id) > 128:
        raise ValueError(f"'item_id' is longer than 128 characters: {item_id[:40]!r}...")
    _no_nul(item_id, "item_id")
    correlations_raw = record.get("correlations", [])
    if not isinstance(correlations_raw, list):
        raise ValueError(f"'correlations' must be a list, got {correlations_raw!r}")
    correlations, seen = [], set()
    for index, entry in enumerate(correlations_raw):
        where = f"correlations[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object, got {entry!r}")
        dimension_raw, family_raw = entry.get("dimension"), entry.get("family")
        if not isinstance(dimension_raw, str) or not dimension_raw.strip():
            raise ValueError(f"{where}.dimension must be a non-empty string, got {dimension_raw!r}")
        if not isinstance(family_raw, str) or not family_raw.strip():
            raise ValueError(f"{where}.family must be a non-empty string, got {family_raw!r}")
        _short(_no_nul(dimension_raw, f"{where}.dimension"), f"{where}.dimension", 64)
        _short(_no_nul(family_raw, f"{where}.family"), f"{where}.family", 32)
        family, dimension = canonical_dimension(dimension_raw)
        if family == CUSTOM:
            family = family_raw.strip()
        elif family_raw.strip().lower() != family:
            raise ValueError(f"{where}: dimension {dimension_raw!r} belongs to family {family!r}, not {family_raw!r}")
        if (family, dimension) in seen:
            raise ValueError(f"{where}: {family}/{dimension} appears twice")
        seen.add((family, dimension))
        n = entry.get("n", 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{where}.n must be a non-negative integer, got {n!r}")
        correlations.append(ParsedCorrelation(
            family=family,
            dimension=dimension,
            rho=_number(entry.get("rho"), what=f"{where}.rho", low=-1, high=1),
            p_value=_number(entry.get("p_value"), what=f"{where}.p_value", low=0, high=1),
            n=n,
        ))
    return ParsedItem(
        item_id=item_id.strip(),
        source=_text(record, "source", required=False, limit=64),
        title=_text(record, "title", required=False),
        query=_text(record, "query", required=True),
        response=_text(record, "response", required=True),
        correlations=correlations,
    )


def read_itembank(path: str | Path) -> list[ParsedItem]:
    """Every item of a JSONL item-bank file, or :class:`ItemBankFormatError` naming the first bad line."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ItemBankFormatError(f"{path}: cannot open ({exc.strerror})") from exc
    items: list[ParsedItem] = []
    first_line: dict[str, int] = {}
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    item = parse_item(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ItemBankFormatError(f"{path} line {number} column {exc.colno}: invalid JSON ({exc.msg})") from exc
                except ValueError as exc:
                    raise ItemBankFormatError(f"{path} line {number}: {exc}") from exc
                if item.item_id in first_line:
                    raise ItemBankFormatError(
                        f"{path} line {number}: item_id {item.item_id!r} already used on line {first_line[item.item_id]}"
                    )
                first_line[item.item_id] = number
                items.append(item)
        except UnicodeDecodeError as exc:
            raise ItemBankFormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not items:
        raise ItemBankFormatError(f"{path}: no items (the file is empty)")
    return items

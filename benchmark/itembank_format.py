"""Reading the item-bank JSONL exchange format written by ``psychometrics``' ``export_items``.

An optional first line, the header, declares the rule set of the selection the file carries::

    {"itembank_format": 2, "selection": {"threshold": 0.3, "alpha": 0.05, "fdr": true, ...}, "source": {...}}

then one JSON object per item::

    {"item_id": "...", "source": "...", "title": "..." | null, "query": "...", "response": "...",
     "correlations": [{"family": "pvq", "dimension": "Benevolence", "rho": 0.41, "p_value": 0.003, "n": 46,
                       "p_adjusted": 0.02 | null, "selected": true}, ...]}

``rho`` and ``p_value`` may be null (constant ratings); ``p_adjusted`` is null when no correction
was applied. With a header every correlation says whether it is ``selected``; without one (files
written before selections were exported) none may, and runs apply the default rule. Dimension
names are matched like the psychometrics app does (case, spaces, hyphens and underscores ignored)
and stored canonically. Every line is validated before anything is stored; the first problem is
reported with its line number.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from psychometrics.stats.dimensions import CUSTOM, canonical_dimension


class ItemBankFormatError(ValueError):
    """A malformed item-bank file; the message names the file and line."""


FORMAT_VERSION = 2
HEADER_KEY = "itembank_format"


@dataclass
class ParsedCorrelation:
    family: str
    dimension: str
    rho: float | None
    p_value: float | None
    n: int
    p_adjusted: float | None = None
    selected: bool | None = None


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
        selected = entry.get("selected")
        if selected is not None and not isinstance(selected, bool):
            raise ValueError(f"{where}.selected must be true or false, got {selected!r}")
        correlations.append(ParsedCorrelation(
            family=family,
            dimension=dimension,
            rho=_number(entry.get("rho"), what=f"{where}.rho", low=-1, high=1),
            p_value=_number(entry.get("p_value"), what=f"{where}.p_value", low=0, high=1),
            n=n,
            p_adjusted=_number(entry.get("p_adjusted"), what=f"{where}.p_adjusted", low=0, high=1),
            selected=selected,
        ))
    return ParsedItem(
        item_id=item_id.strip(),
        source=_text(record, "source", required=False, limit=64),
        title=_text(record, "title", required=False),
        query=_text(record, "query", required=True),
        response=_text(record, "response", required=True),
        correlations=correlations,
    )


@dataclass
class ParsedBank:
    """A whole file: the header's selection rule set (None without a header) and the items."""

    selection_rules: dict | None
    items: list[ParsedItem]


def parse_header(record: dict) -> dict:
    """Validate the header object; returns the selection rule set (threshold, alpha, fdr and any further keys)."""
    version = record.get(HEADER_KEY)
    if isinstance(version, bool) or not isinstance(version, int) or not 2 <= version <= FORMAT_VERSION:
        raise ValueError(f"{HEADER_KEY!r} must be {FORMAT_VERSION}, got {version!r}")
    rules = record.get("selection")
    if not isinstance(rules, dict):
        raise ValueError(f"'selection' must be an object with threshold, alpha and fdr, got {rules!r}")
    _number(rules.get("threshold"), what="selection.threshold", low=0, high=1)
    if rules.get("threshold") is None:
        raise ValueError("selection.threshold must be a number between 0 and 1, got null")
    alpha = _number(rules.get("alpha"), what="selection.alpha", low=0, high=1)
    if alpha is None or alpha == 0:
        raise ValueError(f"selection.alpha must be in (0, 1], got {rules.get('alpha')!r}")
    if not isinstance(rules.get("fdr"), bool):
        raise ValueError(f"selection.fdr must be true or false, got {rules.get('fdr')!r}")
    source = record.get("source", {})
    if not isinstance(source, dict):
        raise ValueError(f"'source' must be an object, got {source!r}")
    return {**rules, **({"source": source} if source else {})}


def read_itembank(path: str | Path) -> list[ParsedItem]:
    """Every item of a JSONL item-bank file, or :class:`ItemBankFormatError` naming the first bad line."""
    return read_itembank_file(path).items


def read_itembank_file(path: str | Path) -> ParsedBank:
    """A JSONL item-bank file with its optional header, or :class:`ItemBankFormatError` naming the first bad line."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ItemBankFormatError(f"{path}: cannot open ({exc.strerror})") from exc
    items: list[ParsedItem] = []
    first_line: dict[str, int] = {}
    rules: dict | None = None
    header_line = None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if isinstance(record, dict) and HEADER_KEY in record:
                        if items or header_line is not None:
                            raise ValueError(f"the header ({HEADER_KEY!r}) must be the first line of the file")
                        rules, header_line = parse_header(record), number
                        continue
                    item = parse_item(record)
                    _check_selection(item, has_header=header_line is not None)
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
    return ParsedBank(selection_rules=rules, items=items)


def _check_selection(item: ParsedItem, *, has_header: bool) -> None:
    """A selection is all or nothing: with a header every correlation has ``selected``, without one none has."""
    for index, correlation in enumerate(item.correlations):
        if has_header and correlation.selected is None:
            raise ValueError(f"correlations[{index}].selected is missing; the header declares a selection, so "
                             "every correlation must say true or false")
        if not has_header and correlation.selected is not None:
            raise ValueError(f"correlations[{index}].selected is given but the file has no header line declaring "
                             f"the selection's rule set ({{\"{HEADER_KEY}\": {FORMAT_VERSION}, \"selection\": ...}})")

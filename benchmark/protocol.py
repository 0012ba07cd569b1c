"""A run's scoring protocol: everything that decides what its scores mean, as one canonical dict and its digest.

Two runs are comparable only when they share a protocol: the same item bank (name and version),
the same item selection, prompt set, sampling temperature, token limit, provider parameters,
answer parser and scoring mode. The results pages and API put only runs of one protocol side by
side (docs/benchmark.md, "Scoring protocol").

The item selection is one of

- ``{"source": "bank", "rules": {...}}``: the selection stored with the item bank (the ``selected``
  flags its analysis wrote, e.g. after ``analyze --fdr``), with the bank's rule set;
- ``{"source": "rule", "threshold": t, "alpha": a, "fdr": bool, "reason": ...}``: items chosen here
  from ρ and p, because the run overrode the bank's selection (``reason`` "override") or the bank
  stores none (``reason`` "bank has no stored selection", an item bank file from before selections
  were exported).

The model (provider, name, endpoint) and the condition (baseline, persona …) are not part of the
protocol: they are what a comparison compares. Neither are settings that cannot change an answer
(concurrency, timeouts, retries, the minimum parse rate) nor log-probabilities (they are stored
beside the rating, never instead of it).

Pure Python, no Django.
"""

import hashlib
import json
from collections.abc import Mapping

from benchmark.prompts import PROMPT_SET

PROTOCOL_VERSION = 1
SHORT_DIGEST = 12
DEFAULT_THRESHOLD = 0.3
DEFAULT_ALPHA = 0.05
DEFAULT_MODE = "positive"
MODES = ("positive", "signed")  # ρ ≥ threshold, or |ρ| ≥ threshold with reverse-keyed items (benchmark.keying)
# The paper's run settings (Value Portrait §3.4.1, §4.1.1): temperature 0, its six prompts; 64 tokens is
# this platform's default answer limit, ample for one of the six phrases.
PAPER_TEMPERATURE = 0.0
PAPER_MAX_TOKENS = 64
SELECTION_FROM_BANK = "bank"
SELECTION_BY_RULE = "rule"
REASON_OVERRIDE = "override"
REASON_NO_STORED_SELECTION = "bank has no stored selection"
# Published scores were parsed by the paper's own code, not by this platform's parser.
PUBLISHED_PARSER = "published"


def selection_rule(*, threshold: float, alpha: float, fdr: bool = False, reason: str = REASON_OVERRIDE) -> dict:
    """An item selection made from ρ and p (see the module docstring)."""
    return {"source": SELECTION_BY_RULE, "threshold": float(threshold), "alpha": float(alpha), "fdr": bool(fdr),
            "reason": reason}


def selection_from_bank(rules: Mapping) -> dict:
    """The item bank's stored selection, with the rule set the bank file declared."""
    return {"source": SELECTION_FROM_BANK, "rules": dict(rules)}


def protocol_build(
    *,
    bank_name: str,
    bank_version: str,
    selection: Mapping,
    mode: str,
    temperature: float | None,
    max_tokens: int | None,
    provider_params: Mapping | None,
    parser: str,
    prompts: str = PROMPT_SET,
) -> dict:
    """The canonical protocol dict (plain JSON types, numbers normalised so 0 and 0.0 are one protocol)."""
    return {
        "version": PROTOCOL_VERSION,
        "itembank": {"name": bank_name, "version": str(bank_version)},
        "selection": _canonical(dict(selection)),
        "mode": mode,
        "prompts": prompts,
        "temperature": None if temperature is None else float(temperature),
        "max_tokens": None if max_tokens is None else int(max_tokens),
        "provider_params": _canonical(dict(provider_params or {})),
        "parser": parser,
    }


def _canonical(value: dict) -> dict:
    """Plain JSON types only (tuples become lists, keys strings): what the database's JSON field gives back."""
    return json.loads(json.dumps(value, allow_nan=False))


def protocol_digest(protocol: Mapping) -> str:
    """sha256 (hex) of the protocol's canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(protocol, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def short_digest(digest: str) -> str:
    """The digest as displayed: its first ``SHORT_DIGEST`` hex digits."""
    return digest[:SHORT_DIGEST]


def selection_is_default(selection: Mapping) -> bool:
    """Whether a selection is the paper's: ρ ≥ 0.3 with unadjusted p < 0.05 (stored in the bank or applied here)."""
    rules = selection.get("rules", {}) if selection.get("source") == SELECTION_FROM_BANK else selection
    try:
        return (float(rules.get("threshold")) == DEFAULT_THRESHOLD and float(rules.get("alpha")) == DEFAULT_ALPHA
                and not rules.get("fdr"))
    except (TypeError, ValueError):
        return False


def is_paper_protocol(protocol: Mapping) -> bool:
    """Whether a protocol uses the paper's settings: the six prompts, temperature 0, 64 tokens, the default
    selection in positive mode, no extra provider parameters (any item bank, any parser)."""
    if not protocol:
        return False
    return (protocol.get("prompts") == PROMPT_SET and protocol.get("temperature") == PAPER_TEMPERATURE
            and protocol.get("max_tokens") == PAPER_MAX_TOKENS and protocol.get("mode") == DEFAULT_MODE
            and not protocol.get("provider_params") and selection_is_default(protocol.get("selection") or {}))


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def selection_summary(selection: Mapping) -> str:
    """One line a visitor can read, e.g. "bank's selection (|ρ| ≥ 0.3, BH-adjusted p < 0.05)"."""
    if selection.get("source") == SELECTION_FROM_BANK:
        rules = selection.get("rules") or {}
        p = "BH-adjusted p" if rules.get("fdr") else "p"
        return f"bank's selection (|ρ| ≥ {_number(rules.get('threshold'))}, {p} < {_number(rules.get('alpha'))})"
    p = "BH-adjusted p" if selection.get("fdr") else "p"
    return f"ρ ≥ {_number(selection.get('threshold'))}, {p} < {_number(selection.get('alpha'))}"


def protocol_summary(protocol: Mapping) -> str:
    """A human-readable summary of a protocol (no endpoint: protocols never contain one)."""
    if not protocol:
        return "unknown protocol"
    bank = protocol.get("itembank") or {}
    parts = [
        f"{bank.get('name')} v{bank.get('version')}",
        selection_summary(protocol.get("selection") or {}),
        f"{protocol.get('mode')} mode",
        f"prompts {protocol.get('prompts')}",
        f"temperature {_number(protocol.get('temperature'))}",
        f"max {_number(protocol.get('max_tokens'))} tokens",
        f"parser {protocol.get('parser')}",
    ]
    if protocol.get("provider_params"):
        parts.append("params " + json.dumps(protocol["provider_params"], sort_keys=True))
    return " · ".join(parts)

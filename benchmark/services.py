"""Services that change benchmark state: import item banks and references, create and execute runs.

Execution (``run_execute``) is resumable and safe to run for disjoint item subsets in parallel:
it only ever adds the answers a run is missing, each answer is unique per (run, item, prompt),
and ``run_finalize`` scores the run once every answer is in.

pandas and :mod:`benchmark.scoring` are imported where they are used: a run is checked before its first
request on plain columns (:func:`selection_check`, :mod:`benchmark.keying`), and pandas, a third of a second
of CPU, loads while the requests are out, in the thread that prepares the scoring (:class:`_ScoringPreparation`).
"""

from __future__ import annotations

import csv
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from benchmark import credentials, keying, protocol
from benchmark.itembank_format import ItemBankFormatError, read_itembank_file
from benchmark.models import (
    LLM,
    PROMPT_COUNT,
    Answer,
    BankItem,
    Completion,
    HumanReference,
    HumanReferenceValue,
    ItemBank,
    ItemCorrelation,
    Run,
    Score,
)
from benchmark.parsing import expected_rating, parse_rating
from benchmark.presets import canonical_steer_value, generation_preset, persona_prompt, steering_prompt
from benchmark.prompts import PromptItem, build_prompt
from benchmark.providers import (
    PROVIDERS,
    GenerationSettings,
    PermanentProviderError,
    ProviderError,
    get_provider,
)
from benchmark.runner import AUTO, PendingRequest, RequestResult, RetryPolicy, RunAborted, run_requests
from config.bulk import insert_rows
from psychometrics.stats.dimensions import CUSTOM, FAMILIES, canonical_dimension

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

_SQL_CHUNK = 500  # keys per IN (...) query, well under SQLite's parameter limit


class BenchmarkError(Exception):
    """A benchmark operation that cannot proceed; the message is meant for the researcher."""

    ITEMBANK_EXISTS = "item bank {name!r} already exists; choose another --name or pass --replace"
    ITEMBANK_IN_USE = "item bank {name!r} has runs; it cannot be replaced (import it under a new name)"
    ONE_CONDITION = "give at most one of a system prompt, a persona or a steering value"
    UNKNOWN_PROVIDER = "unknown provider {provider!r}; choose one of {choices}"
    BAD_SETTING = "setting {name!r}: {problem}"
    RUN_FAILED = "run {run_id} ({model}) stopped: {cause}"
    LOW_PARSE_RATE = (
        "{model} answered, but only {parsed} of {answered} answers ({rate:.0%}) could be read as one of the six "
        "phrases, below the minimum parse rate {minimum:.0%}; no scores were published. The raw answers are kept "
        "on the run: check the model's output (or lower min_parse_rate) and resume it."
    )
    CUT_OFF = (
        " {cut_off} of the {answered} answers were cut off at the token limit (max_tokens {max_tokens}, finish "
        "reason {reasons}): a reasoning model needs room to think before it answers; start a new run with a larger "
        "--max-tokens (e.g. 2048) or a reasoning --preset."
    )
    REFUSED = "refused before any request: {problem}"
    BAD_PARAM = "--param {raw!r}: {problem}"
    NO_CORRELATIONS = (
        "item bank {bank!r} has no item correlations: no item is keyed to any dimension, so there is nothing to "
        "score; import a bank with its correlations (psychometrics' export_items writes them)"
    )
    NO_KEYED_ITEM = (
        "no item of bank {bank!r}{answered} is keyed to any {families}dimension at {rule}: nothing to score "
        "({strongest}); lower --threshold (the run's 'threshold' setting){others} or use an item bank from a bigger study"
    )
    FAMILY_NOT_MEASURED = "families: bank {bank!r} has no correlations for family {family!r} (it measures: {measured})"
    NOTHING_SCORED = (
        "{model}: none of the items keyed to a dimension has a parsed answer ({parsed} of {answered} answers "
        "parsed): nothing to score, no scores were published. The raw answers are kept on the run."
    )
    NOTHING_KEYED = (
        "{model}: no item of the run is keyed to any dimension at {rule}: nothing to score, no scores were "
        "published. The raw answers are kept on the run."
    )
    SCORING_FAILED = (
        "scoring run {run_id} failed ({cause}); no scores were published and the raw answers are kept on the run. "
        "This is a bug: please report it with the run id."
    )
    INTERRUPTED = (
        "interrupted: no heartbeat from the process running it for more than {stale:g} s (it was killed, or its "
        "machine stopped). The answers stored so far are kept; resume with: manage.py run_benchmark --resume {run_id}"
    )


def _full_clean(instance) -> None:
    """``full_clean`` with its problems as one :class:`BenchmarkError` a researcher can act on."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
        raise BenchmarkError(f"invalid {instance._meta.verbose_name}: {problems}") from exc


DEFAULT_RUN_SETTINGS = {
    "threshold": protocol.DEFAULT_THRESHOLD,
    "alpha": protocol.DEFAULT_ALPHA,
    "mode": "positive",
    "temperature": None,  # 0 where the model accepts a temperature, none sent where it does not
    "max_tokens": 64,
    "logprobs": False,
    "params": {},
    "concurrency": 16,  # or "auto": adaptive (AIMD) up to max_concurrency
    "max_concurrency": 256,
    "min_parse_rate": 0.5,
    "max_attempts": 8,
    "timeout": 120.0,
}


# --- item banks ---------------------------------------------------------------------------------


@transaction.atomic
def itembank_import(
    *,
    path: str | Path,
    name: str,
    version: str = "1",
    description: str = "",
    is_private: bool = False,
    replace: bool = False,
    owner=None,
) -> ItemBank:
    """Import a JSONL item bank; every line is validated first and nothing is stored on any error.

    A file with a header keeps its selection: the rule set on the bank, ``selected`` and
    ``p_adjusted`` on each correlation (``benchmark.itembank_format``).
    """
    parsed = read_itembank_file(path)
    items = parsed.items
    existing = ItemBank.objects.filter(name=name).first()
    if existing is not None:
        if not replace:
            raise BenchmarkError(BenchmarkError.ITEMBANK_EXISTS.format(name=name))
        if existing.runs.exists():
            raise BenchmarkError(BenchmarkError.ITEMBANK_IN_USE.format(name=name))
        existing.delete()
    bank = ItemBank(name=name, version=version, description=description, is_private=is_private, owner=owner,
                    selection_rules=parsed.selection_rules)
    _full_clean(bank)
    bank.save()
    rows = BankItem.objects.bulk_create(
        BankItem(bank=bank, item_id=item.item_id, source=item.source, title=item.title, query=item.query,
                 response=item.response)
        for item in items
    )
    # A bank has ~20 correlations per item: plain values, inserted as tuples (config.bulk) -- bulk_create's model
    # objects took most of an import's time, which run_benchmark --items spends before its first request.
    insert_rows(
        ItemCorrelation, ("item", "family", "dimension", "rho", "p_value", "n", "p_adjusted", "selected"),
        (
            (row.pk, c.family, c.dimension, c.rho, c.p_value, c.n, c.p_adjusted, c.selected)
            for row, item in zip(rows, items, strict=True)
            for c in item.correlations
        ),
    )
    return bank


def itembank_for_file(*, path: str | Path) -> ItemBank:
    """The item bank of a JSONL file, imported once under a name derived from the file's content hash."""
    import hashlib

    path = Path(path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError as exc:
        raise ItemBankFormatError(f"{path}: cannot open ({exc.strerror})") from exc
    name = f"{path.stem[:80]}-{digest}"  # within ItemBank.name's 100 characters
    return ItemBank.objects.filter(name=name).first() or itembank_import(
        path=path, name=name, description=f"Imported from {path.name} for a benchmark run."
    )


def itembank_resolve(*, path: str | Path | None = None, name: str | None = None) -> ItemBank:
    """The bank a command names: a JSONL file (``--items``, imported once) or an imported bank's name (``--itembank``)."""
    if path:
        return itembank_for_file(path=path)
    bank = ItemBank.objects.filter(name=name).first()
    if bank is None:
        names = ", ".join(ItemBank.objects.values_list("name", flat=True)) or "none imported yet"
        raise BenchmarkError(f"no item bank named {name!r} (known: {names})")
    return bank


# --- runs -----------------------------------------------------------------------------------------


SELECTION_SETTINGS = ("threshold", "alpha", "fdr")


def run_item_selection(*, bank: ItemBank, settings: dict | None) -> dict:
    """The item selection of a new run on ``bank`` (:mod:`benchmark.protocol`).

    Any of ``threshold``, ``alpha``, ``fdr`` given (not None) overrides the bank's stored selection
    with a rule (the others at their defaults); otherwise the bank's own selection is scored, or,
    for a bank stored without one, the default rule (recorded as such).
    """
    given = {key: value for key, value in (settings or {}).items() if key in SELECTION_SETTINGS and value is not None}
    if given or bank.selection_rules is None:
        return protocol.selection_rule(
            threshold=given.get("threshold", protocol.DEFAULT_THRESHOLD), alpha=given.get("alpha", protocol.DEFAULT_ALPHA),
            fdr=bool(given.get("fdr", False)),
            reason=protocol.REASON_OVERRIDE if given else protocol.REASON_NO_STORED_SELECTION,
        )
    return protocol.selection_from_bank(bank.selection_rules)


def _selection_settings(selection: dict) -> dict:
    """``threshold``, ``alpha``, ``fdr`` and ``selection`` for a run's settings: the rule's, or the bank's rule set."""
    rules = selection.get("rules", {}) if selection["source"] == protocol.SELECTION_FROM_BANK else selection
    return {"threshold": rules.get("threshold", protocol.DEFAULT_THRESHOLD), "alpha": rules.get("alpha", protocol.DEFAULT_ALPHA),
            "fdr": bool(rules.get("fdr", False)), "selection": selection}


def _whole_number(settings: dict, name: str, expected: str) -> int:
    try:
        return int(settings[name])
    except (TypeError, ValueError):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(
            name=name, problem=f"must be {expected}, got {settings[name]!r}")) from None


def _validated_settings(settings: dict | None) -> dict:
    if "api_key_env" in (settings or {}):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(
            name="api_key_env", problem="keys come only from operator-configured credentials; name one with 'credential'"))
    merged = {**DEFAULT_RUN_SETTINGS, **{key: value for key, value in (settings or {}).items() if value is not None}}
    if not isinstance(merged.get("fdr", False), bool):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(name="fdr", problem=f"must be true or false, got {merged['fdr']!r}"))
    unknown = set(merged) - set(DEFAULT_RUN_SETTINGS) - {"persona", "steer", "preset", "fdr", "families"}
    if unknown:
        problem = ("set by the server: what a run sends is recorded, not chosen" if "request" in unknown
                   else "unknown setting")
        name = "request" if "request" in unknown else sorted(unknown)[0]
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(name=name, problem=problem))
    params = merged["params"]
    if not isinstance(params, dict) or not all(isinstance(key, str) and key for key in params):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(
            name="params", problem=f"must be an object of provider parameters, got {params!r}"))
    temperature = merged["temperature"]
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, int | float)
                                    or not math.isfinite(temperature) or temperature < 0):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(
            name="temperature", problem=f"must be a number ≥ 0 or null (the model's default), got {temperature!r}"))
    max_tokens = merged["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 1_000_000:
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(
            name="max_tokens", problem=f"must be a whole number between 1 and 1000000, got {max_tokens!r}"))
    if merged["concurrency"] != AUTO:
        merged["concurrency"] = _whole_number(merged, "concurrency", f"a whole number or {AUTO!r}")
    merged["max_concurrency"] = _whole_number(merged, "max_concurrency", "a whole number")
    checks = [
        ("threshold", 0 <= float(merged["threshold"]) <= 1, "must be between 0 and 1"),
        ("alpha", 0 < float(merged["alpha"]) <= 1, "must be in (0, 1]"),
        ("mode", merged["mode"] in protocol.MODES, f"must be one of {', '.join(protocol.MODES)}"),
        ("logprobs", isinstance(merged["logprobs"], bool), "must be true or false"),
        ("concurrency", merged["concurrency"] == AUTO or 1 <= merged["concurrency"] <= 512,
         f"must be between 1 and 512 or {AUTO!r}"),
        ("max_concurrency", 1 <= merged["max_concurrency"] <= 512, "must be between 1 and 512"),
        ("max_attempts", 1 <= int(merged["max_attempts"]) <= 50, "must be between 1 and 50"),
        ("min_parse_rate", 0 <= float(merged["min_parse_rate"]) <= 1, "must be between 0 and 1"),
        ("timeout", float(merged["timeout"]) > 0, "must be positive"),
    ]
    for name, ok, problem in checks:
        if not ok:
            raise BenchmarkError(BenchmarkError.BAD_SETTING.format(name=name, problem=f"{problem}, got {merged[name]!r}"))
    if merged.get("families") is not None:
        merged["families"] = _validated_families(merged["families"])
    return merged


def parse_param(raw: str) -> tuple[str, object]:
    """One ``--param KEY=VALUE``: VALUE is JSON (``2048``, ``true``, ``'"low"'``, ``'{"type": "enabled", ...}'``);
    a bare word that is not JSON (``low``, ``gpt-4o``) is taken as that string."""
    import json
    import re

    key, sep, value = raw.partition("=")
    key = key.strip()
    if not sep or not key:
        raise BenchmarkError(BenchmarkError.BAD_PARAM.format(raw=raw, problem="expected KEY=VALUE"))
    try:
        return key, json.loads(value)
    except json.JSONDecodeError as exc:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:/-]*", value.strip()):
            return key, value.strip()
        raise BenchmarkError(BenchmarkError.BAD_PARAM.format(
            raw=raw, problem=f"VALUE is not JSON ({exc.msg} at column {exc.colno}); quote a string as '\"text\"'"
        )) from None


def _generation(settings: dict) -> GenerationSettings:
    temperature = settings.get("temperature")
    return GenerationSettings(
        temperature=None if temperature is None else float(temperature),
        max_tokens=settings.get("max_tokens"),
        logprobs=bool(settings.get("logprobs")),
        params=settings.get("params") or {},
    )


def _shaped_settings(*, provider: str, model: str, settings: dict | None) -> dict:
    """A run's settings with a preset applied, validated, and checked against the model's family.

    The result records what the run will send (``request``: family, body parameters, what is left
    out and why) and the temperature actually sent (None = none). A combination the model's API
    would refuse raises :class:`BenchmarkError` saying why, before the run exists.
    """
    given = dict(settings or {})
    if given.get("preset"):
        try:
            preset = generation_preset(str(given["preset"]), provider=provider)
        except ValueError as exc:
            raise BenchmarkError(BenchmarkError.BAD_SETTING.format(name="preset", problem=exc)) from None
        if given.get("max_tokens") is None:
            given["max_tokens"] = preset.max_tokens
        given["params"] = {**preset.params, **(given.get("params") or {})}
    merged = _validated_settings(given)
    cls = PROVIDERS[provider]
    generation = _generation(merged)
    try:
        merged["request"] = cls.describe_request(model, generation)
        merged["temperature"] = cls.shape_for(model, generation).temperature
    except PermanentProviderError as exc:
        raise BenchmarkError(BenchmarkError.REFUSED.format(problem=exc)) from None
    return merged


def _validated_families(value) -> list[str]:
    """``families``: the dimension families a run scores (default: every family its bank's correlations measure)."""
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(
            name="families", problem=f"must be a list of family names, e.g. [\"pvq\", \"higher_pvq\"], got {value!r}"))
    families = [name.strip().lower() for name in names]
    if not families or not all(families):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(name="families", problem=f"an empty family name in {value!r}"))
    if len(set(families)) < len(families):
        raise BenchmarkError(BenchmarkError.BAD_SETTING.format(name="families", problem=f"a family given twice in {value!r}"))
    return families


def _selection_of(settings: dict) -> dict:
    """A run's item selection (:mod:`benchmark.protocol`): ``settings["selection"]`` as ``run_create`` stores it,
    or, for a run from before protocols, the rule its own threshold, alpha and fdr settings make."""
    selection = settings.get("selection")
    if isinstance(selection, dict):
        return selection
    return protocol.selection_rule(threshold=settings.get("threshold", protocol.DEFAULT_THRESHOLD),
                                   alpha=settings.get("alpha", protocol.DEFAULT_ALPHA), fdr=bool(settings.get("fdr")))


def _rule_text(settings: dict) -> str:
    """The run's selection in words: ``rho >= 0.3, p < 0.05`` (``|rho|`` in signed mode, ``FDR-adjusted p`` with
    fdr), prefixed ``the bank's stored selection`` when the run scores the selection its item bank carries."""
    selection = _selection_of(settings)
    from_bank = selection.get("source") == protocol.SELECTION_FROM_BANK
    rules = selection.get("rules", {}) if from_bank else selection
    threshold = float(rules.get("threshold", protocol.DEFAULT_THRESHOLD))
    alpha = float(rules.get("alpha", protocol.DEFAULT_ALPHA))
    rho = "|rho|" if settings.get("mode", "positive") == "signed" else "rho"
    p_value = "FDR-adjusted p" if rules.get("fdr") else "p"
    text = f"{rho} >= {threshold:g}, {p_value} < {alpha:g}"
    return f"the bank's stored selection ({text})" if from_bank else text


def _in_family_order(families) -> list[str]:
    """Family names in the canonical order (pvq, higher_pvq, bfi), custom families after them by name."""
    known = list(FAMILIES)
    return sorted(set(families), key=lambda family: (known.index(family) if family in known else len(known), family))


def _strongest_text(gap: keying.Gap) -> str:
    if gap.item_id is None:
        return f"no {gap.family} correlation has a rho"
    p_value = "p unknown" if math.isnan(gap.p_value) else f"p = {gap.p_value:.3g}"
    return f"strongest {gap.family} correlation: rho = {gap.rho:.3g}, {p_value}, item {gap.item_id} on {gap.dimension}"


def selection_check(*, bank: ItemBank, settings: dict, item_ids: Iterable[str] | None = None,
                    answers_file: str | None = None) -> None:
    """Raise :class:`BenchmarkError` if a family of the bank has no item keyed under a run's selection.

    Called before any request (``run_create``, ``run_execute``) and before imported answers are
    stored: a family the bank's correlations measure (``pvq``, ``bfi`` …) with no item under the
    run's selection (``settings["selection"]``: the bank's stored one or a threshold/alpha/fdr rule,
    :mod:`benchmark.keying`, the rule of :func:`benchmark.scoring.apply_selection`) in its ``mode`` would
    otherwise be sent to the model and then not scored.
    ``item_ids`` restricts the check to the items a file answers (``score_answers``).
    On the bank's correlation columns, without pandas (see the module's docstring).
    """
    from benchmark.selectors import bank_correlation_columns

    columns = bank_correlation_columns(bank)
    if not columns.family:
        raise BenchmarkError(BenchmarkError.NO_CORRELATIONS.format(bank=bank.name))
    measured = _in_family_order(columns.family)
    # The whole bank is selected first (an FDR rule adjusts over all its tests), then narrowed, as run_selection does.
    keyed, _ = keying.keyed(columns.rho, columns.p_value, columns.selected, _selection_of(settings),
                            mode=settings.get("mode", "positive"))
    scope = np.ones(len(columns.family), dtype=bool)
    families = settings.get("families")
    if families:
        missing = [family for family in families if family not in measured]
        if missing:
            raise BenchmarkError(BenchmarkError.FAMILY_NOT_MEASURED.format(
                family=missing[0], bank=bank.name, measured=", ".join(measured)))
        scope &= _member(columns.family, families)
    if item_ids is not None:
        scope &= _member(columns.item_id, item_ids)
    answered = f" answered in {answers_file}" if answers_file else ""
    if not scope.any():  # the file answers only items without correlations
        raise BenchmarkError(BenchmarkError.NO_KEYED_ITEM.format(
            bank=bank.name, answered=answered, families="", rule=_rule_text(settings),
            strongest="none of those items has a correlation", others=""))
    rows = np.flatnonzero(scope)
    in_scope = [[column[row] for row in rows] for column in (columns.item_id, columns.family, columns.dimension)]
    gaps = keying.unkeyed_families(in_scope[0], in_scope[1], in_scope[2], columns.rho[rows], columns.p_value[rows],
                                   keyed[rows])
    if gaps:
        order = _in_family_order(gap.family for gap in gaps)
        gaps.sort(key=lambda gap: order.index(gap.family))
        keyed_families = _in_family_order(columns.family[row] for row in rows[keyed[rows]])
        raise BenchmarkError(BenchmarkError.NO_KEYED_ITEM.format(
            bank=bank.name, answered=answered, families=" or ".join(gap.family for gap in gaps) + " ",
            rule=_rule_text(settings), strongest="; ".join(_strongest_text(gap) for gap in gaps),
            others=(f", score only the families that have keyed items (--families {','.join(keyed_families)})"
                    if keyed_families else "")))


def _member(values: tuple, wanted: Iterable) -> np.ndarray:
    """Which of ``values`` are in ``wanted``, as a boolean array."""
    wanted = set(wanted)
    return np.fromiter((value in wanted for value in values), dtype=bool, count=len(values))


def llm_get_or_create(*, provider: str, model: str, base_url: str = "") -> LLM:
    llm, _ = LLM.objects.get_or_create(
        provider=provider, name=model, base_url=base_url or "", defaults={"display_name": model}
    )
    return llm


@transaction.atomic
def run_create(
    *,
    bank: ItemBank,
    provider: str,
    model: str,
    base_url: str | None = None,
    settings: dict | None = None,
    system_prompt: str | None = None,
    persona: str | None = None,
    steer: str | None = None,
    credential: str | None = None,
    user=None,
) -> Run:
    """A pending run of ``model`` on ``bank`` under one condition (baseline, persona, steering or custom).

    ``credential`` names an operator-configured key (:mod:`benchmark.credentials`); ``user`` None means
    a management command, which may use any credential.
    """
    if provider not in PROVIDERS:
        raise BenchmarkError(BenchmarkError.UNKNOWN_PROVIDER.format(provider=provider, choices=", ".join(sorted(PROVIDERS))))
    if sum(bool(x) for x in (system_prompt, persona, steer)) > 1:
        raise BenchmarkError(BenchmarkError.ONE_CONDITION)
    requested = settings
    settings = _shaped_settings(provider=provider, model=model, settings=settings)
    settings.update(_selection_settings(run_item_selection(bank=bank, settings=requested)))
    condition = "baseline"
    try:
        if persona:
            system_prompt, condition = persona_prompt(persona), f"persona:{persona}"
            settings["persona"] = persona
        elif steer:
            steer = canonical_steer_value(steer)
            system_prompt, condition = steering_prompt(steer), f"steer:{steer}"
            settings["steer"] = steer
        elif system_prompt:
            condition = "custom"
    except ValueError as exc:
        raise BenchmarkError(str(exc)) from exc
    selection_check(bank=bank, settings=settings)  # before the run exists, so before any request
    try:
        chosen = credentials.resolve(provider=provider, base_url=base_url, credential=credential, user=user,
                                     default_base_url=PROVIDERS[provider].default_base_url)
    except credentials.CredentialError as exc:
        raise BenchmarkError(str(exc)) from exc
    run = Run(
        bank=bank,
        llm=llm_get_or_create(provider=provider, model=model, base_url=base_url or ""),
        provider=provider,
        model=model,
        base_url=base_url or "",
        credential=chosen.name if chosen else "",
        settings=settings,
        system_prompt=system_prompt or "",
        condition=condition,
        progress_total=bank.items.count() * PROMPT_COUNT,
        created_by=user,
    )
    _full_clean(run)
    run.save()
    return run


def _run_api_key(run: Run) -> str | None:
    """The key a run sends, from its credential, checked again at execution (grants and hosts may have changed)."""
    default_base_url = PROVIDERS[run.provider].default_base_url
    try:
        chosen = credentials.resolve(provider=run.provider, base_url=run.base_url or None,
                                     credential=run.credential or None, user=run.created_by,
                                     default_base_url=default_base_url)
    except credentials.CredentialError as exc:
        raise PermanentProviderError(f"{run.provider} model {run.model!r}: {exc}") from exc
    if chosen is None:
        return None
    key = chosen.key()
    if key is None:
        raise PermanentProviderError(
            f"{run.provider} model {run.model!r}: credential {chosen.name!r} has no key on this server; "
            "the operator sets its environment variable"
        )
    return key


def _provider_for(run: Run, api_key: str | None = None):
    """The run's provider; ``api_key`` (tests, benchmarks) replaces the credential's key but not the endpoint check."""
    settings = run.settings
    if api_key is None:
        api_key = _run_api_key(run)
    else:
        try:
            credentials.check_endpoint(base_url=run.base_url or None,
                                       default_base_url=PROVIDERS[run.provider].default_base_url)
        except credentials.CredentialError as exc:
            raise PermanentProviderError(f"{run.provider} model {run.model!r}: {exc}") from exc
    return get_provider(
        run.provider,
        model=run.model,
        base_url=run.base_url or None,
        api_key=api_key,
        settings=_generation(settings),
    )


def _in_chunks(values: list, size: int = _SQL_CHUNK) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# What an answer row stores, in this order (config.bulk.insert_rows): its completion's text, parsed, and the rest.
_ANSWER_FIELDS = ("run", "item", "prompt_index", "completion", "raw_text", "rating", "expected_rating", "finish_reason",
                  "created_at")
_COMPLETION_FIELDS = ("key", "provider", "model", "base_url", "request", "response_text", "logprobs", "finish_reason",
                      "created_at")


def _stored_completions(keys: list[str]) -> dict[str, tuple]:
    """key -> (pk, response text, logprobs, finish reason) of the cached completions among ``keys``."""
    rows = Completion.objects.filter(key__in=keys).values_list("key", "pk", "response_text", "logprobs", "finish_reason")
    return {key: rest for key, *rest in rows}


def _answer_rows(run: Run, tags: Iterable[tuple[int, int]], completion: tuple, now) -> Iterable[tuple]:
    """The answer rows (:data:`_ANSWER_FIELDS`) a stored ``completion`` (:func:`_stored_completions`) gives the
    (item pk, prompt index) ``tags`` of ``run``."""
    pk, text, logprobs, finish_reason = completion
    rating, expected = parse_rating(text), expected_rating(logprobs)
    return ((run.pk, item_pk, index, pk, text, rating, expected, finish_reason, now) for item_pk, index in tags)


COUNTS_SECONDS = 1.0  # run_execute recounts a run's answers (its progress) at most this often while requesting


def run_refresh_counts(run: Run) -> Run:
    """Recount a run's answers (safe with several workers writing: counts come from the database)."""
    counts = run.answers.aggregate(answered=Count("id"), parsed=Count("id", filter=Q(rating__isnull=False)))
    run.answered, run.parsed = counts["answered"], counts["parsed"]
    run.failed = run.answered - run.parsed
    run.progress_done = run.answered
    Run.objects.filter(pk=run.pk).update(
        answered=run.answered, parsed=run.parsed, failed=run.failed, progress_done=run.progress_done
    )
    return run


@dataclass
class ExecutionReport:
    cached: int = 0  # answers filled from the completion cache
    requested: int = 0  # completions fetched from the provider
    sent: int = 0  # HTTP requests, retries included
    retries: int = 0
    concurrency_settled: int | None = None  # requests in flight at the end (the AIMD limit with "auto")
    seconds: float = 0.0  # wall time spent requesting
    cpu_seconds: float = 0.0  # CPU of this process while requesting: HTTP, parsing, storing, progress
    preparing_cpu_seconds: float = 0.0  # CPU of scoring's preparation meanwhile (a thread), not in cpu_seconds



def _run_start(run_id: int) -> Run | None:
    """Mark a run running (it must be pending, running or interrupted); None if it may not run now.

    A paused or failed run continues only through run_reopen (run_resume, run_benchmark --resume): a chunk
    task still queued when the run was paused or stopped by a permanent error must not restart it. An
    interrupted run (no heartbeat for a while) does continue: a worker taking one of its chunks is alive.
    """
    run = Run.objects.select_related("bank").get(pk=run_id)
    started = Run.objects.filter(pk=run.pk, status__in=[Run.Status.PENDING, Run.Status.RUNNING, Run.Status.INTERRUPTED]).update(
        status=Run.Status.RUNNING, started_at=run.started_at or timezone.now(), error="", heartbeat_at=timezone.now()
    )
    if not started:
        return None
    run.refresh_from_db()
    return run


def _run_checked_provider(run: Run, api_key: str | None):
    """The run's provider after the selection check; either failing stops the run with the reason."""
    try:
        selection_check(bank=run.bank, settings=run.settings)
    except BenchmarkError as exc:  # runs created before the check existed, or a bank emptied since
        raise _run_failed(run, exc) from exc
    try:
        return _provider_for(run, api_key)
    except PermanentProviderError as exc:
        raise _run_failed(run, exc) from exc


def _run_failed(run: Run, cause) -> BenchmarkError:
    """Mark ``run`` failed because of ``cause`` (an exception or a message); the error to raise, naming the run."""
    _run_stop(run, Run.Status.FAILED, str(cause))
    return BenchmarkError(BenchmarkError.RUN_FAILED.format(run_id=run.pk, model=run.model, cause=cause))


def _run_fill(run: Run, provider, item_pks: list[int] | None, report: ExecutionReport,
              progress: Callable[[Run], None] | None) -> tuple[dict[str, list[tuple[int, int]]], dict[str, dict]]:
    """The requests a run still needs after answering what the completion cache holds (counted in ``report``)."""
    wanted, bodies = _run_wanted(run, provider, item_pks)
    report.cached = _run_answer_from_cache(run, wanted)
    run_refresh_counts(run)
    if progress:
        progress(run)
    return wanted, bodies


def _run_wanted(run: Run, provider, item_pks: list[int] | None) -> tuple[dict[str, list[tuple[int, int]]], dict[str, dict]]:
    """The requests a run still needs: cache key -> the (item pk, prompt index) it answers, and key -> body."""
    items = run.bank.items.all()
    if item_pks is not None:
        items = items.filter(pk__in=item_pks)
    done = set(run.answers.values_list("item_id", "prompt_index"))
    wanted: dict[str, list[tuple[int, int]]] = {}
    bodies: dict[str, dict] = {}
    # Plain values: model instances reached through bank.items with .only() read their deferred bank_id
    # back one query per item.
    for pk, title, query, response in items.values_list("pk", "title", "query", "response"):
        prompt_item = PromptItem(query=query, response=response, title=title or None)
        for index in range(PROMPT_COUNT):
            if (pk, index) in done:
                continue
            body = provider.request_body(build_prompt(prompt_item, index), run.system_prompt or None)
            key = provider.cache_key(body)
            wanted.setdefault(key, []).append((pk, index))
            bodies[key] = body
    return wanted, bodies


def _run_answer_from_cache(run: Run, wanted: dict[str, list[tuple[int, int]]]) -> int:
    """Store answers for the wanted requests already in the completion cache (removing them from ``wanted``)."""
    now = timezone.now()
    cached = []
    for keys in _in_chunks(list(wanted)):
        for key, completion in _stored_completions(keys).items():
            cached.extend(_answer_rows(run, wanted.pop(key), completion, now))
    return insert_rows(Answer, _ANSWER_FIELDS, cached, ignore_conflicts=True) if cached else 0


def _run_store(run: Run, provider, batch: list[RequestResult]) -> None:
    """Cache a batch of completions and store the answers they give, in one transaction.

    Rows as tuples (``config.bulk.insert_rows``): this runs while the requests are out, and model objects
    cost more CPU than the requests themselves. A key cached meanwhile by another run or worker keeps its
    first completion, and the answer is that completion's, as a cache hit's would be.
    """
    now = timezone.now()
    with transaction.atomic():
        insert_rows(Completion, _COMPLETION_FIELDS, (
            (result.key, run.provider, run.model, provider.base_url, result.body, result.completed.text,
             result.completed.top_logprobs, result.completed.finish_reason or "", now)
            for result in batch
        ), ignore_conflicts=True)
        stored = _stored_completions([result.key for result in batch])
        insert_rows(Answer, _ANSWER_FIELDS, [row for result in batch
                                             for row in _answer_rows(run, result.tag, stored[result.key], now)],
                    ignore_conflicts=True)


class _ScoringPreparation:
    """While requests are out, in a thread: import what scoring and the run report need (pandas and scipy.stats,
    about a second) and draw the bootstrap counts of the run's selection (:func:`benchmark.scoring.warm_bootstrap`).

    The requests' event loop needs little CPU, so this costs the run no time, and its scores and report do not
    wait for it at the end. It starts when the runner says its first requests are out (``ramped``, the runner's
    ``on_ramped``): an import holds the interpreter's lock for up to a tenth of a second at a time, and a request
    it delays at the start stays that late in every round trip after (measured: 0.1-0.2 s on the whole run).
    No database access: the bank's correlations were read by the selection check (and are remembered), the run's
    protocol is given; the selection it builds is remembered too (:func:`benchmark.selectors.bank_selection`), for
    the scoring and the report. Best effort: a failure here only means scoring does the same work itself later.
    ``finish()`` waits for it and gives the CPU seconds it took, which are scoring's, not the requests': the CPU a
    run reports per answer leaves them out.
    """

    START_TIMEOUT = 5.0  # seconds to wait for ramped() before preparing anyway

    def __init__(self, bank: ItemBank, fields: dict, families=None):
        """The run's ``bank`` (its correlations already read in this process: :func:`selection_check`), protocol
        ``fields`` and ``families``."""
        import threading

        self.cpu_seconds = 0.0
        self._ramped = threading.Event()
        self._thread = threading.Thread(target=self._prepare, args=(bank, fields, families),
                                        name="benchmark-prepare-scoring", daemon=True)
        self._thread.start()

    @classmethod
    def of_run(cls, run: Run) -> _ScoringPreparation:
        from benchmark.selectors import bank_correlation_columns, run_protocol

        bank_correlation_columns(run.bank)  # read here, so the thread finds them remembered
        return cls(run.bank, run.protocol or run_protocol(run), run.settings.get("families"))

    def ramped(self) -> None:
        """The first requests are out: start preparing (called from the runner's event loop; does not block)."""
        self._ramped.set()

    def _prepare(self, bank: ItemBank, fields: dict, families) -> None:
        self._ramped.wait(self.START_TIMEOUT)
        started = time.thread_time()
        try:
            import scipy.stats  # noqa: F401 - for the run report (benchmark.consistency imports it when used)

            from benchmark import scoring
            from benchmark.selectors import bank_selection

            scoring.warm_bootstrap(bank_selection(bank, fields, families=families))
        except Exception:  # noqa: BLE001 - an optimisation only
            logger.debug("preparing the scoring of a run failed", exc_info=True)
        finally:
            self.cpu_seconds = time.thread_time() - started

    def finish(self) -> float:
        self._ramped.set()  # a run that ended (or failed) before its ramp
        self._thread.join()
        return self.cpu_seconds


def run_execute(
    run_id: int,
    *,
    item_pks: list[int] | None = None,
    api_key: str | None = None,
    progress: Callable[[Run], None] | None = None,
    finalize: bool = True,
) -> ExecutionReport:
    """Fetch every answer ``run_id`` is still missing (optionally for a subset of its items), then score it.

    Cache hits (same provider, base URL, model, parameters and messages) are answered from the
    ``Completion`` table without a request. Answers are stored in batches as they arrive, so a run
    that stops (crash, permanent error, pause) resumes where it stopped. A permanent error marks
    the run failed and raises :class:`BenchmarkError` naming the model and the cause.
    """
    report = ExecutionReport()
    run = _run_start(run_id)
    if run is None:
        return report
    provider = _run_checked_provider(run, api_key)
    wanted, bodies = _run_fill(run, provider, item_pks, report, progress)
    beat = _heartbeat(run.pk)

    def recount() -> None:
        run_refresh_counts(run)
        if progress:
            progress(run)

    # The counts (and the progress shown) at most once a second: a recount reads all the run's answers so far.
    recount_soon = _at_most_every(COUNTS_SECONDS, recount, wait_first=False)

    def store(batch: list[RequestResult]) -> None:
        _run_store(run, provider, batch)
        report.requested += len(batch)
        recount_soon()
        beat()

    def paused() -> bool:  # paused from the web, or failed in another worker's chunk; the runner asks once a second
        beat()  # polled while requests wait too (retries, Retry-After), so a slow provider is not a dead worker
        return Run.objects.filter(pk=run.pk, status__in=[Run.Status.PAUSED, Run.Status.FAILED]).exists()

    pending = [PendingRequest(tag=tuple(tags), key=key, body=bodies[key]) for key, tags in wanted.items()]
    policy = RetryPolicy(max_attempts=int(run.settings.get("max_attempts", 8)), timeout=float(run.settings.get("timeout", 120)))
    concurrency = run.settings.get("concurrency", DEFAULT_RUN_SETTINGS["concurrency"])
    concurrency = concurrency if concurrency == AUTO else int(concurrency)  # runs stored before validation normalised it
    preparation = _ScoringPreparation.of_run(run) if pending and finalize else None
    cpu_before = time.process_time()
    try:
        stats = run_requests(
            provider, pending, on_batch=store, concurrency=concurrency,
            max_concurrency=int(run.settings.get("max_concurrency", DEFAULT_RUN_SETTINGS["max_concurrency"])),
            policy=policy, should_stop=paused, on_ramped=preparation.ramped if preparation else None,
        )
    except RunAborted as exc:
        recount()  # what was stored before it stopped
        if exc.cause is None:  # paused from outside: leave the status as set
            return report
        raise _run_failed(run, exc) from exc
    except Exception as exc:  # e.g. the database went away: record why the run stopped, then fail loudly
        _run_stop(run, Run.Status.FAILED, f"{exc.__class__.__name__}: {exc}")
        raise
    recount()
    report.sent, report.retries = stats.sent, stats.retries
    report.preparing_cpu_seconds = preparation.finish() if preparation else 0.0  # it needs no longer than the requests
    report.seconds = stats.elapsed
    report.cpu_seconds = time.process_time() - cpu_before - report.preparing_cpu_seconds
    if pending:
        report.concurrency_settled = stats.concurrency_settled
        Run.objects.filter(pk=run.pk).update(concurrency_settled=stats.concurrency_settled)
    if finalize:
        run_finalize(run.pk)
    return report



# --- provider batch APIs (run_benchmark --batch) ---------------------------------------------------

BATCH_RESULTS_CHUNK = 500


def _batch_call(client, call, *, attempts: int, beat: Callable[[], None]):
    """Run ``call(session)`` (a coroutine) on a fresh guarded session; transient failures are retried with backoff."""
    import asyncio

    from benchmark.providers.netguard import guarded_session

    async def once():
        async with guarded_session(limit=2, timeout=client.timeout) as session:
            return await call(session)

    for attempt in range(1, attempts + 1):
        try:
            return asyncio.run(once())
        except ProviderError as exc:
            if not exc.retryable or attempt == attempts:
                raise
            delay = exc.retry_after if exc.retry_after is not None else min(60.0, 2.0 ** attempt)
            logger.info("batch request failed (%s); retrying in %.1f s", exc, delay)
            _sleep_alive(delay, beat)
    raise AssertionError("unreachable")


def _sleep_alive(seconds: float, beat: Callable[[], None]) -> None:
    """Sleep ``seconds`` in slices of at most one second, writing the heartbeat, so a waiting run is not "dead"."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(1.0, left))
        beat()


def _batch_claim(run: Run, *, stopped: Callable[[], bool], beat: Callable[[], None]) -> tuple[dict, dict]:
    """(the batch state to go on with, the state to give back if submitting fails).

    Two processes continuing one run at once (a command repeated, a task delivered twice) must not
    both submit its requests: the provider would answer and bill them twice. So the submission is
    claimed in the run's row, under its lock (state "submitting"), before the provider is asked. The
    state returned is then either this claim (submit) or the batch another process submitted (poll
    it): while another process holds a claim this one waits, writing its heartbeat. A claim older
    than ``BENCHMARK_RUN_STALE_SECONDS`` (its process died while submitting) is taken over. Returns
    ({}, {}) when the run is paused or stopped while waiting.
    """
    stale_after = float(getattr(django_settings, "BENCHMARK_RUN_STALE_SECONDS", 300))
    waited = False
    while True:
        with transaction.atomic():
            current = dict(Run.objects.select_for_update().values_list("batch", flat=True).get(pk=run.pk) or {})
            if current.get("state") == "submitted":
                run.batch = current
                return current, current
            held = current.get("state") == "submitting" and (
                timezone.now() - datetime.fromisoformat(current["claimed_at"])).total_seconds() < stale_after
            if not held:
                before = current.get("before", current) if current.get("state") == "submitting" else current
                claim = {**before, "state": "submitting", "claimed_at": timezone.now().isoformat(), "before": before}
                _batch_save(run, claim)
                return claim, before
        if stopped():
            return {}, {}
        if not waited:
            logger.info("run %s: another process is submitting its batch (since %s); waiting for its batch id",
                        run.pk, current["claimed_at"])
        waited = True
        _sleep_alive(1.0, beat)


def _batch_save(run: Run, state: dict) -> None:
    run.batch = state
    Run.objects.filter(pk=run.pk).update(batch=state)


def run_open_batch_like(run: Run) -> Run | None:
    """An earlier, unfinished run with the same model, bank, condition and settings whose batch was submitted.

    ``run_benchmark --batch`` repeated after a restart continues that run (polling its stored batch id)
    instead of submitting the same requests again; repeated while the first command is still submitting,
    it waits for that batch (``_batch_claim``).
    """
    candidates = Run.objects.filter(
        bank=run.bank, provider=run.provider, model=run.model, base_url=run.base_url, condition=run.condition,
        system_prompt=run.system_prompt, batch__state__in=["submitted", "submitting"],
    ).exclude(pk=run.pk).exclude(status=Run.Status.COMPLETED).order_by("-created_at")
    return next((candidate for candidate in candidates if candidate.settings == run.settings), None)


def run_execute_batch(
    run_id: int,
    *,
    api_key: str | None = None,
    poll_seconds: float = 30.0,
    progress: Callable[[Run], None] | None = None,
    on_status: Callable[[dict], None] | None = None,
    finalize: bool = True,
) -> ExecutionReport:
    """Fetch every answer ``run_id`` is missing through the provider's batch API, then score it.

    Cache hits are answered first, as in :func:`run_execute`. The remaining requests -- the same
    bodies a run sends one by one -- are submitted as one batch whose id is stored on the run
    (``Run.batch``) before polling starts, so a process that stops while the provider works (a
    restart, a kill, a pause) continues by polling that batch: it is never submitted twice. Requests
    the batch returned no answer for (errored, expired, cancelled) are left missing: the run fails
    with the reasons and ``--resume`` requests them again (one by one, or with ``--batch`` in a new batch).
    """
    from benchmark.providers.batches import ENDED, FAILED, IN_PROGRESS, batch_client

    report = ExecutionReport()
    run = _run_start(run_id)
    if run is None:
        return report
    provider = _run_checked_provider(run, api_key)
    try:
        client = batch_client(provider, timeout=float(run.settings.get("timeout", 120)))
    except PermanentProviderError as exc:
        raise _run_failed(run, exc) from exc
    wanted, bodies = _run_fill(run, provider, None, report, progress)
    beat = _heartbeat(run.pk)
    attempts = int(run.settings.get("max_attempts", 8))
    state = dict(run.batch or {})

    def fail(message: str, exc: Exception | None = None):
        raise _run_failed(run, message) from exc

    def stopped() -> bool:
        return Run.objects.filter(pk=run.pk, status__in=[Run.Status.PAUSED, Run.Status.FAILED]).exists()

    started_cpu, started = time.process_time(), time.monotonic()
    try:
        if state.get("state") != "submitted" and wanted:
            state, before = _batch_claim(run, stopped=stopped, beat=beat)
            if not state:
                return report  # paused or stopped while another process was submitting
            if state.get("state") == "submitting":  # claimed here: submit
                requests = [(key, bodies[key]) for key in wanted]
                try:
                    submitted = _batch_call(client, lambda session: client.submit(session, requests, metadata={"run": run.pk}),
                                            attempts=attempts, beat=beat)
                except BaseException:
                    _batch_save(run, before)  # given back: a resume (here or elsewhere) submits again
                    raise
                previous = list(before.get("previous", [])) + ([before["id"]] if before.get("id") else [])
                state = {"use": True, **submitted, "provider": run.provider, "state": "submitted",
                         "requests": len(requests), "submitted_at": timezone.now().isoformat(), "previous": previous}
                _batch_save(run, state)
                report.sent += 1
        while state.get("state") == "submitted":
            status = _batch_call(client, lambda session: client.status(session, state["id"]), attempts=attempts, beat=beat)
            report.sent += 1
            state.update(status=status.status, counts=status.counts)
            _batch_save(run, state)
            if on_status:
                on_status(dict(state))
            if status.state == FAILED:
                state["state"] = "failed"
                _batch_save(run, state)
                fail(f"batch {state['id']} {status.status}: {status.error}")
            if status.state == ENDED:
                lines = _batch_call(client, lambda session, ended=status: client.results(session, ended), attempts=attempts,
                                    beat=beat)
                report.sent += 1
                missing = _batch_store_results(run, provider, lines, wanted, bodies, report, progress)
                state.update(state="ended", ended_at=timezone.now().isoformat(), unanswered=len(missing),
                             errors=dict(Counter(missing.values()).most_common(5)))
                _batch_save(run, state)
                if missing:
                    reasons = "; ".join(f"{reason} ({count})" for reason, count in Counter(missing.values()).most_common(3))
                    fail(f"batch {state['id']} ({status.status}) left {len(missing)} of {state.get('requests')} requests "
                         f"without an answer: {reasons}. Resume to request them again")
                break
            assert status.state == IN_PROGRESS
            end = time.monotonic() + poll_seconds
            while time.monotonic() < end:
                if stopped():
                    return report  # paused from outside: the batch stays stored, a resume polls it again
                _sleep_alive(min(1.0, end - time.monotonic()), beat)
    except ProviderError as exc:
        fail(str(exc), exc)
    report.seconds, report.cpu_seconds = time.monotonic() - started, time.process_time() - started_cpu
    if finalize:
        run_finalize(run.pk)
    return report


def _batch_store_results(run: Run, provider, lines, wanted: dict, bodies: dict, report: ExecutionReport,
                         progress: Callable[[Run], None] | None) -> dict[str, str]:
    """Store a finished batch's answers; the wanted requests it did not answer, with the reason for each."""
    missing = dict.fromkeys(wanted, "no result in the batch output")
    results: list[RequestResult] = []
    for line in lines:
        if line.custom_id not in missing:
            continue  # answered already (a resumed run), or not one of ours
        if line.completed is None:
            missing[line.custom_id] = line.error or "no answer"
            continue
        del missing[line.custom_id]
        results.append(RequestResult(tag=tuple(wanted[line.custom_id]), key=line.custom_id,
                                     body=bodies[line.custom_id], completed=line.completed, attempts=1))
    for chunk in _in_chunks(results, BATCH_RESULTS_CHUNK):
        _run_store(run, provider, chunk)
        report.requested += len(chunk)
        run_refresh_counts(run)
        if progress:
            progress(run)
    return missing


def run_heartbeat(*, run_id: int) -> bool:
    """Record that the process executing a run is alive; an interrupted run it is still executing runs again.

    False when the run is no longer running (paused, failed, completed).
    """
    return bool(Run.objects.filter(pk=run_id, status__in=[Run.Status.RUNNING, Run.Status.INTERRUPTED]).update(
        status=Run.Status.RUNNING, heartbeat_at=timezone.now(), error=""))


def _heartbeat(run_id: int) -> Callable[[], None]:
    """A ``run_heartbeat`` that writes at most every ``BENCHMARK_HEARTBEAT_SECONDS`` however often it is called."""
    interval = float(getattr(django_settings, "BENCHMARK_HEARTBEAT_SECONDS", 5))
    return _at_most_every(interval, lambda: run_heartbeat(run_id=run_id), wait_first=True)


def _at_most_every(seconds: float, action: Callable[[], None], *, wait_first: bool) -> Callable[[], None]:
    """``action`` run at most every ``seconds`` however often the result is called; with ``wait_first`` the first
    call waits ``seconds`` as if ``action`` had just run (a heartbeat just written), otherwise it runs at once."""
    last = [time.monotonic() if wait_first else -math.inf]

    def maybe() -> None:
        if time.monotonic() - last[0] >= seconds:
            last[0] = time.monotonic()
            action()

    return maybe


def runs_interrupt_stale(*, stale_after: float | None = None) -> list[int]:
    """Mark interrupted every "running" run without a heartbeat for ``stale_after`` seconds; their ids.

    ``stale_after`` defaults to ``BENCHMARK_RUN_STALE_SECONDS``. A run executing in a live process
    writes ``heartbeat_at`` every few seconds (``BENCHMARK_HEARTBEAT_SECONDS``), also while its
    requests wait for retries; a run whose process was killed stops doing so and would otherwise
    show "running" forever. Runs without a heartbeat (started before heartbeats existed) count from
    ``started_at``. Called by the pages and API endpoints that show runs (one indexed read when
    nothing is stale) and by ``manage.py benchmark_reap``. An interrupted run is resumed like a
    paused one, and a process still executing it makes it running again with its next heartbeat.
    """
    if stale_after is None:
        stale_after = float(getattr(django_settings, "BENCHMARK_RUN_STALE_SECONDS", 300))
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    stale = Run.objects.filter(status=Run.Status.RUNNING).annotate(
        last_sign=Coalesce("heartbeat_at", "started_at", "created_at")).filter(last_sign__lt=cutoff)
    interrupted = []
    for run_id, model in stale.values_list("pk", "model"):
        # The status and cutoff are checked again in the UPDATE: a heartbeat since the read keeps the run running.
        error = BenchmarkError.INTERRUPTED.format(stale=stale_after, run_id=run_id)
        if stale.filter(pk=run_id).update(status=Run.Status.INTERRUPTED, error=error):
            logger.warning("benchmark run %s (%s) interrupted: no heartbeat for %g s", run_id, model, stale_after)
            interrupted.append(run_id)
    return interrupted


def _run_stop(run: Run, status: str, error: str) -> None:
    Run.objects.filter(pk=run.pk).update(status=status, error=error[:2000])
    run.status, run.error = status, error
    logger.warning("benchmark run %s (%s) %s: %s", run.pk, run.model, status, error)


@transaction.atomic
def run_finalize(run_id: int) -> Run:
    """Score a run whose every (item, prompt) has an answer and mark it completed; otherwise leave it."""
    run = Run.objects.select_for_update().get(pk=run_id)
    run_refresh_counts(run)
    if run.status == Run.Status.COMPLETED or run.answered < run.progress_total:
        return run
    min_parse_rate = float(run.settings.get("min_parse_rate", DEFAULT_RUN_SETTINGS["min_parse_rate"]))
    if run.answered and run.parsed / run.answered < min_parse_rate:
        # An API answering garbage must not publish scores built from the few answers that parsed.
        Score.objects.filter(run=run).delete()
        run.status, run.finished_at = Run.Status.FAILED, timezone.now()
        run.error = BenchmarkError.LOW_PARSE_RATE.format(
            model=run.model, parsed=run.parsed, answered=run.answered,
            rate=run.parsed / run.answered, minimum=min_parse_rate,
        )
        from benchmark.selectors import run_cut_off

        cut = run_cut_off(run)
        if cut["count"]:
            run.error += BenchmarkError.CUT_OFF.format(
                cut_off=cut["count"], answered=run.answered, max_tokens=run.settings.get("max_tokens", "?"),
                reasons=", ".join(sorted(cut["finish_reasons"])),
            )
        run.save(update_fields=["status", "finished_at", "error"])
        return run
    try:
        with transaction.atomic():  # a savepoint: a database error while scoring still lets the run be marked failed
            scores = run_score_table(run)
    except Exception as exc:
        logger.exception("scoring benchmark run %s failed", run.pk)
        return _run_finalize_failed(run, BenchmarkError.SCORING_FAILED.format(
            run_id=run.pk, cause=f"{exc.__class__.__name__}: {exc}"))
    if scores.empty:
        return _run_finalize_failed(run, BenchmarkError.NOTHING_KEYED.format(model=run.model, rule=_rule_text(run.settings)))
    if not (scores["n_items"] > 0).any():
        return _run_finalize_failed(run, BenchmarkError.NOTHING_SCORED.format(
            model=run.model, parsed=run.parsed, answered=run.answered))
    Score.objects.filter(run=run).delete()
    Score.objects.bulk_create(
        Score(run=run, **{key: (None if isinstance(value, float) and math.isnan(value) else value)
                          for key, value in row.items()})
        for row in scores.to_dict("records")
    )
    run.status, run.finished_at, run.error = Run.Status.COMPLETED, timezone.now(), ""
    run.save(update_fields=["status", "finished_at", "error"])
    return run


def _run_finalize_failed(run: Run, error: str) -> Run:
    """Fail a run at scoring time (inside ``run_finalize``'s transaction): no scores, the answers stay."""
    Score.objects.filter(run=run).delete()
    run.status, run.finished_at, run.error = Run.Status.FAILED, timezone.now(), error[:2000]
    run.save(update_fields=["status", "finished_at", "error"])
    logger.warning("benchmark run %s (%s) failed: %s", run.pk, run.model, error)
    return run


def run_score_table(run: Run, *, measure: str = "rating") -> pd.DataFrame:
    """Scores of a run's answers so far (``measure`` "rating", or "expected_rating" from log-probabilities)."""
    from benchmark import scoring
    from benchmark.selectors import run_answers_frame, run_selection

    answers = run_answers_frame(run)
    if measure == "expected_rating":
        answers = answers.assign(rating=answers["expected_rating"])
    selection = run_selection(run)
    return scoring.score_dimensions(scoring.item_means(answers), selection, answers=answers)


def run_pause(*, run: Run) -> Run:
    """Ask a running run to stop after its current batch; ``run_resume`` continues it."""
    Run.objects.filter(pk=run.pk, status__in=[Run.Status.PENDING, Run.Status.RUNNING, Run.Status.INTERRUPTED]).update(
        status=Run.Status.PAUSED)
    run.refresh_from_db()
    return run


def run_reopen(*, run: Run) -> bool:
    """Make a paused, failed or interrupted run pending again, so ``run_execute`` continues it; False if it was none."""
    reopened = Run.objects.filter(pk=run.pk, status__in=[Run.Status.PAUSED, Run.Status.FAILED, Run.Status.INTERRUPTED]).update(
        status=Run.Status.PENDING, error=""
    )
    run.refresh_from_db()
    return bool(reopened)


def run_resume(*, run: Run) -> Run:
    """Make a paused, failed or interrupted run pending again and enqueue it (after the surrounding transaction commits)."""
    from benchmark.tasks import run_benchmark_task

    if run_reopen(run=run):
        transaction.on_commit(lambda: run_benchmark_task.delay(run.pk))
    return run


# --- human references -----------------------------------------------------------------------------


class ReferenceFormatError(ValueError):
    """A malformed human-reference CSV; the message names file, line, column and value."""


REFERENCE_COLUMNS = ("reference", "family", "dimension", "value")
REFERENCE_OPTIONAL = ("group_kind", "source", "description", "kind")
# The database's column widths (HumanReference, HumanReferenceValue), checked before anything is stored.
REFERENCE_LIMITS = {"reference": 100, "group_kind": 32, "source": 200, "family": 32, "dimension": 64}


def _parse_reference_rows(reader: csv.DictReader, path: Path) -> list[dict]:
    rows, seen, kinds = [], {}, {}
    missing = [column for column in REFERENCE_COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        raise ReferenceFormatError(f"{path} line 1: missing column(s) {', '.join(missing)}; expected {','.join(REFERENCE_COLUMNS)}")
    for row in reader:
        line = reader.line_num
        damaged = [column for column, value in row.items() if isinstance(value, str) and "\x00" in value]
        if damaged:
            raise ReferenceFormatError(f"{path} line {line} column {damaged[0]}: contains a NUL (0x00) character; is the file damaged?")
        too_long = [column for column, limit in REFERENCE_LIMITS.items() if len((row.get(column) or "").strip()) > limit]
        if too_long:
            column = too_long[0]
            raise ReferenceFormatError(f"{path} line {line} column {column}: longer than {REFERENCE_LIMITS[column]} characters")
        name = (row["reference"] or "").strip()
        if not name:
            raise ReferenceFormatError(f"{path} line {line} column reference: empty")
        dimension_raw = (row["dimension"] or "").strip()
        if not dimension_raw:
            raise ReferenceFormatError(f"{path} line {line} column dimension: empty")
        family, dimension = canonical_dimension(dimension_raw)
        family_raw = (row["family"] or "").strip().lower()
        if family == CUSTOM:
            family = family_raw or CUSTOM
        elif family_raw and family_raw != family:
            raise ReferenceFormatError(
                f"{path} line {line} column family: {row['family']!r} but dimension {dimension_raw!r} belongs to {family!r}"
            )
        try:
            value = float(row["value"])
        except (TypeError, ValueError):
            raise ReferenceFormatError(f"{path} line {line} column value: not a number: {row['value']!r}") from None
        if not math.isfinite(value):
            raise ReferenceFormatError(f"{path} line {line} column value: not finite: {row['value']!r}")
        kind = (row.get("kind") or "").strip().lower()
        if kind and kind not in HumanReference.Kind.values:
            raise ReferenceFormatError(
                f"{path} line {line} column kind: {row['kind']!r} is not one of {', '.join(HumanReference.Kind.values)}")
        first_kind = kinds.setdefault(name, (kind, line))
        if first_kind[0] != kind:
            raise ReferenceFormatError(f"{path} line {line} column kind: {kind or '(empty)'!r} but reference {name!r} "
                                       f"is {first_kind[0] or '(empty)'!r} on line {first_kind[1]}; one kind per reference")
        key = (name, family, dimension)
        if key in seen:
            raise ReferenceFormatError(f"{path} line {line}: {name}/{family}/{dimension} already given on line {seen[key]}")
        seen[key] = line
        rows.append({"reference": name, "family": family, "dimension": dimension, "value": value,
                     **{column: (row.get(column) or "").strip() for column in REFERENCE_OPTIONAL}, "kind": kind})
    return rows


def _read_reference_rows(path: Path) -> list[dict]:
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ReferenceFormatError(f"{path}: cannot open ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            rows = _parse_reference_rows(reader, path)
        except csv.Error as exc:
            # The record that failed is not counted in line_num yet.
            raise ReferenceFormatError(f"{path} line {reader.line_num + 1}: not readable as CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ReferenceFormatError(f"{path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}); save the file as UTF-8") from None
    if not rows:
        raise ReferenceFormatError(f"{path}: no rows")
    return rows


@transaction.atomic
def references_import(*, path: str | Path, source: str = "") -> list[HumanReference]:
    """Import long-format reference values; a reference already present has its values replaced."""
    rows = _read_reference_rows(Path(path))
    return references_store(rows, default_source=source or Path(path).name)


@transaction.atomic
def references_store(rows: list[dict], *, default_source: str = "") -> list[HumanReference]:
    """Store reference rows (``reference, family, dimension, value`` and optional ``group_kind, source, description,
    kind``; ``kind`` is ``deviation`` (the default: group − population, as the paper's ESS rows), ``centred`` or
    ``mean`` (a profile of the group itself))."""
    references: dict[str, HumanReference] = {}
    for row in rows:
        name = row["reference"]
        if name not in references:
            reference, _ = HumanReference.objects.update_or_create(
                name=name,
                defaults={
                    "group_kind": row.get("group_kind") or "",
                    "source": row.get("source") or default_source,
                    "description": row.get("description") or "",
                    "kind": row.get("kind") or HumanReference.Kind.DEVIATION,
                },
            )
            reference.values.all().delete()
            references[name] = reference
    HumanReferenceValue.objects.bulk_create(
        HumanReferenceValue(reference=references[row["reference"]], family=row["family"], dimension=row["dimension"],
                            value=row["value"])
        for row in rows
    )
    return list(references.values())


RATERS_NAME = "Raters of {bank}"


@transaction.atomic
def bank_raters_store(*, bank: ItemBank, analysis) -> HumanReference:
    """Store the mean centred profile of the participants an analysis kept with ``bank``: the raters of its items.

    The profile is the analysis's ``summary["rater_profile"]`` (``psychometrics.services.rater_profile``);
    the leaderboard uses it as its default target for this bank (kind ``centred``). Replaces an
    earlier raters' profile of the bank; ``ValueError`` when the analysis has none (no participant kept).
    """
    profile = (analysis.summary or {}).get("rater_profile") or {}
    families = {family: values for family, values in profile.items() if family != "n" and values}
    if not families:
        raise ValueError(f"analysis {analysis.pk} has no raters' profile (no kept participant, or analysed before "
                         "profiles were stored: run analyze again)")
    HumanReference.objects.filter(bank=bank).delete()
    reference = HumanReference(
        name=RATERS_NAME.format(bank=bank.name)[:100], kind=HumanReference.Kind.CENTRED, bank=bank, group_kind="raters",
        source=f"study {analysis.study.slug}, analysis {analysis.pk}: {profile.get('n', 0)} kept participants"[:200],
        description="Mean centred PVQ-21 and BFI-10 profile of the participants kept by the analysis that selected this bank's items.",
    )
    reference.full_clean()
    reference.save()
    HumanReferenceValue.objects.bulk_create(
        HumanReferenceValue(reference=reference, family=family, dimension=dimension, value=float(value))
        for family, values in families.items() for dimension, value in values.items()
    )
    return reference


# --- imported answers -----------------------------------------------------------------------------

IMPORT_SETTINGS = ("mode", "min_parse_rate")
# What the answers were generated with, declared by the researcher (``score_answers --temperature --max-tokens``):
# stored only when given, so an undeclared setting stays unknown (null in the protocol).
IMPORT_GENERATION_SETTINGS = ("temperature", "max_tokens")


@dataclass(frozen=True)
class ParsedAnswer:
    item_id: str
    prompt_index: int
    rating: int | None
    reason: str


@transaction.atomic
def run_import_answers(
    *,
    bank: ItemBank,
    path: str | Path,
    model: str,
    provider: str = "imported",
    settings: dict | None = None,
    publish: bool = False,
    progress: Callable[[int], None] | None = None,
) -> tuple[Run, list[ParsedAnswer]]:
    """Store a run of answers produced elsewhere (source "imported"), parse them as a run's, and score it.

    ``path`` is an ANSWERS.jsonl file (:mod:`benchmark.answers_format`); every line is checked
    against the bank first and nothing is stored on any error. The run follows the protocol of
    other runs: the same parser, the same item selection (``settings`` threshold, alpha, mode) and
    ``min_parse_rate`` (a run below it is failed, without scores). ``settings`` ``temperature`` and
    ``max_tokens`` declare what the answers were generated with, validated as a run's; they enter the
    run's protocol, and without them the protocol records both as unknown (null). Only the (item, prompt) pairs
    given are expected: an item missing from the file is not scored. ``finish_reason`` is stored
    on each answer, so an imported run reports its cut-off answers like any other.
    """
    from benchmark.answers_format import read_answers
    from benchmark.parsing import PARSER_VERSION, parse_answer

    items = dict(bank.items.values_list("item_id", "pk"))
    answers = read_answers(path, known_items=set(items))
    merged = _validated_settings(settings)
    run_settings = {key: merged[key] for key in IMPORT_SETTINGS}
    run_settings.update(_selection_settings(run_item_selection(bank=bank, settings=settings)))
    if merged.get("families"):
        run_settings["families"] = merged["families"]
    selection_check(bank=bank, settings=run_settings, item_ids={answer.item_id for answer in answers},
                    answers_file=Path(path).name)
    given = settings or {}
    run_settings.update({key: merged[key] for key in IMPORT_GENERATION_SETTINGS if given.get(key) is not None})
    run_settings.update({"parser": PARSER_VERSION, "answers_file": Path(path).name})
    llm = llm_get_or_create(provider=provider, model=model)
    run = Run(bank=bank, llm=llm, provider=provider, model=model, settings=run_settings, source=Run.Source.IMPORTED,
              is_published=publish, status=Run.Status.RUNNING, progress_total=len(answers), started_at=timezone.now(),
              heartbeat_at=timezone.now())
    _full_clean(run)
    run.save()
    rows, parsed = [], []
    for answer in answers:
        rating, reason = parse_answer(answer.text)
        parsed.append(ParsedAnswer(answer.item_id, answer.prompt_index, rating, reason))
        rows.append(Answer(run=run, item_id=items[answer.item_id], prompt_index=answer.prompt_index,
                           raw_text=answer.text, rating=rating, finish_reason=answer.finish_reason or ""))
        if progress:
            progress(1)
    Answer.objects.bulk_create(rows, batch_size=1000)
    return run_finalize(run.pk), parsed

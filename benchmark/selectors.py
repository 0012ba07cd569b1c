"""Reading benchmark data: answers and correlations as DataFrames, scores, reports, item selections.

pandas, and the modules built on it (:mod:`benchmark.scoring`, :mod:`benchmark.consistency`), are imported in
the functions that use them: ``run_benchmark`` loads this module and checks its run (:func:`bank_correlation_columns`,
:mod:`benchmark.keying`) before its first request, and pandas, a third of a second of CPU, loads meanwhile
in the thread that prepares the scoring (``benchmark.services._ScoringPreparation``).
"""

from __future__ import annotations

import functools
import json
import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from django.db.models import Count, QuerySet

from benchmark import protocol
from benchmark.models import Answer, BankItem, ItemBank, ItemCorrelation, Run, Score
from benchmark.parsing import PARSER_VERSION
from benchmark.providers.base import CUT_OFF_REASONS
from psychometrics.stats.dimensions import FAMILIES

if TYPE_CHECKING:
    import pandas as pd


def _order(family: str, dimension: str) -> tuple:
    families = list(FAMILIES)
    family_rank = families.index(family) if family in families else len(families)
    names = FAMILIES.get(family, [])
    return (family_rank, family, names.index(dimension) if dimension in names else len(names), dimension)


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


_CORRELATION_FIELDS = ("item__item_id", "family", "dimension", "rho", "p_value", "n", "p_adjusted", "selected")


class CorrelationColumns(NamedTuple):
    """A bank's correlations as columns (one entry per item × dimension), read-only: ``rho``, ``p_value`` and
    ``p_adjusted`` float arrays (NaN where missing), the others tuples (``selected`` None where the bank stores
    no selection)."""

    item_id: tuple
    family: tuple
    dimension: tuple
    rho: np.ndarray
    p_value: np.ndarray
    n: tuple
    p_adjusted: np.ndarray
    selected: tuple


CORRELATION_COLUMNS = list(CorrelationColumns._fields)


def bank_correlation_columns(bank: ItemBank) -> CorrelationColumns:
    """A bank's correlations (:class:`CorrelationColumns`), read once per process and bank row.

    A bank's correlations are written once, with the bank, in the import's transaction, and never changed (a
    replaced bank is a new row); ``run_benchmark`` needs them three times (the check when the run is created,
    again before the requests, the report).
    """
    return _bank_correlation_columns(bank.pk, bank.created_at)


@functools.lru_cache(maxsize=8)
def _bank_correlation_columns(bank_pk: int, created_at) -> CorrelationColumns:
    """The columns of :func:`bank_correlation_columns`; ``created_at`` is part of the key: a primary key can be reused."""
    rows = list(ItemCorrelation.objects.filter(item__bank_id=bank_pk).values_list(*_CORRELATION_FIELDS))
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(CORRELATION_COLUMNS)
    values = dict(zip(CORRELATION_COLUMNS, columns, strict=True))
    for name in ("rho", "p_value", "p_adjusted"):
        values[name] = np.array(values[name], dtype=float)  # None -> NaN
        values[name].flags.writeable = False
    return CorrelationColumns(**values)


def bank_correlations(bank: ItemBank) -> pd.DataFrame:
    """Long DataFrame ``item_id, family, dimension, rho, p_value, n, p_adjusted, selected`` of a bank
    (item_id = the bank's item id; ``selected`` None where the bank stores no selection), the caller's own."""
    return correlations_frame(bank_correlation_columns(bank))


def correlations_frame(columns: CorrelationColumns) -> pd.DataFrame:
    """:func:`bank_correlations` from the columns (built column by column: a frame from ~10,000 row tuples took as
    long as the query)."""
    import pandas as pd

    frame = pd.DataFrame({name: values.copy() if isinstance(values, np.ndarray) else values
                          for name, values in columns._asdict().items()})
    return frame.astype({"selected": object})


def run_answers_frame(run: Run) -> pd.DataFrame:
    """Long DataFrame ``item_id, prompt_index, rating, expected_rating, raw_text`` of a run's answers so far."""
    import pandas as pd

    rows = Answer.objects.filter(run=run).values_list(
        "item__item_id", "prompt_index", "rating", "expected_rating", "raw_text"
    )
    frame = pd.DataFrame(list(rows), columns=["item_id", "prompt_index", "rating", "expected_rating", "raw_text"])
    return frame.astype({"rating": float, "expected_rating": float})


def runs_completed() -> QuerySet[Run]:
    """Completed, published runs with their model and bank, newest first."""
    return Run.objects.filter(status=Run.Status.COMPLETED, is_published=True).select_related("llm", "bank")


def scores_for_runs(runs, family: str | None = None) -> QuerySet[Score]:
    """Stored scores of ``runs`` (a queryset or ids), optionally of one family."""
    scores = Score.objects.filter(run__in=runs).select_related("run", "run__llm")
    return scores.filter(family=family) if family else scores


def run_scores(run: Run) -> list[dict]:
    """A run's scores as dicts in canonical dimension order: stored ones when completed, live ones while running."""
    if run.status == Run.Status.COMPLETED or run.source == Run.Source.PUBLISHED:
        rows = list(run.scores.values("family", "dimension", "score", "mean", "sd", "n_items", "ci_low", "ci_high"))
    else:
        from benchmark.services import run_score_table

        rows = [{key: _clean(value) for key, value in row.items()} for row in run_score_table(run).to_dict("records")]
    return sorted(rows, key=lambda row: _order(row["family"], row["dimension"]))


def scores_nested(rows: list[dict]) -> dict:
    """``{family: {dimension: {score, mean, sd, n_items, ci_low, ci_high}}}`` from :func:`run_scores` rows."""
    nested: dict = {}
    for row in rows:
        nested.setdefault(row["family"], {})[row["dimension"]] = {
            key: _clean(row[key]) for key in ("score", "mean", "sd", "n_items", "ci_low", "ci_high")
        }
    return nested


def items_for_dimension(
    bank: ItemBank,
    family: str,
    dimension: str,
    threshold: float = protocol.DEFAULT_THRESHOLD,
    alpha: float = protocol.DEFAULT_ALPHA,
    mode: str = "positive",
) -> QuerySet[BankItem]:
    """The bank's items keyed to one dimension under the given selection rule (the scoring rule)."""
    correlations = ItemCorrelation.objects.filter(item__bank=bank, family=family, dimension=dimension, p_value__lt=alpha)
    if mode == "signed":
        correlations = correlations.filter(rho__isnull=False).exclude(rho__gt=-threshold, rho__lt=threshold)
    elif mode == "positive":
        correlations = correlations.filter(rho__gte=threshold)
    else:
        raise ValueError(f"mode must be one of {', '.join(protocol.MODES)}, got {mode!r}")
    return BankItem.objects.filter(pk__in=correlations.values("item_id")).order_by("id")


def run_protocol(run: Run) -> dict:
    """The protocol (:mod:`benchmark.protocol`) of a run, from its bank and settings.

    ``settings["selection"]`` is set by ``run_create``; a run without it (created before protocols,
    or directly) selects by its own threshold, alpha and fdr settings.
    """
    settings = run.settings or {}
    selection = settings.get("selection")
    if not isinstance(selection, dict):
        reason = protocol.REASON_NO_STORED_SELECTION if run.bank.selection_rules is None else protocol.REASON_OVERRIDE
        selection = protocol.selection_rule(
            threshold=settings.get("threshold", protocol.DEFAULT_THRESHOLD), alpha=settings.get("alpha", protocol.DEFAULT_ALPHA),
            fdr=bool(settings.get("fdr")), reason=reason)
    return protocol.protocol_build(
        bank_name=run.bank.name, bank_version=run.bank.version, selection=selection,
        mode=settings.get("mode", protocol.DEFAULT_MODE), temperature=settings.get("temperature"),
        max_tokens=settings.get("max_tokens"), provider_params=settings.get("params") or settings.get("extra"),
        parser=settings.get("parser") or PARSER_VERSION,
    )


def protocol_document(run: Run) -> dict:
    """The ``protocol`` object of OUT.json and the API: ``digest`` (sha256 of the other fields' canonical JSON) and the fields."""
    fields = run.protocol or run_protocol(run)
    return {"digest": run.protocol_digest or protocol.protocol_digest(fields), **fields}


def run_selection(run: Run) -> pd.DataFrame:
    """The items keyed to each dimension under the run's protocol: the bank's stored selection or a rule, in its mode,
    restricted to the families the run scores (``settings["families"]``) when it names some.

    ``families`` is not part of the protocol digest: it decides which scores a run has, not what a score means,
    so a run of some families stays comparable with a run of all of them on the dimensions both have.
    """
    return bank_selection(run.bank, run.protocol or run_protocol(run), families=(run.settings or {}).get("families"))


def bank_selection(bank: ItemBank, fields: dict, *, families=None) -> pd.DataFrame:
    """:func:`run_selection` of a run on ``bank`` with protocol ``fields`` and ``families``, the caller's own copy.

    Remembered per process, bank row, selection, mode and families, as the bank's correlations are: a run's
    scoring and its report need it, and ``run_execute``'s preparation thread builds it while the requests are out.
    """
    return _bank_selection(bank.pk, bank.created_at, json.dumps(fields["selection"], sort_keys=True),
                           fields.get("mode", protocol.DEFAULT_MODE), tuple(families or ())).copy()


@functools.lru_cache(maxsize=16)
def _bank_selection(bank_pk: int, created_at, selection: str, mode: str, families: tuple) -> pd.DataFrame:
    from benchmark import scoring

    correlations = correlations_frame(_bank_correlation_columns(bank_pk, created_at))
    chosen = scoring.apply_selection(correlations, json.loads(selection), mode=mode)
    if families:
        chosen = chosen[chosen["family"].isin(families)].reset_index(drop=True)
    return chosen


def run_consistency(run: Run) -> dict | None:
    """A run's prompt sensitivity (:func:`benchmark.consistency.prompt_consistency`); None for published rows."""
    from benchmark import consistency

    if run.source == Run.Source.PUBLISHED:
        return None
    return consistency.prompt_consistency(run_answers_frame(run), run_selection(run))


def run_cut_off(run: Run) -> dict:
    """How many answers stopped at the token limit: ``{count, share, finish_reasons}`` (:data:`CUT_OFF_REASONS`)."""
    rows = (run.answers.filter(finish_reason__in=CUT_OFF_REASONS).values_list("finish_reason")
            .annotate(n=Count("id")).order_by("finish_reason"))
    reasons = dict(rows)
    count = sum(reasons.values())
    return {"count": count, "share": count / run.answered if run.answered else None, "finish_reasons": reasons}


def run_report(run: Run) -> dict:
    """The ``run_benchmark --out`` document: model, settings, parse counts, scores and per-item answers."""
    import pandas as pd

    from benchmark import consistency, scoring

    answers = run_answers_frame(run)
    means = scoring.item_means(answers).set_index("item_id")["mean"] if len(answers) else pd.Series(dtype=float)
    # Plain lists, cut where the item changes: a pandas group per item cost more than the rest of the report.
    ordered = answers.sort_values(["item_id", "prompt_index"])
    item_ids, texts = ordered["item_id"].tolist(), ordered["raw_text"].tolist()
    ratings = [None if math.isnan(r) else int(r) for r in ordered["rating"].tolist()]
    starts = [index for index in range(len(item_ids)) if index == 0 or item_ids[index] != item_ids[index - 1]]
    items = [
        {"item_id": item_ids[start], "mean": _clean(float(means.get(item_ids[start], float("nan")))),
         "answers": texts[start:end], "ratings": ratings[start:end]}
        for start, end in zip(starts, [*starts[1:], len(item_ids)], strict=True)
    ]
    order = {item_id: index for index, item_id in enumerate(run.bank.items.values_list("item_id", flat=True))}
    items.sort(key=lambda entry: order.get(entry["item_id"], len(order)))
    report = {
        "run_id": run.pk,
        "model": run.model,
        "provider": run.provider,
        "base_url": run.base_url or None,
        "itembank": run.bank.name,
        "condition": run.condition,
        "system_prompt": run.system_prompt or None,
        "status": run.status,
        "settings": run.settings,
        "protocol": protocol_document(run),
        "concurrency_settled": run.concurrency_settled,
        "parse": {"answered": run.answered, "parsed": run.parsed, "failed": run.failed,
                  "rate": run.parse_rate},
        "cut_off": run_cut_off(run),
        # The shape: "pvq", "higher_pvq" and "bfi" are always there, empty when no item is keyed to them.
        "scores": {**{family: {} for family in FAMILIES}, **scores_nested(run_scores(run))},
        "consistency": consistency.prompt_consistency(answers, run_selection(run)),
        "items": items,
    }
    if run.settings.get("logprobs") and answers["expected_rating"].notna().any():
        from benchmark.services import run_score_table

        rows = run_score_table(run, measure="expected_rating").to_dict("records")
        report["logprob_scores"] = scores_nested(sorted(rows, key=lambda r: _order(r["family"], r["dimension"])))
    return report


def model_item_means(runs) -> pd.DataFrame:
    """Long ``model, item_id, mean`` of several runs (one row per run × item): the input of Table 4's α."""
    import pandas as pd

    from benchmark import scoring

    frames = []
    for run in runs:
        means = scoring.item_means(run_answers_frame(run))
        frames.append(means.assign(model=f"{run.model} (run {run.pk})")[["model", "item_id", "mean"]])
    if not frames:
        return pd.DataFrame(columns=["model", "item_id", "mean"])
    return pd.concat(frames, ignore_index=True)

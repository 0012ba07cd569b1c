"""Services of the results app: load the paper's published scores, store an agreed self-test.

The published dataset (``results/data/published_scores.csv``) is the Value Portrait paper's
Tables 5-8 transcribed in long form ``model,table,family,dimension,score``. Each model becomes
an ``LLM`` marked ``is_published_only`` (provider ``published``) with one completed baseline
``Run`` of ``source='published'`` on the item bank "Value Portrait paper (published)", which
has no items: the paper's items are not redistributed, only its scores.

Schwartz values (Tables 5, 7, 8) are centred scores and are stored as ``Score.score`` with no
``mean``; the BFI (Table 6) is the uncentred mean rating and is stored as ``Score.mean`` with
no ``score``, exactly as printed.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from django.db import transaction
from django.utils import timezone

from benchmark import protocol
from benchmark.models import LLM, ItemBank, Run, Score
from psychometrics.stats.dimensions import BFI, FAMILIES
from psychometrics.stats.scoring import score_pvq21
from results.models import SelfTestResponse
from results.selectors import PUBLISHED_BANK_NAME

PUBLISHED_CSV = Path(__file__).resolve().parent / "data" / "published_scores.csv"
PUBLISHED_COLUMNS = ["model", "table", "family", "dimension", "score"]
PUBLISHED_PROVIDER = "published"
PAPER = "Value Portrait (Han et al., 2025), Tables 5–8"
# The paper's protocol (Value Portrait §3.4.1, §4.1.1): ρ ≥ 0.3 with p < 0.05, positive mode, its six
# prompts at temperature 0; the answers were parsed by the paper's code (parser "published").
PUBLISHED_PROTOCOL_SETTINGS = {
    "threshold": protocol.DEFAULT_THRESHOLD, "alpha": protocol.DEFAULT_ALPHA, "fdr": False, "mode": protocol.DEFAULT_MODE,
    "selection": protocol.selection_rule(threshold=protocol.DEFAULT_THRESHOLD, alpha=protocol.DEFAULT_ALPHA,
                                         reason=protocol.REASON_NO_STORED_SELECTION),
    "temperature": protocol.PAPER_TEMPERATURE, "max_tokens": protocol.PAPER_MAX_TOKENS, "parser": protocol.PUBLISHED_PARSER,
}
# Table 6 names the Table 5 model "gpt-4o-mini" by its snapshot; both are one model.
MODEL_ALIASES = {"gpt-4o-mini-2024-07-18": "gpt-4o-mini"}
ORGANISATIONS = [
    (("gpt", "chatgpt", "o1", "o3"), "OpenAI"),
    (("claude",), "Anthropic"),
    (("qwen", "qwq"), "Alibaba"),
    (("mistral",), "Mistral AI"),
    (("llama",), "Meta"),
    (("deepseek",), "DeepSeek"),
    (("grok",), "xAI"),
    (("gemini", "gemma"), "Google"),
]


class PublishedFormatError(ValueError):
    """A malformed published-scores CSV; the message names the file, line, column and value."""


@dataclass(frozen=True)
class PublishedSummary:
    models: int
    runs_created: int
    scores: int

    def __str__(self) -> str:
        return (f"Published results: {self.models} models ({self.runs_created} new) with {self.scores} scores "
                f"from {PAPER}, item bank {PUBLISHED_BANK_NAME!r}.")


def organisation_of(model: str) -> str:
    lowered = model.lower()
    for prefixes, organisation in ORGANISATIONS:
        if lowered.startswith(prefixes):
            return organisation
    return ""


def published_read(path: str | Path = PUBLISHED_CSV) -> pd.DataFrame:
    """The published scores as a DataFrame, every line checked first (``PublishedFormatError`` on the first problem)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise PublishedFormatError(f"{path}: cannot open ({exc.strerror})") from exc
    records, seen = [], {}
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != PUBLISHED_COLUMNS:
            raise PublishedFormatError(f"{path} line 1: columns must be {','.join(PUBLISHED_COLUMNS)}, got {reader.fieldnames}")
        for row in reader:
            line = reader.line_num
            model = (row["model"] or "").strip()
            if not model:
                raise PublishedFormatError(f"{path} line {line} column model: empty")
            family = (row["family"] or "").strip()
            if family not in FAMILIES:
                raise PublishedFormatError(f"{path} line {line} column family: {family!r} is not one of {', '.join(FAMILIES)}")
            dimension = (row["dimension"] or "").strip()
            if dimension not in FAMILIES[family]:
                raise PublishedFormatError(f"{path} line {line} column dimension: {dimension!r} is not a {family} dimension")
            try:
                score = float(row["score"])
            except (TypeError, ValueError):
                raise PublishedFormatError(f"{path} line {line} column score: not a number: {row['score']!r}") from None
            if not math.isfinite(score):
                raise PublishedFormatError(f"{path} line {line} column score: not finite: {row['score']!r}")
            model = MODEL_ALIASES.get(model, model)
            key = (model, family, dimension)
            if key in seen:
                raise PublishedFormatError(f"{path} line {line}: {model}/{family}/{dimension} already given on line {seen[key]}")
            seen[key] = line
            records.append({"model": model, "table": (row["table"] or "").strip(), "family": family,
                            "dimension": dimension, "score": score})
    if not records:
        raise PublishedFormatError(f"{path}: no rows")
    return pd.DataFrame(records, columns=PUBLISHED_COLUMNS)


@transaction.atomic
def published_results_load(*, path: str | Path = PUBLISHED_CSV, progress=None) -> PublishedSummary:
    """Create or refresh the published models, runs and scores. Idempotent: a second load changes nothing.

    ``progress`` (optional) is called once per model, for a progress bar.
    """
    frame = published_read(path)
    bank, _ = ItemBank.objects.update_or_create(
        name=PUBLISHED_BANK_NAME,
        defaults={"version": "2025", "description": f"Scores published in {PAPER}. No items: only the paper's "
                                                    "per-model scores are shipped.", "is_private": False},
    )
    created_runs, n_scores = 0, 0
    for model, rows in frame.groupby("model", sort=False):
        tables = sorted(set(rows["table"]))
        llm, _ = LLM.objects.update_or_create(
            provider=PUBLISHED_PROVIDER, name=model, base_url="",
            defaults={"display_name": model, "organization": organisation_of(model), "is_published_only": True},
        )
        run = Run.objects.filter(bank=bank, llm=llm, source=Run.Source.PUBLISHED).first()
        settings = {"tables": tables, "reference": PAPER, **PUBLISHED_PROTOCOL_SETTINGS}
        if run is None:
            run = Run(bank=bank, llm=llm, provider=PUBLISHED_PROVIDER, model=model, source=Run.Source.PUBLISHED,
                      status=Run.Status.COMPLETED, condition="baseline", settings=settings,
                      started_at=timezone.now(), finished_at=timezone.now())
            run.full_clean()
            run.save()
            created_runs += 1
        elif run.settings != settings:
            run.settings, run.protocol_digest = settings, ""  # recomputed on save
            run.save(update_fields=["settings"])
        run.scores.all().delete()
        Score.objects.bulk_create(
            Score(run=run, family=row.family, dimension=row.dimension,
                  score=None if row.family == BFI else row.score, mean=row.score if row.family == BFI else None)
            for row in rows.itertuples()
        )
        n_scores += len(rows)
        if progress:
            progress(model)
    return PublishedSummary(models=frame["model"].nunique(), runs_created=created_runs, scores=n_scores)


def seed_published_results() -> str:
    """``seed_demo`` hook: load the published dataset so a new install shows a real leaderboard."""
    return str(published_results_load())


def self_test_profile(answers: dict[int, int]) -> pd.Series:
    """Centred Schwartz profile (10 basic + 4 higher-order values) of one visitor's PVQ-21 answers."""
    return score_pvq21(pd.DataFrame([answers], index=["you"])).iloc[0]


@transaction.atomic
def self_test_store(*, form: str, answers: dict[int, int], profile: pd.Series) -> SelfTestResponse:
    """Keep a visitor's answers; called only when the visitor ticked the consent box."""
    response = SelfTestResponse(
        form=form,
        answers={str(question): int(value) for question, value in sorted(answers.items())},
        profile={name: round(float(value), 6) for name, value in profile.items()},
    )
    response.full_clean()
    response.save()
    return response

"""Reads behind the results API and pages: visibility, items, leaderboard, comparisons, alignment.

Every function here reads; nothing writes. Scores are fetched in one query per page and shaped
with pandas, so a page costs a handful of queries whatever the number of models.
"""

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db.models import Count, Prefetch, Q, QuerySet
from scipy import stats

from benchmark import scoring
from benchmark.models import (
    LLM,
    Answer,
    BankItem,
    HumanReference,
    HumanReferenceValue,
    ItemBank,
    ItemCorrelation,
    Run,
    Score,
)
from benchmark.presets import PERSONAS
from psychometrics.stats.dimensions import BFI, FAMILIES, HIGHER_PVQ, PVQ, canonical_dimension
from results import welfare

RESEARCHER_GROUP = "researchers"
PUBLISHED_BANK_NAME = "Value Portrait paper (published)"
# Published Schwartz scores are centred and come without mean ratings; for the welfare functions
# they are shifted onto the 1-6 scale by its midpoint (see docs/results.md and the leaderboard page).
PUBLISHED_SHIFT = 3.5
FAMILY_LABELS = {PVQ: "Schwartz 10 basic values", HIGHER_PVQ: "Schwartz 4 higher-order values", BFI: "Big Five (BFI)"}
SIGNS = ("positive", "negative")
MAX_COMPARE = 5
MAX_ID = 2**63 - 1  # the largest primary key PostgreSQL and SQLite store
_ID_RE = re.compile(r"[0-9]{1,19}")


class ResultsError(ValueError):
    """A bad request parameter; the message is shown to the API client or visitor as is."""


def record_id(value) -> int | None:
    """A primary key written in ASCII digits (1 to ``MAX_ID``), else None.

    ``str.isdigit()`` is not enough: it accepts '²' or '٣' (``int()`` then fails or misreads) and
    5,000-digit strings (beyond ``int()``'s limit, and beyond any database integer).
    """
    text = str(value if value is not None else "").strip()
    if not _ID_RE.fullmatch(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


# --- visibility -----------------------------------------------------------------------------------


def is_researcher(user) -> bool:
    """May start benchmark runs: a superuser, a member of the ``researchers`` group or a researcher of a study.

    ``is_staff`` alone grants nothing; which banks and credentials a run may use is checked separately.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or user.groups.filter(name=RESEARCHER_GROUP).exists() or user.studies.exists())


def _private_access(user, prefix: str = "") -> Q:
    """Rows (banks, or runs through ``bank__``) whose private data ``user`` may see: owner, or researcher of the study."""
    from surveys.models import Study

    return Q(**{f"{prefix}owner": user}) | Q(**{f"{prefix}source_study__in": Study.objects.filter(researchers=user)})


def banks_visible(user) -> QuerySet[ItemBank]:
    """Item banks the user may read: public ones (neither private nor from a private study), plus, for a
    signed-in user, the banks they own or that come from one of their studies; superusers read all."""
    banks = ItemBank.objects.select_related("source_study")
    if getattr(user, "is_superuser", False):
        return banks
    public = Q(is_private=False) & (Q(source_study__isnull=True) | Q(source_study__is_private=False))
    if not getattr(user, "is_authenticated", False):
        return banks.filter(public)
    return banks.filter(public | _private_access(user))


def runs_visible(user) -> QuerySet[Run]:
    """Runs the user may read: published runs on visible banks, plus runs the user manages (see run_is_managed_by)."""
    runs = Run.objects.select_related("llm", "bank")
    if getattr(user, "is_superuser", False):
        return runs
    runs = runs.filter(bank__in=banks_visible(user))
    if not getattr(user, "is_authenticated", False):
        return runs.filter(is_published=True)
    return runs.filter(Q(is_published=True) | Q(created_by=user) | _private_access(user, "bank__"))


def run_is_managed_by(run: Run, user) -> bool:
    """Whether ``user`` sees a run's private details (provider errors): its creator, the bank's owner, the
    researchers of the bank's study, or a superuser."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser or (run.created_by_id is not None and run.created_by_id == user.pk):
        return True
    return ItemBank.objects.filter(pk=run.bank_id).filter(_private_access(user)).exists()


# A failed run (permanent error, parse rate below the minimum, nothing to score) or an interrupted one (its
# worker died) has no valid scores: nobody but the researchers who manage it sees scores or answers of it.
UNSCORED_STATUSES = (Run.Status.FAILED, Run.Status.INTERRUPTED)
MSG_SCORES_WITHHELD = (
    "run {run_id} is {status}: it has no published scores; the researchers who manage it see its answers"
)


def run_scores_withheld(run: Run, user) -> str | None:
    """Why ``user`` may not see ``run``'s scores, consistency and answers (a failed or interrupted run they do
    not manage), else None. Its managers (``run_is_managed_by``) see provisional scores and the raw answers."""
    if run.status not in UNSCORED_STATUSES or run.source == Run.Source.PUBLISHED or run_is_managed_by(run, user):
        return None
    return MSG_SCORES_WITHHELD.format(run_id=run.pk, status=run.status)


def bank_resolve(value: str, user) -> ItemBank:
    """A visible item bank by id or name; ``ResultsError`` when there is none."""
    banks = banks_visible(user)
    value = (value or "").strip()
    pk = record_id(value)
    bank = banks.filter(pk=pk).first() if pk is not None else banks.filter(name=value).first()
    if bank is None:
        raise ResultsError(f"no item bank {value!r}; see /api/v1/itembanks/ for the available ones")
    return bank


def bank_default(user) -> ItemBank | None:
    """The visible bank with the most completed baseline runs (the published dataset on a fresh install)."""
    return (
        banks_visible(user)
        .annotate(n=Count("runs", filter=Q(runs__status=Run.Status.COMPLETED, runs__condition="baseline",
                                           runs__is_published=True)))
        .filter(n__gt=0)
        .order_by("-n", "name")
        .first()
    )


# --- items ----------------------------------------------------------------------------------------


def dimension_resolve(value: str, family: str | None = None) -> tuple[str, str]:
    """``(family, dimension)`` of a dimension name in any spelling; ``ResultsError`` when unknown."""
    found_family, name = canonical_dimension(value) if value and value.strip() else ("custom", "")
    if not name:
        raise ResultsError("dimension must not be empty")
    if family and found_family != family:
        if found_family == "custom":
            return family, name
        raise ResultsError(f"dimension {value!r} belongs to family {found_family!r}, not {family!r}")
    if found_family == "custom":
        known = ", ".join(name for names in FAMILIES.values() for name in names)
        raise ResultsError(f"unknown dimension {value!r}; known dimensions: {known} (or give family= for a custom one)")
    return found_family, name


def family_resolve(value: str) -> str:
    value = (value or "").strip().lower()
    if value not in FAMILIES:
        raise ResultsError(f"unknown family {value!r}; choose one of {', '.join(FAMILIES)}")
    return value


def selected_correlations(*, threshold: float, alpha: float, family: str | None = None, dimension: str | None = None,
                          sign: str | None = None) -> QuerySet[ItemCorrelation]:
    """Correlations that select an item: |ρ| ≥ threshold and p < alpha (optionally one family/dimension/sign)."""
    if not 0 <= threshold <= 1:
        raise ResultsError(f"threshold must be between 0 and 1, got {threshold}")
    if not 0 < alpha <= 1:
        raise ResultsError(f"alpha must be in (0, 1], got {alpha}")
    correlations = ItemCorrelation.objects.filter(p_value__lt=alpha, rho__isnull=False)
    if family:
        correlations = correlations.filter(family=family)
    if dimension:
        correlations = correlations.filter(dimension=dimension)
    if sign == "positive":
        return correlations.filter(rho__gte=threshold)
    if sign == "negative":
        return correlations.filter(rho__lte=-threshold)
    if sign is not None:
        raise ResultsError(f"sign must be one of {', '.join(SIGNS)}, got {sign!r}")
    return correlations.filter(Q(rho__gte=threshold) | Q(rho__lte=-threshold))


def items_filtered(
    *,
    banks: QuerySet[ItemBank],
    dimension: str | None = None,
    family: str | None = None,
    sign: str | None = None,
    source: str | None = None,
    search: str | None = None,
    threshold: float = scoring.DEFAULT_THRESHOLD,
    alpha: float = scoring.DEFAULT_ALPHA,
) -> QuerySet[BankItem]:
    """Items of ``banks`` with their correlations prefetched, filtered as the item API and explorer describe.

    ``dimension`` (and/or ``family``) keeps items selected for it (|ρ| ≥ threshold, p < alpha);
    ``sign`` narrows that to positively or negatively keyed items.
    """
    items = BankItem.objects.filter(bank__in=banks).select_related("bank")
    if family:
        family = family_resolve(family)
    if dimension:
        family, dimension = dimension_resolve(dimension, family)
    if family or dimension or sign:
        chosen = selected_correlations(threshold=threshold, alpha=alpha, family=family, dimension=dimension, sign=sign)
        items = items.filter(pk__in=chosen.values("item_id"))
    if source:
        items = items.filter(source=source)
    if search:
        items = items.filter(Q(item_id__icontains=search) | Q(title__icontains=search) | Q(query__icontains=search)
                             | Q(response__icontains=search))
    return items.prefetch_related(Prefetch("correlations", queryset=ItemCorrelation.objects.order_by("family", "dimension")))


def item_sources(banks: QuerySet[ItemBank]) -> list[str]:
    return sorted(set(BankItem.objects.filter(bank__in=banks).values_list("source", flat=True).distinct()) - {""})


# --- scores ---------------------------------------------------------------------------------------

SCORE_FIELDS = ["score", "mean", "sd", "n_items", "ci_low", "ci_high"]


def display_value(family: str) -> str:
    """Which stored number a table shows: centred ``score`` for Schwartz values, uncentred ``mean`` for the BFI (as the paper)."""
    return "mean" if family == BFI else "score"


def scores_frame(runs) -> pd.DataFrame:
    """Long DataFrame of the runs' scores with run and model columns, in one query."""
    rows = Score.objects.filter(run__in=runs).values_list(
        "run_id", "run__llm_id", "run__llm__display_name", "run__llm__name", "run__source", "run__condition",
        "family", "dimension", *SCORE_FIELDS,
    )
    frame = pd.DataFrame(list(rows), columns=["run_id", "model_id", "display_name", "name", "source", "condition",
                                              "family", "dimension", *SCORE_FIELDS])
    frame["model"] = frame["display_name"].where(frame["display_name"].astype(bool), frame["name"]) if len(frame) else []
    return frame.drop(columns=["display_name", "name"]).astype({field: float for field in SCORE_FIELDS if field != "n_items"})


def baseline_runs(bank: ItemBank) -> QuerySet[Run]:
    """The newest completed, published baseline run of each model on ``bank``."""
    runs = Run.objects.filter(bank=bank, status=Run.Status.COMPLETED, is_published=True, condition="baseline")
    newest = {}
    for pk, llm_id in runs.order_by("-finished_at", "-created_at", "-id").values_list("pk", "llm_id"):
        newest.setdefault(llm_id, pk)
    return Run.objects.filter(pk__in=newest.values()).select_related("llm", "bank")


def _clean(value):
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 4)
    return value


def dimensions_resolve(family: str, value: str | list[str] | None) -> list[str]:
    """The chosen dimensions of ``family`` in canonical order; all of them when none is given."""
    names = FAMILIES[family]
    chosen = _dimensions_as_given(family, value)
    return [name for name in names if name in chosen]


def _dimensions_as_given(family: str, value: str | list[str] | None) -> list[str]:
    """The chosen dimensions of ``family`` in the order the client listed them (canonical order when none is given)."""
    names = FAMILIES[family]
    if not value:
        return list(names)
    raw = value.split(",") if isinstance(value, str) else value
    chosen = []
    for part in raw:
        if not part.strip():
            continue
        found_family, name = canonical_dimension(part)
        if found_family != family:
            raise ResultsError(f"dimension {part.strip()!r} is not one of {FAMILY_LABELS[family]}: {', '.join(names)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise ResultsError("choose at least one dimension")
    return chosen


def weights_resolve(value: str | None, dimensions: list[str]) -> dict[str, float]:
    """Weights from ``"1,2,1"`` (in the order of ``dimensions``) or ``"Power:2,Benevolence:0.5"``.

    ``leaderboard`` passes the dimensions in the order the client listed them, so
    ``dimensions=Power,Benevolence&weights=2,1`` gives Power 2 and Benevolence 1.
    """
    if not value or not value.strip():
        return {}
    parts = [part.strip() for part in value.split(",") if part.strip()]
    weights: dict[str, float] = {}
    if all(":" not in part for part in parts):
        if len(parts) != len(dimensions):
            raise ResultsError(f"give one weight per chosen dimension ({len(dimensions)}: {', '.join(dimensions)}), got {len(parts)}")
        pairs = list(zip(dimensions, parts, strict=True))
    else:
        pairs = []
        for part in parts:
            name, sep, number = part.partition(":")
            if not sep or not name.strip():
                raise ResultsError(f"weight {part!r}: write Dimension:weight, e.g. Benevolence:2")
            family, dimension = canonical_dimension(name)
            pairs.append((dimension, number))
    for name, number in pairs:
        if name in weights:
            raise ResultsError(f"weight of {name!r} given twice")
        try:
            weights[name] = float(number)
        except ValueError:
            raise ResultsError(f"weight of {name!r} must be a number, got {number!r}") from None
    try:
        welfare.validate_weights(weights, dimensions)
    except ValueError as exc:
        raise ResultsError(str(exc)) from None
    return weights


@dataclass
class Leaderboard:
    bank: ItemBank | None
    family: str
    dimensions: list[str]
    aggregate: str
    weights: dict[str, float]
    rows: list[dict]

    @property
    def value_field(self) -> str:
        return display_value(self.family)

    def as_dict(self) -> dict:
        return {
            "itembank": self.bank.name if self.bank else None,
            "family": self.family,
            "dimensions": self.dimensions,
            "value": self.value_field,
            "aggregate": self.aggregate,
            "weights": {name: self.weights.get(name, 1.0) for name in self.dimensions},
            "rows": self.rows,
        }

    def long_frame(self) -> pd.DataFrame:
        """Tidy long table: one row per model × dimension, plus the welfare value of each model."""
        records = [
            {"rank": row["rank"], "model": row["model"], "run_id": row["run_id"], "source": row["source"],
             "family": self.family, "dimension": name, self.value_field: row["values"].get(name),
             "is_row_max": name in row["max_dimensions"], "is_row_min": name in row["min_dimensions"],
             "utility": row["utilities"].get(name), "utility_basis": row["utility_basis"],
             "weight": self.weights.get(name, 1.0), "aggregate": self.aggregate, "welfare": row["welfare"]}
            for row in self.rows for name in self.dimensions
        ]
        columns = ["rank", "model", "run_id", "source", "family", "dimension", self.value_field, "is_row_max",
                   "is_row_min", "utility", "utility_basis", "weight", "aggregate", "welfare"]
        return pd.DataFrame(records, columns=columns)


def _tied(values: dict[str, float], pick) -> list[str]:
    """Every dimension whose value equals the row's ``pick`` (max or min); none for a row of fewer than two values."""
    if len(values) < 2:
        return []
    extreme = pick(values.values())
    return [name for name, value in values.items() if value == extreme]


def leaderboard(*, bank: ItemBank | None, family: str = PVQ, dimensions=None, aggregate: str = welfare.UTILITARIAN,
                weights: str | dict | None = None) -> Leaderboard:
    """Models × dimensions of one value system on one item bank, ranked by a welfare function.

    A model's utility on a dimension is its mean rating (1-6). Published Schwartz scores have no
    mean: their utility is the centred score + 3.5 (``utility_basis`` says which was used).
    """
    family = family_resolve(family)
    as_given = _dimensions_as_given(family, dimensions)
    chosen = [name for name in FAMILIES[family] if name in as_given]
    if aggregate not in welfare.AGGREGATIONS:
        raise ResultsError(f"aggregate must be one of {', '.join(welfare.AGGREGATIONS)}, got {aggregate!r}")
    # Positional weights follow the order in which the dimensions were listed (not the canonical order).
    weight_map = weights if isinstance(weights, dict) else weights_resolve(weights, as_given)
    if bank is None:
        return Leaderboard(None, family, chosen, aggregate, weight_map, [])
    frame = scores_frame(baseline_runs(bank))
    frame = frame[(frame["family"] == family) & frame["dimension"].isin(chosen)]
    if frame.empty:
        return Leaderboard(bank, family, chosen, aggregate, weight_map, [])
    value_field = display_value(family)
    index = ["run_id", "model_id", "model", "source"]
    wide = frame.set_index([*index, "dimension"])[["score", "mean"]].unstack("dimension")
    values = wide[value_field].reindex(columns=chosen)
    means = wide["mean"].reindex(columns=chosen)
    shifted = wide["score"].reindex(columns=chosen) + PUBLISHED_SHIFT
    has_means = means.notna().all(axis=1)
    utilities = means.where(has_means, shifted, axis=0)
    basis = np.where(has_means, "mean", f"score + {PUBLISHED_SHIFT}")
    try:
        welfare_values = welfare.welfare(utilities, method=aggregate, weights=weight_map)
    except ValueError as exc:
        raise ResultsError(str(exc)) from None
    rows = []
    organizations = dict(LLM.objects.filter(pk__in=[int(key[1]) for key in values.index]).values_list("pk", "organization"))
    value_matrix, utility_matrix = values.to_numpy(float), utilities.to_numpy(float)
    welfare_array = welfare_values.to_numpy(float)
    for position, (run_id, model_id, model, source) in enumerate(values.index):
        row_values = {name: _clean(value_matrix[position, j]) for j, name in enumerate(chosen)}
        present = {name: value for name, value in row_values.items() if value is not None}
        rows.append({
            "run_id": int(run_id), "model_id": int(model_id), "model": model,
            "organization": organizations.get(int(model_id), ""), "source": source,
            "values": row_values,
            "utilities": {name: _clean(utility_matrix[position, j]) for j, name in enumerate(chosen)},
            "utility_basis": str(basis[position]),
            "welfare": _clean(welfare_array[position]),
            "max_dimension": max(present, key=present.get) if len(present) > 1 else None,
            "min_dimension": min(present, key=present.get) if len(present) > 1 else None,
            # Ties are all marked, as the paper marks them (claude-3-5-haiku's Achievement and Hedonism, -0.03).
            "max_dimensions": _tied(present, max), "min_dimensions": _tied(present, min),
        })
    rows.sort(key=lambda row: (row["welfare"] is None, -(row["welfare"] or 0), row["model"].lower()))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return Leaderboard(bank, family, chosen, aggregate, weight_map, rows)


# --- one model, comparisons -----------------------------------------------------------------------


def model_runs(llm: LLM, user) -> QuerySet[Run]:
    return runs_visible(user).filter(llm=llm).order_by("bank__name", "condition", "-created_at")


def run_default(llm: LLM, user) -> Run | None:
    """The model's newest completed baseline run (any bank), else its newest completed run, else its newest run."""
    runs = model_runs(llm, user)
    completed = runs.filter(status=Run.Status.COMPLETED).order_by("-finished_at", "-id")
    return completed.filter(condition="baseline").first() or completed.first() or runs.order_by("-created_at").first()


def run_dimension_items(run: Run, family: str, dimension: str) -> list[dict]:
    """The items behind one of a run's scores: query, response, ρ, the model's mean rating and its six answers."""
    settings = run.settings or {}
    items = list(
        _items_for_dimension(run.bank, family, dimension, settings)
        .prefetch_related(
            Prefetch("answers", queryset=Answer.objects.filter(run=run).order_by("prompt_index"), to_attr="run_answers"),
            Prefetch("correlations", queryset=ItemCorrelation.objects.filter(family=family, dimension=dimension),
                     to_attr="dimension_correlations"),
        )
    )
    result = []
    for item in items:
        ratings = [answer.rating for answer in item.run_answers if answer.rating is not None]
        correlation = item.dimension_correlations[0] if item.dimension_correlations else None
        result.append({
            "id": item.pk, "item_id": item.item_id, "source": item.source, "title": item.title, "query": item.query,
            "response": item.response,
            "rho": _clean(correlation.rho) if correlation else None,
            "p_value": _clean(correlation.p_value) if correlation else None,
            "mean_rating": _clean(sum(ratings) / len(ratings)) if ratings else None,
            "answers": [{"prompt_index": a.prompt_index, "rating": a.rating, "raw_text": a.raw_text} for a in item.run_answers],
        })
    return result


def _items_for_dimension(bank: ItemBank, family: str, dimension: str, settings: dict) -> QuerySet[BankItem]:
    from benchmark.selectors import items_for_dimension

    return items_for_dimension(
        bank, family, dimension, threshold=float(settings.get("threshold", scoring.DEFAULT_THRESHOLD)),
        alpha=float(settings.get("alpha", scoring.DEFAULT_ALPHA)), mode=settings.get("mode", "positive"),
    )


def compare_models(llms: list[LLM], bank: ItemBank) -> pd.DataFrame:
    """Long scores (all families) of each model's baseline run on ``bank``."""
    runs = baseline_runs(bank).filter(llm__in=llms)
    return scores_frame(runs)


def condition_differences(llm: LLM, bank: ItemBank, user) -> pd.DataFrame:
    """Each completed condition run of a model minus its baseline, per family × dimension.

    Columns ``condition, run_id, family, dimension, baseline, value, difference``; Schwartz
    families compare centred scores, the BFI its mean ratings. The newest run of each condition
    counts. The arithmetic is benchmark's ``condition_effects``.
    """
    from benchmark.comparisons import condition_effects

    runs = model_runs(llm, user).filter(bank=bank, status=Run.Status.COMPLETED)
    frame = scores_frame(runs)
    columns = ["condition", "run_id", "family", "dimension", "baseline", "value", "difference"]
    if frame.empty or "baseline" not in set(frame["condition"]):
        return pd.DataFrame(columns=columns)
    frame["score"] = np.where(frame["family"] == BFI, frame["mean"], frame["score"])
    frame = frame[frame["run_id"] == frame.groupby("condition")["run_id"].transform("max")]
    baseline = frame[frame["condition"] == "baseline"]
    parts = [
        condition_effects(group, baseline).rename(columns={"condition": "value", "effect": "difference"}).assign(
            condition=condition, run_id=int(group["run_id"].iloc[0]))
        for condition, group in frame[frame["condition"] != "baseline"].groupby("condition", sort=True)
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


# --- human alignment ------------------------------------------------------------------------------


def references_frame(family: str = PVQ) -> pd.DataFrame:
    """Wide DataFrame: one row per human reference group (index ``name``), one column per dimension."""
    rows = HumanReferenceValue.objects.filter(family=family).values_list("reference__name", "dimension", "value")
    frame = pd.DataFrame(list(rows), columns=["name", "dimension", "value"])
    if frame.empty:
        return pd.DataFrame(columns=FAMILIES[family])
    return frame.pivot_table(index="name", columns="dimension", values="value", aggfunc="first").reindex(
        columns=FAMILIES[family])


def model_vectors(bank: ItemBank | None, family: str = PVQ) -> pd.DataFrame:
    """Wide DataFrame: each model's baseline vector on ``bank`` (index = model label)."""
    if bank is None:
        return pd.DataFrame(columns=FAMILIES[family])
    frame = scores_frame(baseline_runs(bank))
    frame = frame[frame["family"] == family]
    if frame.empty:
        return pd.DataFrame(columns=FAMILIES[family])
    return frame.pivot_table(index="model", columns="dimension", values=display_value(family), aggfunc="first").reindex(
        columns=FAMILIES[family])


def spearman_table(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Long ``left, right, rho, p_value, n``: Spearman ρ between every row of ``left`` and every row of ``right``.

    Only dimensions measured in both rows count; fewer than 3 common dimensions gives NaN.
    """
    records = []
    for left_name, left_row in left.iterrows():
        for right_name, right_row in right.iterrows():
            common = left_row.notna() & right_row.notna()
            n = int(common.sum())
            if n < 3 or left_row[common].nunique() < 2 or right_row[common].nunique() < 2:
                rho, p_value = float("nan"), float("nan")
            else:
                result = stats.spearmanr(left_row[common].to_numpy(float), right_row[common].to_numpy(float))
                rho, p_value = float(result.statistic), float(result.pvalue)
            records.append({"left": left_name, "right": right_name, "rho": rho, "p_value": p_value, "n": n})
    return pd.DataFrame(records, columns=["left", "right", "rho", "p_value", "n"])


def pca_map(vectors: pd.DataFrame) -> pd.DataFrame:
    """2-D principal-component coordinates of the rows of ``vectors``.

    Only dimensions every row has are used (a dimension missing anywhere is dropped, so one
    model without, say, Tradition items does not remove that model from the map); rows still
    incomplete are dropped. Each dimension is centred over the rows (no scaling: all dimensions
    share one unit); the axes are the first two right singular vectors. Columns ``name, pc1,
    pc2``; ``attrs["explained"]`` holds each axis's share of the variance and
    ``attrs["dimensions"]`` the dimensions used.
    """
    shared = vectors.dropna(axis=1, how="any")
    complete = shared if shared.shape[1] >= 2 else vectors.dropna()
    complete = complete.dropna()
    if len(complete) < 2:
        result = pd.DataFrame({"name": complete.index, "pc1": 0.0, "pc2": 0.0})
        result.attrs["explained"] = [float("nan"), float("nan")]
        return result
    matrix = complete.to_numpy(float)
    centred = matrix - matrix.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = u[:, :2] * s[:2]
    if coords.shape[1] < 2:
        coords = np.column_stack([coords, np.zeros(len(coords))])
    total = float((s ** 2).sum())
    result = pd.DataFrame({"name": complete.index, "pc1": coords[:, 0], "pc2": coords[:, 1]})
    result.attrs["explained"] = [float(s[i] ** 2 / total) if total and i < len(s) else 0.0 for i in range(2)]
    result.attrs["dimensions"] = list(complete.columns)
    return result


def persona_reference(persona_key: str, references: list[HumanReference]) -> HumanReference | None:
    """The human reference group matching a persona.

    The paper's ESS groups are matched by benchmark's own table (``reference_for_persona``);
    an imported profile matches when its group kind is the persona's (or empty) and its name,
    after any "Source:" prefix, is the persona's label ("Male", "Right-wing", "80+" ...).
    """
    from benchmark.paper_data import reference_for_persona

    by_name = {reference.name: reference for reference in references}
    paper_name = reference_for_persona(persona_key)
    if paper_name in by_name:
        return by_name[paper_name]
    persona = PERSONAS.get(persona_key)
    if persona is None:
        return None

    def key(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum() or ch == "+")

    for reference in references:
        if reference.group_kind in ("", persona.group_kind) and key(reference.name.rsplit(":", 1)[-1]) == key(persona.label):
            return reference
    return None


BIAS_COLUMNS = ["group_kind", "persona", "reference", "dimension", "model_difference", "human_value"]


def persona_bias(llm: LLM, bank: ItemBank, user, family: str = PVQ) -> pd.DataFrame:
    """Persona condition − baseline of a model next to the matching human group's value (Figures 5-7).

    Columns ``group_kind, persona, reference, dimension, model_difference, human_value``.
    """
    diffs = condition_differences(llm, bank, user)
    diffs = diffs[(diffs["family"] == family) & diffs["condition"].str.startswith("persona:")]
    if diffs.empty:
        return pd.DataFrame(columns=BIAS_COLUMNS)
    references = list(HumanReference.objects.prefetch_related(
        Prefetch("values", queryset=HumanReferenceValue.objects.filter(family=family))))
    records = []
    for condition, group in diffs.groupby("condition", sort=False):
        key = condition.split(":", 1)[1]
        persona = PERSONAS.get(key)
        reference = persona_reference(key, references)
        human = {value.dimension: value.value for value in reference.values.all()} if reference else {}
        for row in group.itertuples():
            records.append({
                "group_kind": persona.group_kind if persona else "custom",
                "persona": persona.label if persona else key,
                "reference": reference.name if reference else None,
                "dimension": row.dimension,
                "model_difference": row.difference,
                "human_value": human.get(row.dimension),
            })
    return _bias_sorted(pd.DataFrame(records, columns=BIAS_COLUMNS), family)


def persona_bias_summary(bias: pd.DataFrame) -> pd.DataFrame:
    """Per persona: Spearman ρ and mean absolute difference between the model's effects and the human group's values.

    Columns ``group_kind, persona, reference, n, spearman_rho, mean_abs_difference`` (benchmark's
    ``compare_with_reference``); personas without a matching human group are left out.
    """
    from benchmark.comparisons import compare_with_reference

    columns = ["group_kind", "persona", "reference", "n", "spearman_rho", "mean_abs_difference"]
    records = []
    for (kind, persona, reference), group in bias.dropna(subset=["reference", "human_value"]).groupby(
            ["group_kind", "persona", "reference"], sort=True):
        effects = group.assign(family=PVQ).rename(columns={"model_difference": "effect"})
        human = group.assign(family=PVQ).rename(columns={"human_value": "value"})
        _, summary = compare_with_reference(effects, human)
        records.append({"group_kind": kind, "persona": persona, "reference": reference, "n": summary["n"],
                        "spearman_rho": summary["spearman_rho"], "mean_abs_difference": summary["mean_abs_difference"]})
    return pd.DataFrame(records, columns=columns)


PUBLISHED_PERSONA_LABEL = "GPT-4o (published: paper Tables 9 and 11)"


def published_persona_bias(family: str = PVQ) -> pd.DataFrame:
    """The paper's own GPT-4o persona effects (Tables 9 and 11) next to the matching human groups."""
    from benchmark.paper_data import COLUMNS, GPT4O_PERSONA_EFFECTS

    references = list(HumanReference.objects.prefetch_related(
        Prefetch("values", queryset=HumanReferenceValue.objects.filter(family=family))))
    records = []
    for key, effects in GPT4O_PERSONA_EFFECTS.items():
        persona = PERSONAS[key]
        reference = persona_reference(key, references)
        human = {value.dimension: value.value for value in reference.values.all()} if reference else {}
        for dimension, effect in zip(COLUMNS, effects, strict=True):
            records.append({"group_kind": persona.group_kind, "persona": persona.label,
                            "reference": reference.name if reference else None, "dimension": dimension,
                            "model_difference": effect, "human_value": human.get(dimension)})
    return _bias_sorted(pd.DataFrame(records, columns=BIAS_COLUMNS), family)


def _bias_sorted(frame: pd.DataFrame, family: str) -> pd.DataFrame:
    order = {name: index for index, name in enumerate(FAMILIES[family])}
    rank = frame["dimension"].map(order)
    return frame.assign(_rank=rank).sort_values(["group_kind", "persona", "_rank"], kind="stable").drop(
        columns="_rank").reset_index(drop=True)


def closest_models(profile: pd.Series, bank: ItemBank | None, *, limit: int = 5) -> pd.DataFrame:
    """Models whose Schwartz-10 vector is most like ``profile`` (Spearman ρ), best first.

    Columns ``model, model_id, rho, p_value, n``.
    """
    vectors = model_vectors(bank, PVQ)
    columns = ["model", "model_id", "rho", "p_value", "n"]
    if vectors.empty:
        return pd.DataFrame(columns=columns)
    table = spearman_table(pd.DataFrame([profile.reindex(FAMILIES[PVQ])], index=["you"]), vectors)
    ids = dict(baseline_runs(bank).values_list("llm__display_name", "llm_id"))
    ids.update(dict(baseline_runs(bank).values_list("llm__name", "llm_id")))
    table = table.rename(columns={"right": "model"}).assign(model_id=lambda t: t["model"].map(ids))
    table = table.dropna(subset=["rho"]).sort_values(["rho", "model"], ascending=[False, True])
    return table[columns].head(limit).reset_index(drop=True)

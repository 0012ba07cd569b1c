"""Reads behind the results API and pages: visibility, items, leaderboard, comparisons, alignment.

Every function here reads; nothing writes. Scores are fetched in one query per page and shaped
with pandas, so a page costs a handful of queries whatever the number of models.
"""

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from django.db.models import Count, Prefetch, Q, QuerySet

from benchmark import protocol as protocols
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
from psychometrics.stats.correlation import spearman_rows
from psychometrics.stats.dimensions import BFI, FAMILIES, HIGHER_PVQ, PVQ, canonical_dimension
from results import welfare

RESEARCHER_GROUP = "researchers"
PUBLISHED_BANK_NAME = "Value Portrait paper (published)"
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


def model_labels(models) -> dict[int, str]:
    """A unique label per model from ``(pk, name, provider)`` triples: its name, then its provider when two
    models share a name (the same name served by two providers or endpoints is two models), then its id.
    Never its endpoint: base URLs are not shown publicly."""
    models = list(dict.fromkeys(models))
    by_name: dict[str, set] = {}
    for pk, name, _ in models:
        by_name.setdefault(name, set()).add(pk)
    labels = {pk: name if len(by_name[name]) == 1 else f"{name} ({provider})" for pk, name, provider in models}
    counts = pd.Series(list(labels.values())).value_counts()
    return {pk: label if counts[label] == 1 else f"{label} #{pk}" for pk, label in labels.items()}


def llm_labels(llms) -> dict[int, str]:
    """:func:`model_labels` of ``LLM`` objects."""
    return model_labels((llm.pk, str(llm), llm.provider) for llm in llms)


def scores_frame(runs) -> pd.DataFrame:
    """Long DataFrame of the runs' scores with run and model columns, in one query (``model`` unique per model)."""
    rows = Score.objects.filter(run__in=runs).values_list(
        "run_id", "run__llm_id", "run__llm__display_name", "run__llm__name", "run__llm__provider", "run__source",
        "run__condition", "family", "dimension", *SCORE_FIELDS,
    )
    frame = pd.DataFrame(list(rows), columns=["run_id", "model_id", "display_name", "name", "provider", "source",
                                              "condition", "family", "dimension", *SCORE_FIELDS])
    if len(frame):
        names = frame["display_name"].where(frame["display_name"].astype(bool), frame["name"])
        labels = model_labels(zip(frame["model_id"], names, frame["provider"], strict=True))
        frame["model"] = frame["model_id"].map(labels)
    else:
        frame["model"] = []
    return frame.drop(columns=["display_name", "name", "provider"]).astype(
        {field: float for field in SCORE_FIELDS if field != "n_items"})


# --- protocols ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolChoice:
    """A protocol the completed, published baseline runs on a bank use (``benchmark.protocol``)."""

    digest: str
    fields: dict
    runs: int

    @property
    def short(self) -> str:
        return protocols.short_digest(self.digest)

    @property
    def summary(self) -> str:
        return protocols.protocol_summary(self.fields)

    @property
    def selection(self) -> str:
        return protocols.selection_summary(self.fields.get("selection") or {})

    @property
    def is_paper(self) -> bool:
        return protocols.is_paper_protocol(self.fields)

    def as_dict(self) -> dict:
        return {"digest": self.digest, "short_digest": self.short, "summary": self.summary, "runs": self.runs,
                "is_paper": self.is_paper, "fields": self.fields}


def _comparable_runs(bank: ItemBank) -> QuerySet[Run]:
    return Run.objects.filter(bank=bank, status=Run.Status.COMPLETED, is_published=True, condition="baseline")


def protocols_available(bank: ItemBank | None) -> list[ProtocolChoice]:
    """The protocols of the bank's comparable runs, the default first: the paper's settings, then most runs."""
    if bank is None:
        return []
    counts: dict[str, int] = {}
    fields: dict[str, dict] = {}
    for digest, values in _comparable_runs(bank).order_by("-id").values_list("protocol_digest", "protocol"):
        counts[digest] = counts.get(digest, 0) + 1
        fields.setdefault(digest, values or {})
    choices = [ProtocolChoice(digest, fields[digest], count) for digest, count in counts.items()]
    return sorted(choices, key=lambda choice: (not choice.is_paper, -choice.runs, choice.digest))


def protocol_resolve(bank: ItemBank | None, value: str | None = None) -> ProtocolChoice | None:
    """The protocol a page or API request compares within: ``value`` (a digest or its first 12 or more hex
    digits) among the bank's protocols, or the default one; ``ResultsError`` for an unknown value."""
    choices = protocols_available(bank)
    value = (value or "").strip().lower()
    if not value:
        return choices[0] if choices else None
    matches = [choice for choice in choices if len(value) >= protocols.SHORT_DIGEST and choice.digest.startswith(value)]
    if len(matches) != 1:
        known = ", ".join(f"{choice.short} ({choice.summary})" for choice in choices) or "none"
        raise ResultsError(f"no protocol {value!r} on item bank {bank.name if bank else None!r}; available: {known}")
    return matches[0]


def _digest(bank: ItemBank, chosen: "ProtocolChoice | str | None") -> str | None:
    if isinstance(chosen, ProtocolChoice):
        return chosen.digest
    if chosen:
        return chosen
    default = protocol_resolve(bank)
    return default.digest if default else None


def baseline_runs(bank: ItemBank, protocol: "ProtocolChoice | str | None" = None) -> QuerySet[Run]:
    """The newest completed, published baseline run of each model on ``bank`` under one protocol
    (``protocol``, a choice or a digest; default: the bank's default protocol): runs scored under
    different protocols are never put side by side."""
    runs = _comparable_runs(bank).filter(protocol_digest=_digest(bank, protocol))
    newest = {}
    for pk, llm_id in runs.order_by("-finished_at", "-created_at", "-id").values_list("pk", "llm_id"):
        newest.setdefault(llm_id, pk)
    return Run.objects.filter(pk__in=newest.values()).select_related("llm", "bank")


def banks_ranked(user, family: str, *, besides: ItemBank | None = None) -> list[tuple[ItemBank, int]]:
    """The visible item banks (other than ``besides``) whose default protocol ranks models on ``family``, each
    with its number of models: separate rankings, since models are ranked together only on one bank's items."""
    banks = banks_visible(user).order_by("name")
    if besides is not None:
        banks = banks.exclude(pk=besides.pk)
    ranked = []
    for bank in banks:
        models = baseline_runs(bank).filter(scores__family=family).values("llm").distinct().count()
        if models:
            ranked.append((bank, models))
    return ranked


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


# --- targets of the leaderboard's question ----------------------------------------------------------

CLOSENESS = "closeness"
ENDORSEMENT = "endorsement"
QUESTIONS = {
    CLOSENESS: "Which models are closest to a target value profile?",
    ENDORSEMENT: "Which models prioritise the chosen values most?",
}
TARGET_RATERS = "raters"
TARGET_PROFILE = "profile"
TARGET_SELF = "self"
SHIPPED_GSS = "gss-2012"
SHIPPED_BFI_NORMS = "bfi10-norms"
# Values printed with two decimals (the paper's tables) are known to within half a unit of the last digit.
PUBLISHED_ROUNDING = 0.005
RANK_BOOTSTRAP = 1000
RANK_SEED = 20250102
MSG_ENDORSE_ALL = (
    "Ranking all {n} {label} at equal weights by endorsement would rank nothing: every model's centred scores "
    "average to about zero across a value system (that is what centring does), so the mean endorsement is the "
    "same for every model up to noise. Choose a subset of the values, give them different weights, or ask which "
    "models are closest to a target profile (question=closeness)."
)
MSG_ENDORSE_NEUROTICISM = (
    "Neuroticism is not a value to prioritise: ranking models by how strongly they endorse it would count emotional "
    "instability as a good. Leave Neuroticism out of an endorsement ranking (or give it weight 0), or ask which "
    "models are closest to a target profile (question=closeness), where a low target Neuroticism counts as it should."
)


@dataclass(frozen=True)
class Target:
    """A profile the leaderboard measures closeness to: its values are of one ``kind`` (centred or mean)."""

    key: str
    label: str
    kind: str
    values: dict[str, float]
    source: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "kind": self.kind, "source": self.source,
                "values": {name: _clean(value) for name, value in self.values.items()}}


@lru_cache(maxsize=4)
def shipped_profile(key: str) -> Target:
    """A human profile computed from the reference samples shipped in ``psychometrics/reference``.

    ``gss-2012``: the mean MRAT-centred PVQ-21 profile (10 basic and 4 higher-order values) of the
    1,255 US adults of the GSS 2012 values module (``score_pvq21``). ``bfi10-norms``: the mean
    centred BFI-10 profile (each respondent's trait minus their own mean trait) of the 2,000
    respondents simulated from published adult norms (Rammstedt & John, 2007).
    """
    from psychometrics.stats.careless import reference_answers
    from psychometrics.stats.scoring import score_bfi10, score_pvq21

    if key == SHIPPED_GSS:
        scores = score_pvq21(pd.DataFrame(reference_answers("PVQ-21"), columns=range(1, 22)))
        return Target(key, f"US adults, GSS 2012 (n = {len(scores)}; PVQ-21, centred)", welfare.CENTRED,
                      {name: float(value) for name, value in scores.mean().items()},
                      "General Social Survey 2012 values module (psychometrics/reference/pvq21_gss2012_us.csv)")
    if key == SHIPPED_BFI_NORMS:
        traits = score_bfi10(pd.DataFrame(reference_answers("BFI-10"), columns=range(1, 11)))
        centred = traits.sub(traits.mean(axis=1), axis=0)
        return Target(key, f"Adult BFI-10 norms (n = {len(centred)} simulated; centred)", welfare.CENTRED,
                      {name: float(value) for name, value in centred.mean().items()},
                      "Simulated from published BFI-10 norms, Rammstedt & John 2007 (psychometrics/reference/bfi10_simulated.csv)")
    raise ResultsError(f"unknown shipped profile {key!r}")


SHIPPED_FOR_FAMILY = {PVQ: SHIPPED_GSS, HIGHER_PVQ: SHIPPED_GSS, BFI: SHIPPED_BFI_NORMS}


def _reference_target(reference: HumanReference, family: str, key: str, label: str | None = None) -> Target:
    values = {value.dimension: float(value.value) for value in reference.values.all() if value.family == family}
    return Target(key, label or reference.name, reference.kind, values, reference.source)


def _profile_references(family: str) -> QuerySet[HumanReference]:
    """Human references that are profiles (not deviations) with values in ``family``."""
    return (HumanReference.objects.exclude(kind=HumanReference.Kind.DEVIATION)
            .filter(values__family=family).distinct()
            .prefetch_related(Prefetch("values", queryset=HumanReferenceValue.objects.filter(family=family))))


def bank_raters_target(bank: ItemBank | None, family: str) -> Target | None:
    """The profile of the kept participants who rated ``bank``'s items, when it is stored with the bank."""
    if bank is None:
        return None
    reference = _profile_references(family).filter(bank=bank).order_by("pk").first()
    if reference is None:
        return None
    return _reference_target(reference, family, TARGET_RATERS, f"Raters of this item bank ({reference.name})")


def target_choices(bank: ItemBank | None, family: str) -> list[tuple[str, str]]:
    """``(key, label)`` of the targets a visitor may pick for ``family`` on ``bank`` (profile/self need values)."""
    choices = []
    raters = bank_raters_target(bank, family)
    if raters:
        choices.append((TARGET_RATERS, raters.label))
    shipped = shipped_profile(SHIPPED_FOR_FAMILY[family])
    choices.append((shipped.key, shipped.label))
    for reference in _profile_references(family).filter(bank__isnull=True).order_by("name"):
        choices.append((f"reference:{reference.pk}", f"{reference.name} ({reference.get_kind_display()})"))
    choices.append((TARGET_PROFILE, "A profile I set"))
    return choices


def profile_resolve(value: str | dict | None, family: str, kind: str) -> dict[str, float]:
    """Profile values from ``"Benevolence:0.8,Power:-1"`` or ``"0.1,0.2,…"`` (one per dimension, in the family's order)."""
    names = FAMILIES[family]
    if isinstance(value, dict):
        pairs = list(value.items())
    else:
        parts = [part.strip() for part in (value or "").split(",") if part.strip()]
        if not parts:
            raise ResultsError(f"give the target profile: profile=Dimension:value,… (dimensions of {FAMILY_LABELS[family]})")
        if all(":" not in part for part in parts):
            if len(parts) != len(names):
                raise ResultsError(f"give one profile value per dimension ({len(names)}: {', '.join(names)}), got {len(parts)}")
            pairs = list(zip(names, parts, strict=True))
        else:
            pairs = []
            for part in parts:
                name, sep, number = part.partition(":")
                if not sep or not name.strip():
                    raise ResultsError(f"profile value {part!r}: write Dimension:value, e.g. Benevolence:0.8")
                pairs.append((name, number))
    low, high = (-5.0, 5.0) if kind == welfare.CENTRED else (1.0, 6.0)
    profile: dict[str, float] = {}
    for raw_name, raw_number in pairs:
        found_family, name = canonical_dimension(str(raw_name))
        if found_family != family:
            raise ResultsError(f"profile dimension {str(raw_name).strip()!r} is not one of {FAMILY_LABELS[family]}: {', '.join(names)}")
        if name in profile:
            raise ResultsError(f"profile value of {name!r} given twice")
        try:
            number = float(raw_number)
        except (TypeError, ValueError):
            raise ResultsError(f"profile value of {name!r} must be a number, got {raw_number!r}") from None
        if not (math.isfinite(number) and low <= number <= high):
            raise ResultsError(f"profile value of {name!r} must be between {low:g} and {high:g} for a {kind} profile, got {raw_number!r}")
        profile[name] = number
    return profile


def target_resolve(bank: ItemBank | None, family: str, target: str | None = None, *, profile=None,
                   profile_kind: str = welfare.CENTRED) -> Target:
    """The target profile named by ``target`` (see :func:`target_choices`); the bank's raters by default,
    else the shipped human profile of the family (GSS 2012 for Schwartz values, BFI-10 norms for the Big Five)."""
    key = (target or "").strip()
    if key in ("", TARGET_RATERS):
        raters = bank_raters_target(bank, family)
        if raters is not None:
            return raters
        if key == TARGET_RATERS:
            raise ResultsError(f"item bank {bank.name if bank else '(none)'!r} has no stored profile of its raters for "
                               f"{FAMILY_LABELS[family]}; choose another target")
        return shipped_profile(SHIPPED_FOR_FAMILY[family])
    if key in (SHIPPED_GSS, SHIPPED_BFI_NORMS):
        if SHIPPED_FOR_FAMILY[family] != key:
            raise ResultsError(f"target {key!r} has no {FAMILY_LABELS[family]}; use {SHIPPED_FOR_FAMILY[family]!r}")
        return shipped_profile(key)
    if key in (TARGET_PROFILE, TARGET_SELF):
        if profile_kind not in welfare.SPANS:
            raise ResultsError(f"profile_kind must be one of {', '.join(welfare.SPANS)}, got {profile_kind!r}")
        kind = welfare.CENTRED if key == TARGET_SELF else profile_kind
        label = "Your self-test profile (PVQ-21, centred)" if key == TARGET_SELF else f"Your profile ({kind})"
        return Target(key, label, kind, profile_resolve(profile, family, kind), "set by the visitor")
    if key.startswith("reference:"):
        wanted = key.split(":", 1)[1].strip()
        pk = record_id(wanted)
        # A bank's raters are reached through that bank (target=raters), which checks its visibility.
        references = HumanReference.objects.filter(bank__isnull=True).prefetch_related(
            Prefetch("values", queryset=HumanReferenceValue.objects.filter(family=family)))
        reference = references.filter(pk=pk).first() if pk is not None else references.filter(name=wanted).first()
        if reference is None:
            raise ResultsError(f"no human reference {wanted!r}; see /api/v1/references/")
        if reference.kind == HumanReference.Kind.DEVIATION:
            raise ResultsError(
                f"human reference {reference.name!r} is a deviation from its population (group − population), not a "
                "profile: models' scores cannot be close to it or far from it. Compare it with a persona run minus its "
                "baseline on the alignment page instead.")
        found = _reference_target(reference, family, key)
        if not found.values:
            raise ResultsError(f"human reference {reference.name!r} has no {FAMILY_LABELS[family]} values")
        return found
    raise ResultsError(f"unknown target {key!r}; choose raters, {SHIPPED_GSS}, {SHIPPED_BFI_NORMS}, reference:<id>, "
                       "profile or self")


# --- leaderboard ----------------------------------------------------------------------------------


@dataclass
class Leaderboard:
    bank: ItemBank | None
    family: str
    dimensions: list[str]
    aggregate: str
    weights: dict[str, float]
    rows: list[dict]
    question: str = CLOSENESS
    target: Target | None = None
    value_kind: str = welfare.CENTRED
    confidence: float = 0.95

    @property
    def value_field(self) -> str:
        return "mean" if self.value_kind == welfare.MEAN else "score"

    def as_dict(self) -> dict:
        return {
            "itembank": self.bank.name if self.bank else None,
            "family": self.family,
            "dimensions": self.dimensions,
            "question": self.question,
            "question_text": QUESTIONS[self.question],
            "target": self.target.as_dict() if self.target else None,
            "value": self.value_field,
            "value_kind": self.value_kind,
            "aggregate": self.aggregate,
            "weights": {name: self.weights.get(name, 1.0) for name in self.dimensions},
            "confidence": self.confidence,
            "rows": self.rows,
        }

    def long_frame(self) -> pd.DataFrame:
        """Tidy long table: one row per model × dimension, plus the welfare value and rank interval of each model."""
        records = [
            {"rank": row["rank"], "rank_low": row["rank_low"], "rank_high": row["rank_high"], "tied": row["tied"],
             "model": row["model"], "run_id": row["run_id"], "source": row["source"], "family": self.family,
             "dimension": name, "question": self.question, "target": self.target.label if self.target else None,
             "target_value": _clean(self.target.values.get(name)) if self.target else None,
             self.value_field: row["values"].get(name), "value_basis": row["value_basis"],
             "is_row_max": name in row["max_dimensions"], "is_row_min": name in row["min_dimensions"],
             "utility": row["utilities"].get(name), "weight": self.weights.get(name, 1.0), "aggregate": self.aggregate,
             "welfare": row["welfare"], "welfare_low": row["welfare_low"], "welfare_high": row["welfare_high"]}
            for row in self.rows for name in self.dimensions
        ]
        columns = ["rank", "rank_low", "rank_high", "tied", "model", "run_id", "source", "family", "dimension",
                   "question", "target", "target_value", self.value_field, "value_basis", "is_row_max", "is_row_min",
                   "utility", "weight", "aggregate", "welfare", "welfare_low", "welfare_high"]
        return pd.DataFrame(records, columns=columns)


def _tied(values: dict[str, float], pick) -> list[str]:
    """Every dimension whose value equals the row's ``pick`` (max or min); none for a row of fewer than two values."""
    if len(values) < 2:
        return []
    extreme = pick(values.values())
    return [name for name, value in values.items() if value == extreme]


def _model_values(frame: pd.DataFrame, family: str, kind: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Wide values of ``kind`` (rows = runs, columns = every dimension of ``family``), their standard errors and basis.

    Centred values are the stored ``score``; a run that has only mean ratings (the paper's Big Five
    table) gets ``mean - mean of its dimension means`` (basis says so). Standard errors come from the
    stored 95 % bootstrap interval (normal approximation: width / (2 · 1.96)); published values are
    marked NaN here and treated as rounded (see ``_replicates``).
    """
    index = ["run_id", "model_id", "model", "source"]
    wide = frame.set_index([*index, "dimension"])[["score", "mean", "ci_low", "ci_high"]].unstack("dimension")
    columns = FAMILIES[family]
    scores, means = wide["score"].reindex(columns=columns), wide["mean"].reindex(columns=columns)
    from scipy import stats  # off the import path of every command (results.apps imports lazily too)

    z = stats.norm.ppf(0.975)
    errors = ((wide["ci_high"] - wide["ci_low"]) / (2 * z)).reindex(columns=columns)
    if kind == welfare.MEAN:
        basis = pd.Series("mean", index=wide.index)
        return means, errors, basis
    has_scores = scores.notna().any(axis=1)
    derived = means.sub(means.mean(axis=1), axis=0)
    values = scores.where(has_scores, derived, axis=0)
    basis = pd.Series(np.where(has_scores, "score", "mean − mean of the family's means"), index=wide.index)
    return values, errors, basis


def _replicates(values: np.ndarray, errors: np.ndarray, published: np.ndarray, n_boot: int, seed: int, *,
                shared: bool = False) -> np.ndarray:
    """(n_boot, models, dimensions) draws of the values: normal with the bootstrap standard error; published values
    uniform within their rounding (± 0.005); a value with neither (fewer than 3 items) is held fixed.

    ``shared``: the same standard draws for every model (common random numbers). Each model's own
    distribution is unchanged, so its welfare interval is too, and two models with the same values
    and errors get exactly the same interval; rank intervals need independent draws (``shared=False``).
    """
    rng = np.random.default_rng(seed)
    shape = (n_boot, 1 if shared else values.shape[0], values.shape[1])
    spread = np.where(np.isnan(errors), 0.0, errors)
    draws = values + rng.standard_normal(shape) * spread
    rounding = rng.uniform(-PUBLISHED_ROUNDING, PUBLISHED_ROUNDING, size=shape)
    return np.where(published[None, :, None], values + rounding, draws)


def _utilities(values, *, question: str, target: Target | None, kind: str, columns: list[str]):
    frame = values if isinstance(values, pd.DataFrame) else pd.DataFrame(values, columns=columns)
    if question == ENDORSEMENT:
        return welfare.endorsement_utilities(frame)
    return welfare.target_utilities(frame, target.values, kind=kind)


def leaderboard(*, bank: ItemBank | None, family: str = PVQ, dimensions=None, aggregate: str = welfare.UTILITARIAN,
                weights: str | dict | None = None, question: str = CLOSENESS, target: str | Target | None = None,
                profile=None, profile_kind: str = welfare.CENTRED, n_boot: int = RANK_BOOTSTRAP,
                seed: int = RANK_SEED, confidence: float = 0.95,
                protocol: "ProtocolChoice | str | None" = None) -> Leaderboard:
    """Models of one value system on one item bank, ranked by a welfare function of per-dimension utilities.

    ``question="closeness"`` (default): utility = closeness of the model's value to the target's
    value of the same kind (``welfare.target_utilities``); the target is the bank's raters by
    default, else the shipped human profile of the family. ``question="endorsement"``: utility =
    the model's centred score rescaled to [0, 1] (``welfare.endorsement_utilities``); refused for
    all dimensions at equal weights, and for Neuroticism.

    Every model's values are redrawn ``n_boot`` times from their bootstrap uncertainty and the
    welfare recomputed: ``welfare_low``/``welfare_high`` are its ``confidence`` percentile interval,
    ``rank_low``/``rank_high`` that of its rank among the models. Rows are ranked by ``welfare_low``
    (the welfare the model reaches in all but the worst (1 - confidence)/2 of the replicates: a
    model ranks high only when it is reliably close), competition ranking (equal, equal rank);
    ``tied`` marks a row whose rank interval overlaps a neighbour's or whose rank equals one.
    """
    family = family_resolve(family)
    as_given = _dimensions_as_given(family, dimensions)
    chosen = [name for name in FAMILIES[family] if name in as_given]
    if aggregate not in welfare.AGGREGATIONS:
        raise ResultsError(f"aggregate must be one of {', '.join(welfare.AGGREGATIONS)}, got {aggregate!r}")
    if question not in QUESTIONS:
        raise ResultsError(f"question must be one of {', '.join(QUESTIONS)}, got {question!r}")
    # Positional weights follow the order in which the dimensions were listed (not the canonical order).
    weight_map = weights if isinstance(weights, dict) else weights_resolve(weights, as_given)
    try:
        w = welfare.validate_weights(weight_map, chosen)
    except ValueError as exc:
        raise ResultsError(str(exc)) from None
    active = [name for name in chosen if w[name] > 0]
    if question == ENDORSEMENT:
        if set(active) == set(FAMILIES[family]) and w[active].nunique() == 1:
            raise ResultsError(MSG_ENDORSE_ALL.format(n=len(FAMILIES[family]), label=FAMILY_LABELS[family]))
        if family == BFI and "Neuroticism" in active:
            raise ResultsError(MSG_ENDORSE_NEUROTICISM)
        goal, kind = None, welfare.CENTRED
    else:
        goal = target if isinstance(target, Target) else target_resolve(bank, family, target, profile=profile,
                                                                        profile_kind=profile_kind)
        kind = goal.kind
        missing = [name for name in active if name not in goal.values]
        if missing:
            raise ResultsError(f"target {goal.label!r} has no value for {', '.join(missing)}; leave "
                               f"{'it' if len(missing) == 1 else 'them'} out or give a weight of 0")
    empty = Leaderboard(bank, family, chosen, aggregate, weight_map, [], question, goal, kind, confidence)
    if bank is None:
        return empty
    frame = scores_frame(baseline_runs(bank, protocol))
    frame = frame[frame["family"] == family]
    if frame.empty:
        return empty
    values_all, errors_all, basis = _model_values(frame, family, kind)
    values, errors = values_all[active], errors_all[active]
    utilities = _utilities(values, question=question, target=goal, kind=kind, columns=active)
    weight_array = w[active].to_numpy(float)
    point = welfare.welfare_array(utilities.to_numpy(float), weight_array, aggregate)
    published = (values.index.get_level_values("source") == Run.Source.PUBLISHED)

    def replicate_welfare_of(draws):
        utilities_drawn = _utilities(draws.reshape(-1, len(active)), question=question, target=goal, kind=kind,
                                     columns=active).to_numpy(float).reshape(draws.shape)
        return welfare.welfare_array(utilities_drawn, weight_array, aggregate)

    arrays = values.to_numpy(float), errors.to_numpy(float), np.asarray(published)
    replicate_welfare = replicate_welfare_of(_replicates(*arrays, n_boot, seed))
    shared_welfare = replicate_welfare_of(_replicates(*arrays, n_boot, seed + 1, shared=True))
    tail = (1 - confidence) / 2
    measured_rows = ~np.isnan(point)
    welfare_low, welfare_high = np.full(len(point), np.nan), np.full(len(point), np.nan)
    if measured_rows.any():
        welfare_low[measured_rows], welfare_high[measured_rows] = np.quantile(
            shared_welfare[:, measured_rows], [tail, 1 - tail], axis=0)
    # Ranked by the welfare a model reaches in all but the worst (1 - confidence)/2 of the replicates:
    # a model ranks high only when it is reliably close to the target (see docs/results.md).
    ranks = welfare.competition_ranks(np.round(welfare_low, 9))
    low, high = welfare.rank_intervals(np.round(replicate_welfare, 9), confidence=confidence)
    shown = values_all.reindex(columns=chosen)
    shown_utilities = _utilities(shown, question=question, target=goal, kind=kind, columns=chosen)
    organizations = dict(LLM.objects.filter(pk__in=[int(key[1]) for key in values.index]).values_list("pk", "organization"))
    rows = []
    for position, (run_id, model_id, model, source) in enumerate(values.index):
        row_values = {name: _clean(shown.iat[position, j]) for j, name in enumerate(chosen)}
        present = {name: value for name, value in row_values.items() if value is not None}
        measured = not math.isnan(point[position])
        no_interval = [name for name in active if source != Run.Source.PUBLISHED and math.isnan(errors.iat[position, active.index(name)])]
        rows.append({
            "run_id": int(run_id), "model_id": int(model_id), "model": model,
            "organization": organizations.get(int(model_id), ""), "source": source,
            "values": row_values,
            "utilities": {name: _clean(shown_utilities.iat[position, j]) for j, name in enumerate(chosen)},
            "value_basis": str(basis.iat[position]),
            "welfare": _clean(point[position]),
            "welfare_low": _clean(welfare_low[position]), "welfare_high": _clean(welfare_high[position]),
            "rank": int(ranks[position]) if measured else None,
            "rank_low": int(low[position]) if measured else None,
            "rank_high": int(high[position]) if measured else None,
            "no_interval": no_interval,
            "max_dimension": max(present, key=present.get) if len(present) > 1 else None,
            "min_dimension": min(present, key=present.get) if len(present) > 1 else None,
            # Ties are all marked, as the paper marks them (claude-3-5-haiku's Achievement and Hedonism, -0.03).
            "max_dimensions": _tied(present, max), "min_dimensions": _tied(present, min),
        })
    rows.sort(key=lambda row: (row["rank"] is None, row["rank"] or 0, -(row["welfare"] or 0), row["model"].lower()))
    n_ranked = sum(row["rank"] is not None for row in rows)
    for position, row in enumerate(rows):
        if row["rank"] is None:
            row["rank"] = n_ranked + 1
        row["tied"] = any(_ranks_overlap(row, rows[other]) for other in (position - 1, position + 1)
                          if 0 <= other < len(rows))
    return Leaderboard(bank, family, chosen, aggregate, weight_map, rows, question, goal, kind, confidence)


def _ranks_overlap(row: dict, other: dict) -> bool:
    """Two ranked rows are tied when they share a rank or their rank intervals overlap."""
    if row["rank_low"] is None or other["rank_low"] is None:
        return False
    return row["rank"] == other["rank"] or (row["rank_low"] <= other["rank_high"] and other["rank_low"] <= row["rank_high"])


# --- one model, comparisons -----------------------------------------------------------------------


def model_runs(llm: LLM, user) -> QuerySet[Run]:
    return runs_visible(user).filter(llm=llm).order_by("bank__name", "condition", "-created_at")


def run_default(llm: LLM, user) -> Run | None:
    """The model's newest completed baseline run under its bank's default protocol (what the leaderboard
    shows), else its newest completed baseline run, else its newest completed run, else its newest run."""
    runs = model_runs(llm, user)
    completed = list(runs.filter(status=Run.Status.COMPLETED).order_by("-finished_at", "-id"))
    baseline = [run for run in completed if run.condition == "baseline"]
    defaults: dict[int, str | None] = {}
    for run in baseline:
        if run.bank_id not in defaults:
            default = protocol_resolve(run.bank)
            defaults[run.bank_id] = default.digest if default else None
        if run.protocol_digest == defaults[run.bank_id]:
            return run
    return (baseline or completed or [runs.order_by("-created_at").first()])[0]


def run_dimension_items(run: Run, family: str, dimension: str) -> list[dict]:
    """The items behind one of a run's scores (its protocol's selection): query, response, ρ, the model's
    mean rating and its six answers."""
    from benchmark.selectors import run_selection

    selection = run_selection(run)
    keyed = selection.loc[(selection["family"] == family) & (selection["dimension"] == dimension), "item_id"]
    items = list(
        BankItem.objects.filter(bank=run.bank, item_id__in=list(keyed)).order_by("id")
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


def compare_models(llms: list[LLM], bank: ItemBank, protocol: "ProtocolChoice | str | None" = None) -> pd.DataFrame:
    """Long scores (all families) of each model's baseline run on ``bank`` under one protocol (default: the bank's)."""
    runs = baseline_runs(bank, protocol).filter(llm__in=llms)
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


def references_frame(family: str = PVQ, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Wide DataFrame: one row per human reference group (index ``name``), one column per dimension.

    ``kinds`` keeps only references of those kinds (``HumanReference.Kind``): deviations (group −
    population) and profiles (centred, or mean ratings) are different quantities (docs/results.md).
    """
    # Raters' profiles belong to their bank (and share its visibility): see human_profiles.
    values = HumanReferenceValue.objects.filter(family=family, reference__bank__isnull=True)
    if kinds is not None:
        values = values.filter(reference__kind__in=kinds)
    rows = values.values_list("reference__name", "dimension", "value")
    frame = pd.DataFrame(list(rows), columns=["name", "dimension", "value"])
    if frame.empty:
        return pd.DataFrame(columns=FAMILIES[family])
    return frame.pivot_table(index="name", columns="dimension", values="value", aggfunc="first").reindex(
        columns=FAMILIES[family])


def human_profiles(family: str = PVQ, bank: ItemBank | None = None) -> pd.DataFrame:
    """Centred human profiles, one row each: ``bank``'s raters (when stored), the shipped profile of the
    family (GSS 2012 US adults for Schwartz values, BFI-10 norms for the Big Five) and the references
    of kind ``centred``."""
    targets = [target for target in (bank_raters_target(bank, family), shipped_profile(SHIPPED_FOR_FAMILY[family]))
               if target is not None]
    rows = pd.DataFrame([target.values for target in targets], index=[target.label for target in targets]).reindex(
        columns=FAMILIES[family])
    stored = references_frame(family, (HumanReference.Kind.CENTRED,))
    return pd.concat([rows, stored]) if len(stored) else rows


def human_deviations(family: str = PVQ) -> pd.DataFrame:
    """Human groups as deviations from their population (kind ``deviation``, e.g. the paper's ESS rows)."""
    return references_frame(family, (HumanReference.Kind.DEVIATION,))


def model_vectors(bank: ItemBank | None, family: str = PVQ, kind: str = welfare.CENTRED,
                  protocol: "ProtocolChoice | str | None" = None) -> pd.DataFrame:
    """Wide DataFrame: each model's baseline profile on ``bank`` under one protocol (index = unique model label;
    ``attrs["model_ids"]`` maps each label to its model id).

    ``kind="centred"``: centred scores (a run with mean ratings only, the paper's Big Five, gets each
    mean minus its mean over the family); ``kind="mean"``: mean ratings.
    """
    if bank is None:
        return pd.DataFrame(columns=FAMILIES[family])
    frame = scores_frame(baseline_runs(bank, protocol))
    frame = frame[frame["family"] == family]
    if frame.empty:
        return pd.DataFrame(columns=FAMILIES[family])
    values, _, _ = _model_values(frame, family, kind)
    vectors = values.droplevel(["run_id", "model_id", "source"]).groupby(level=0).first().reindex(columns=FAMILIES[family])
    vectors.attrs["model_ids"] = dict(zip(frame["model"], frame["model_id"].astype(int), strict=True))
    return vectors


def persona_effect_vectors(bias: pd.DataFrame, family: str = PVQ) -> pd.DataFrame:
    """Wide DataFrame of a model's persona effects (persona − baseline; index = persona label) from :func:`persona_bias`."""
    if bias.empty:
        return pd.DataFrame(columns=FAMILIES[family])
    return bias.pivot_table(index="persona", columns="dimension", values="model_difference", aggfunc="first").reindex(
        columns=FAMILIES[family])


def spearman_table(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Long ``left, right, rho, p_value, n``: Spearman ρ between every row of ``left`` and every row of ``right``.

    Only dimensions measured in both rows count; fewer than 3 common dimensions gives NaN.
    Vectorised (:func:`psychometrics.stats.correlation.spearman_rows`), equal to scipy pair by pair.
    """
    columns = left.columns.union(right.columns, sort=False)
    rho, p_value, n = spearman_rows(left.reindex(columns=columns).to_numpy(float),
                                    right.reindex(columns=columns).to_numpy(float))
    return pd.DataFrame({
        "left": np.repeat(left.index.to_numpy(), len(right)),
        "right": np.tile(right.index.to_numpy(), len(left)),
        "rho": rho.ravel(), "p_value": p_value.ravel(), "n": n.ravel().astype(int),
    }, columns=["left", "right", "rho", "p_value", "n"])


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


def closest_models(profile: pd.Series, bank: ItemBank | None, *, limit: int = 5,
                   protocol: "ProtocolChoice | str | None" = None) -> pd.DataFrame:
    """Models whose Schwartz-10 vector (under one protocol, default the bank's) is most like ``profile``
    (Spearman ρ), best first.

    Columns ``model, model_id, rho, p_value, n``.
    """
    vectors = model_vectors(bank, PVQ, protocol=protocol)
    columns = ["model", "model_id", "rho", "p_value", "n"]
    if vectors.empty:
        return pd.DataFrame(columns=columns)
    table = spearman_table(pd.DataFrame([profile.reindex(FAMILIES[PVQ])], index=["you"]), vectors)
    ids = vectors.attrs["model_ids"]
    table = table.rename(columns={"right": "model"}).assign(model_id=lambda t: t["model"].map(ids))
    table = table.dropna(subset=["rho"]).sort_values(["rho", "model"], ascending=[False, True])
    return table[columns].head(limit).reset_index(drop=True)

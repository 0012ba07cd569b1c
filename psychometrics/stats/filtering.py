"""Which participants' answers are analysed, each decision with its reasons.

The rules follow the kinds of Appendix E of the Value Portrait paper (attention checks,
completion time, straight-lining, careless answers), with cut-offs calibrated on real respondents
(docs/psychometrics.md, "Screening"): the paper's even-odd rules exclude a fifth to a quarter of
ordinary respondents, so they are reported but off by default, and the outlier screen and
longstring take their place.
"""

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from psychometrics.stats.careless import longstring, mahalanobis_squared, outlier_scores
from psychometrics.stats.scoring import (
    BFI10_KEY,
    BFI10_QUESTIONS,
    BFI10_SCALE,
    PVQ21_KEY,
    PVQ21_QUESTIONS,
    PVQ21_SCALE,
    bfi10_keyed,
    validate_answers,
)

ENDED_BY_FAILED_CHECKS = "ended_by_failed_checks"
FAILED_ATTENTION_CHECKS = "failed_attention_checks"
TOO_FAST = "too_fast"
IDENTICAL_PVQ21 = "identical_pvq21"
IDENTICAL_BFI10 = "identical_bfi10"
INCONSISTENT_PVQ21 = "inconsistent_pvq21"
INCONSISTENT_BFI10 = "inconsistent_bfi10"
MANUAL_EXCLUSION = "manual_exclusion"
OUTLIER_PVQ21 = "outlier_pvq21"
OUTLIER_BFI10 = "outlier_bfi10"
LONGSTRING_PVQ21 = "longstring_pvq21"
LONGSTRING_BFI10 = "longstring_bfi10"

REASONS: dict[str, str] = {
    ENDED_BY_FAILED_CHECKS: "survey ended for failed attention checks",
    FAILED_ATTENTION_CHECKS: "more failed attention checks than allowed",
    TOO_FAST: "completed faster than the minimum time",
    IDENTICAL_PVQ21: "same answer to every PVQ-21 item",
    IDENTICAL_BFI10: "same answer to every BFI-10 item",
    INCONSISTENT_PVQ21: "low even-odd consistency in the PVQ-21",
    INCONSISTENT_BFI10: "low even-odd consistency in the BFI-10",
    OUTLIER_PVQ21: "PVQ-21 answers unlike those of ordinary respondents (outlier screen)",
    OUTLIER_BFI10: "BFI-10 answers unlike those of ordinary respondents (outlier screen)",
    LONGSTRING_PVQ21: "a long run of identical PVQ-21 answers",
    LONGSTRING_BFI10: "a long run of identical BFI-10 answers",
    MANUAL_EXCLUSION: "excluded by a researcher",
}
# Not data quality: attention checks (Prolific's rule), completion time and a researcher's decision.
NOT_DATA_QUALITY = frozenset({ENDED_BY_FAILED_CHECKS, FAILED_ATTENTION_CHECKS, TOO_FAST, MANUAL_EXCLUSION})
# The rules that judge the answers themselves; together they should exclude about 5 % of real respondents.
DATA_QUALITY_REASONS = frozenset(REASONS) - NOT_DATA_QUALITY
ATTENTION_REASONS = frozenset({ENDED_BY_FAILED_CHECKS, FAILED_ATTENTION_CHECKS})

MANUAL_INCLUDE = "include"
MANUAL_EXCLUDE = "exclude"

# The indices computed for every participant (reported whether or not a rule uses them).
INDEX_COLUMNS = [
    "pvq21_consistency",
    "bfi10_consistency",
    "pvq21_longstring",
    "bfi10_longstring",
    "pvq21_mahalanobis",
    "bfi10_mahalanobis",
    "pvq21_outlier_score",
    "bfi10_outlier_score",
]
DECISION_COLUMNS = ["participant", "kept", "reasons", "manual", "failed_checks", "completion_seconds", *INDEX_COLUMNS]
# The median-time rule needs this many participants with a known completion time.
MIN_TIMES_FOR_MEDIAN = 10


@dataclass(frozen=True)
class FilterRules:
    """The rule set of an analysis. ``None`` switches a rule off.

    The defaults are calibrated on real respondents and simulated careless patterns
    (docs/psychometrics.md, "Screening"): together the data-quality rules exclude about 3-4 % of
    ordinary respondents and flag more than 90 % of uniformly random responders and every
    straight-liner.

    Attributes
    ----------
    max_failed_checks : int or None
        Exclude participants with more failed attention checks than this (paper: 2).
    min_completion_seconds : float or None
        Exclude participants who completed faster than this many seconds. A per-study choice (the
        paper's six minutes fit its own survey length only); unset by default.
    min_median_fraction : float or None
        Exclude participants who completed faster than this fraction of the median completion time
        of the analysed participants. Default 0.5: a relative speed index above 2, the cut-off of
        Leiner (2019), "Too fast, too straight, too weird".
    exclude_identical_answers : bool
        Exclude participants who gave one answer to every PVQ-21 item, or to every BFI-10 item.
    max_longstring_pvq21, max_longstring_bfi10 : int or None
        Exclude participants whose longest run of identical consecutive answers is longer than this
        (Johnson, 2005). PVQ-21 default 16 (runs of 17+ of 21: 0.5 % of real respondents, most of them
        all-identical); BFI-10 off (its reversed items make the identical-answers rule enough).
    outlier_rate : float or None
        The outlier screen (``careless.outlier_scores``): the share of ordinary respondents it may
        flag, shared by the questionnaires a participant answered in proportion to their length.
        Default 0.04 (docs/psychometrics.md, "Screening").
    min_pvq21_consistency, min_bfi10_consistency : float or None
        Even-odd consistency cut-offs (Johnson's .30 for the PVQ-21; the BFI-10 antonym pairs).
        Off by default: on real samples they exclude 16-26 % of ordinary respondents while catching
        few random ones; always reported as indices.
    """

    max_failed_checks: int | None = 2
    min_completion_seconds: float | None = None
    min_median_fraction: float | None = 0.5
    exclude_identical_answers: bool = True
    max_longstring_pvq21: int | None = 16
    max_longstring_bfi10: int | None = None
    outlier_rate: float | None = 0.04
    min_pvq21_consistency: float | None = None
    min_bfi10_consistency: float | None = None

    def __post_init__(self):
        checks = {
            "max_failed_checks": (0, None),
            "min_completion_seconds": (0, None),
            "min_median_fraction": (0, 1),
            "max_longstring_pvq21": (1, None),
            "max_longstring_bfi10": (1, None),
            "outlier_rate": (0, 0.5),
            "min_pvq21_consistency": (-1, 1),
            "min_bfi10_consistency": (-1, 1),
        }
        for name, (low, high) in checks.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise ValueError(f"Rule {name} must be a number or null, got {value!r}.")
            if value < low or (high is not None and value > high):
                bounds = f"{low} to {high}" if high is not None else f"at least {low}"
                raise ValueError(f"Rule {name} must be {bounds}, got {value!r}.")
        if not isinstance(self.exclude_identical_answers, bool):
            raise ValueError(f"Rule exclude_identical_answers must be true or false, got {self.exclude_identical_answers!r}.")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FilterRules":
        """Rules from a stored or given dict; unknown keys are a ``ValueError``, missing ones take defaults."""
        if not isinstance(data, dict):
            raise ValueError(f"Rules must be a JSON object, got {type(data).__name__}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown filter rule {unknown[0]!r}; rules are {sorted(known)}.")
        return cls(**data)


def describe_rules(rules: FilterRules) -> str:
    """The rule set in one sentence for pages and command output (rules switched off are left out)."""
    parts = []
    if rules.max_failed_checks is not None:
        parts.append(f"more than {rules.max_failed_checks} failed checks")
    if rules.min_completion_seconds is not None:
        parts.append(f"under {rules.min_completion_seconds:g} s")
    if rules.min_median_fraction is not None:
        parts.append(f"faster than {rules.min_median_fraction:g} × the median time")
    if rules.exclude_identical_answers:
        parts.append("one answer to every item")
    if rules.max_longstring_pvq21 is not None:
        parts.append(f"a run of more than {rules.max_longstring_pvq21} identical PVQ-21 answers")
    if rules.max_longstring_bfi10 is not None:
        parts.append(f"a run of more than {rules.max_longstring_bfi10} identical BFI-10 answers")
    if rules.outlier_rate is not None:
        parts.append(f"outlier screen at {100 * rules.outlier_rate:g} % of ordinary respondents")
    if rules.min_pvq21_consistency is not None:
        parts.append(f"PVQ-21 even-odd consistency below {rules.min_pvq21_consistency:g}")
    if rules.min_bfi10_consistency is not None:
        parts.append(f"BFI-10 antonym consistency below {rules.min_bfi10_consistency:g}")
    return "exclude " + ", ".join(parts) if parts else "no exclusion rules"


def even_odd_consistency(answers: pd.DataFrame, scales: dict[str, tuple[int, ...]]) -> pd.Series:
    """Even-odd consistency of each participant (Johnson, 2005; Curran, 2016).

    Each scale's items, in instrument order, are split into odd-positioned (1st, 3rd, ...) and
    even-positioned (2nd, 4th, ...) halves and each half is averaged. The index is the
    within-person Pearson correlation between the odd-half and even-half scores across scales,
    corrected for halved length with the Spearman-Brown formula ``2r / (1 + r)``, bounded below
    at -1. Careful respondents score near 1; random responding scores near 0.

    Scales with a missing half are skipped; the index is NaN when fewer than three scales remain
    or either set of half-scores is constant (e.g. identical answers throughout).

    Parameters
    ----------
    answers : DataFrame
        One row per participant, one column per (keyed) item number.
    scales : dict
        Scale name -> item numbers in instrument order (at least two items each).

    Returns
    -------
    Series
        The index per participant, named ``"even_odd_consistency"``.

    References
    ----------
    Johnson, J. A. (2005). Ascertaining the validity of individual protocols from web-based
    personality inventories. Journal of Research in Personality, 39, 103-129.
    Curran, P. G. (2016). Methods for the detection of carelessly invalid responses in survey
    data. Journal of Experimental Social Psychology, 66, 4-19.
    """
    odd = np.column_stack([answers[list(items[0::2])].mean(axis=1).to_numpy() for items in scales.values()])
    even = np.column_stack([answers[list(items[1::2])].mean(axis=1).to_numpy() for items in scales.values()])
    both = ~np.isnan(odd) & ~np.isnan(even)
    result = np.full(len(answers), np.nan)
    for i in range(len(answers)):
        x, y = odd[i, both[i]], even[i, both[i]]
        if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        r = float(np.corrcoef(x, y)[0, 1])
        # Spearman-Brown runs off to -infinity as r nears -1; any negative r is already as bad as it gets.
        result[i] = max(2 * r / (1 + r), -1.0) if r > -1 else -1.0
    return pd.Series(result, index=answers.index, name="even_odd_consistency")


def pvq21_consistency(answers: pd.DataFrame) -> pd.Series:
    """Even-odd consistency over the ten PVQ-21 values (see ``even_odd_consistency``)."""
    values = validate_answers(answers, questions=PVQ21_QUESTIONS, scale=PVQ21_SCALE, name="PVQ-21")
    return even_odd_consistency(values, PVQ21_KEY)


def bfi10_consistency(answers: pd.DataFrame) -> pd.Series:
    """Even-odd consistency over the five BFI-10 traits, after reverse-keying."""
    scales = {trait: tuple(q for q, _ in pair) for trait, pair in BFI10_KEY.items()}
    return even_odd_consistency(bfi10_keyed(answers), scales)


def _identical(answers: pd.DataFrame) -> pd.Series:
    """True where a participant answered at least two items and all with the same value."""
    return (answers.count(axis=1) >= 2) & (answers.nunique(axis=1) == 1)


def participant_decisions(
    participants: pd.DataFrame,
    pvq21: pd.DataFrame,
    bfi10: pd.DataFrame,
    rules: FilterRules,
    overrides: dict | None = None,
) -> pd.DataFrame:
    """Apply ``rules`` to every participant and record whether they are kept, and why not.

    Parameters
    ----------
    participants : DataFrame
        Columns ``participant`` (id), ``ended_by_failed_checks`` (bool: the survey ended early
        for failed checks), ``failed_checks`` (int) and ``completion_seconds`` (float, NaN if unknown).
    pvq21, bfi10 : DataFrame
        Wide answers indexed by participant id (columns 1-21 and 1-10); participants absent here
        have no answers, and rules about that questionnaire are skipped for them.
    rules : FilterRules
    overrides : dict, optional
        participant id -> ``"include"`` or ``"exclude"``: a researcher's decision, which wins over
        every rule. The automatic reasons are still reported for an included participant.

    Returns
    -------
    DataFrame
        One row per participant, columns ``DECISION_COLUMNS``; ``reasons`` is a list of reason
        codes (keys of ``REASONS``), empty for a kept participant without findings.
        ``attrs["median_completion_seconds"]`` and ``attrs["min_seconds_applied"]`` record the
        time cut-off used (None when no time rule applied).
    """
    required = {"participant", "ended_by_failed_checks", "failed_checks", "completion_seconds"}
    missing = required - set(participants.columns)
    if missing:
        raise ValueError(f"participants is missing columns {sorted(missing)}.")
    overrides = overrides or {}
    bad = set(overrides.values()) - {MANUAL_INCLUDE, MANUAL_EXCLUDE}
    if bad:
        raise ValueError(f"An override is 'include' or 'exclude', got {sorted(bad)[0]!r}.")

    ids = participants["participant"].tolist()
    pvq = validate_answers(pvq21, questions=PVQ21_QUESTIONS, scale=PVQ21_SCALE, name="PVQ-21").reindex(ids)
    bfi = validate_answers(bfi10, questions=BFI10_QUESTIONS, scale=BFI10_SCALE, name="BFI-10").reindex(ids)
    ended = participants["ended_by_failed_checks"].to_numpy(bool)
    failed = participants["failed_checks"].to_numpy()
    seconds = participants["completion_seconds"].astype(float).to_numpy()

    indices = {
        "pvq21_consistency": pvq21_consistency(pvq),
        "bfi10_consistency": bfi10_consistency(bfi),
        "pvq21_longstring": longstring(pvq),
        "bfi10_longstring": longstring(bfi),
        "pvq21_mahalanobis": mahalanobis_squared(pvq),
        "bfi10_mahalanobis": mahalanobis_squared(bfi),
    }
    # The outlier screen's rate is shared by the questionnaires a participant answered in full, in
    # proportion to their number of questions (the longer one carries more information).
    complete_pvq = pvq.notna().all(axis=1).astype(float) * len(PVQ21_QUESTIONS)
    complete_bfi = bfi.notna().all(axis=1).astype(float) * len(BFI10_QUESTIONS)
    total = (complete_pvq + complete_bfi).replace(0, 1)
    rate = rules.outlier_rate if rules.outlier_rate is not None else 0.0
    indices["pvq21_outlier_score"], pvq_outlier = outlier_scores(
        pvq, instrument="PVQ-21", scale=PVQ21_SCALE, rate=rate * complete_pvq / total
    )
    indices["bfi10_outlier_score"], bfi_outlier = outlier_scores(
        bfi, instrument="BFI-10", scale=BFI10_SCALE, rate=rate * complete_bfi / total
    )

    checks: list[tuple[str, np.ndarray]] = [(ENDED_BY_FAILED_CHECKS, ended)]
    if rules.max_failed_checks is not None:
        checks.append((FAILED_ATTENTION_CHECKS, failed > rules.max_failed_checks))
    min_seconds, median = _min_seconds(rules, seconds[~ended])
    if min_seconds is not None:
        checks.append((TOO_FAST, seconds < min_seconds))
    if rules.exclude_identical_answers:
        checks.append((IDENTICAL_PVQ21, _identical(pvq).to_numpy()))
        checks.append((IDENTICAL_BFI10, _identical(bfi).to_numpy()))
    if rules.max_longstring_pvq21 is not None:
        checks.append((LONGSTRING_PVQ21, (indices["pvq21_longstring"] > rules.max_longstring_pvq21).to_numpy()))
    if rules.max_longstring_bfi10 is not None:
        checks.append((LONGSTRING_BFI10, (indices["bfi10_longstring"] > rules.max_longstring_bfi10).to_numpy()))
    if rules.outlier_rate is not None:
        checks.append((OUTLIER_PVQ21, pvq_outlier.to_numpy()))
        checks.append((OUTLIER_BFI10, bfi_outlier.to_numpy()))
    if rules.min_pvq21_consistency is not None:
        checks.append((INCONSISTENT_PVQ21, (indices["pvq21_consistency"] < rules.min_pvq21_consistency).to_numpy()))
    if rules.min_bfi10_consistency is not None:
        checks.append((INCONSISTENT_BFI10, (indices["bfi10_consistency"] < rules.min_bfi10_consistency).to_numpy()))

    flags = np.column_stack([f for _, f in checks])
    codes = [code for code, _ in checks]
    manual = [overrides.get(pid, "") for pid in ids]
    reasons = [[codes[j] for j in np.flatnonzero(row)] for row in flags]
    for i, decision in enumerate(manual):
        if decision == MANUAL_EXCLUDE:
            reasons[i].append(MANUAL_EXCLUSION)
    result = pd.DataFrame(
        {
            "participant": ids,
            "kept": [m == MANUAL_INCLUDE or not r for m, r in zip(manual, reasons, strict=True)],
            "reasons": reasons,
            "manual": manual,
            "failed_checks": failed.astype(int),
            "completion_seconds": seconds,
            **{name: index.to_numpy(float) for name, index in indices.items()},
        },
        columns=DECISION_COLUMNS,
    )
    result.attrs["median_completion_seconds"] = median
    result.attrs["min_seconds_applied"] = min_seconds
    return result


def _min_seconds(rules: FilterRules, seconds: np.ndarray) -> tuple[float | None, float | None]:
    """The minimum completion time in force: the study's fixed minimum, else the median fraction."""
    known = seconds[np.isfinite(seconds)]
    median = float(np.median(known)) if known.size else None
    cut_offs = []
    if rules.min_completion_seconds is not None:
        cut_offs.append(float(rules.min_completion_seconds))
    if rules.min_median_fraction is not None and known.size >= MIN_TIMES_FOR_MEDIAN:
        cut_offs.append(rules.min_median_fraction * median)
    return (max(cut_offs) if cut_offs else None), median


def exclusion_counts(decisions: pd.DataFrame) -> dict[str, int]:
    """Number of excluded participants per reason (a participant can count under several)."""
    excluded = decisions.loc[~decisions["kept"], "reasons"]
    counts = dict.fromkeys(REASONS, 0)
    for reasons in excluded:
        for code in reasons:
            counts[code] += 1
    return {code: n for code, n in counts.items() if n}

"""Which participants' answers are analysed, each decision with its reasons.

The default rules follow Appendix E of the Value Portrait paper: exclude a participant who
failed more than two attention checks, finished in under six minutes, gave the same answer to
every PVQ-21 item or every BFI-10 item, or answered the PVQ-21 or BFI-10 inconsistently.
"""

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

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
    OUTLIER_PVQ21: "PVQ-21 answers far outside the sample's pattern (Mahalanobis distance)",
    OUTLIER_BFI10: "BFI-10 answers far outside the sample's pattern (Mahalanobis distance)",
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

DECISION_COLUMNS = [
    "participant",
    "kept",
    "reasons",
    "manual",
    "failed_checks",
    "completion_seconds",
    "pvq21_consistency",
    "bfi10_consistency",
]


@dataclass(frozen=True)
class FilterRules:
    """The rule set of an analysis. ``None`` switches a numeric rule off.

    Attributes
    ----------
    max_failed_checks : int or None
        Exclude participants with more failed attention checks than this (paper: 2).
    min_completion_seconds : float or None
        Exclude participants who completed faster than this (paper: 6 minutes = 360 s).
    exclude_identical_answers : bool
        Exclude participants who gave one answer to every PVQ-21 item, or to every BFI-10 item.
    min_pvq21_consistency : float or None
        Exclude participants whose Spearman-Brown-corrected even-odd consistency over the ten
        PVQ-21 values is below this. Default .30, the cut-off of Johnson (2005).
    min_bfi10_consistency : float or None
        The same for the five BFI-10 traits. With one item per half this is the within-person
        correlation of each trait's two keyed items: the psychometric-antonym check on the
        BFI-10's reversed pairs. Default 0: exclude only answers that contradict the keying
        more than they follow it (five pairs are too few for Johnson's .30).
    """

    max_failed_checks: int | None = 2
    min_completion_seconds: float | None = 360.0
    exclude_identical_answers: bool = True
    min_pvq21_consistency: float | None = 0.30
    min_bfi10_consistency: float | None = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FilterRules":
        """Rules from a stored dict; unknown keys are a ``ValueError``, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown filter rule {unknown[0]!r}; rules are {sorted(known)}.")
        return cls(**data)


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
        have no answers.
    rules : FilterRules
    overrides : dict, optional
        participant id -> ``"include"`` or ``"exclude"``: a researcher's decision, which wins over
        every rule. The automatic reasons are still reported for an included participant.

    Returns
    -------
    DataFrame
        One row per participant, columns ``DECISION_COLUMNS``; ``reasons`` is a list of reason
        codes (keys of ``REASONS``), empty for a kept participant without findings.
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
    pvq_consistency = pvq21_consistency(pvq)
    bfi_consistency = bfi10_consistency(bfi)
    failed = participants["failed_checks"].to_numpy()
    seconds = participants["completion_seconds"].astype(float).to_numpy()

    checks: list[tuple[str, np.ndarray]] = [(ENDED_BY_FAILED_CHECKS, participants["ended_by_failed_checks"].to_numpy(bool))]
    if rules.max_failed_checks is not None:
        checks.append((FAILED_ATTENTION_CHECKS, failed > rules.max_failed_checks))
    if rules.min_completion_seconds is not None:
        checks.append((TOO_FAST, seconds < rules.min_completion_seconds))
    if rules.exclude_identical_answers:
        checks.append((IDENTICAL_PVQ21, _identical(pvq).to_numpy()))
        checks.append((IDENTICAL_BFI10, _identical(bfi).to_numpy()))
    if rules.min_pvq21_consistency is not None:
        checks.append((INCONSISTENT_PVQ21, (pvq_consistency < rules.min_pvq21_consistency).to_numpy()))
    if rules.min_bfi10_consistency is not None:
        checks.append((INCONSISTENT_BFI10, (bfi_consistency < rules.min_bfi10_consistency).to_numpy()))

    rows = []
    for i, pid in enumerate(ids):
        reasons = [code for code, flags in checks if flags[i]]
        manual = overrides.get(pid, "")
        if manual == MANUAL_EXCLUDE:
            reasons.append(MANUAL_EXCLUSION)
        kept = manual == MANUAL_INCLUDE or not reasons
        rows.append(
            {
                "participant": pid,
                "kept": kept,
                "reasons": reasons,
                "manual": manual,
                "failed_checks": int(failed[i]),
                "completion_seconds": seconds[i],
                "pvq21_consistency": pvq_consistency.iat[i],
                "bfi10_consistency": bfi_consistency.iat[i],
            }
        )
    return pd.DataFrame(rows, columns=DECISION_COLUMNS)


def exclusion_counts(decisions: pd.DataFrame) -> dict[str, int]:
    """Number of excluded participants per reason (a participant can count under several)."""
    excluded = decisions.loc[~decisions["kept"], "reasons"]
    counts = dict.fromkeys(REASONS, 0)
    for reasons in excluded:
        for code in reasons:
            counts[code] += 1
    return {code: n for code, n in counts.items() if n}

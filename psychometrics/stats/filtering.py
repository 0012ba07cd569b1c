"""Which participants' answers are analysed, each decision with its reasons.

The rules follow the kinds of Appendix E of the Value Portrait paper (attention checks,
completion time, straight-lining, careless answers), with cut-offs calibrated on real respondents
(docs/psychometrics.md, "Screening"): the paper's even-odd rules exclude a fifth to a quarter of
ordinary respondents, so they are reported but off by default, and the outlier screen and
longstring take their place.
"""

import numpy as np
import pandas as pd

from psychometrics.stats.careless import longstring, mahalanobis_squared, outlier_scores
from psychometrics.stats.rules import (  # noqa: F401 - re-exported: the rule set is part of this module's interface
    ATTENTION_REASONS,
    DATA_QUALITY_REASONS,
    DECISION_COLUMNS,
    ENDED_BY_FAILED_CHECKS,
    FAILED_ATTENTION_CHECKS,
    IDENTICAL_BFI10,
    IDENTICAL_PVQ21,
    INCONSISTENT_BFI10,
    INCONSISTENT_PVQ21,
    INDEX_COLUMNS,
    LONGSTRING_BFI10,
    LONGSTRING_PVQ21,
    MANUAL_EXCLUDE,
    MANUAL_EXCLUSION,
    MANUAL_INCLUDE,
    MIN_TIMES_FOR_MEDIAN,
    NOT_DATA_QUALITY,
    OUTLIER_BFI10,
    OUTLIER_PVQ21,
    REASONS,
    TOO_FAST,
    FilterRules,
    describe_rules,
)
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

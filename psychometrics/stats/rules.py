"""The screening rule set and the reasons a participant is excluded: plain Python, no pandas.

Kept apart from :mod:`psychometrics.stats.filtering` (which applies the rules) so that the models, and
so every Django process, load without importing pandas.
"""

from dataclasses import asdict, dataclass, fields

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

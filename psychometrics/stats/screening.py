"""How hard the screening rules bit: participants flagged per rule and excluded by the data-quality rules.

Every reason code is treated alike through ``filtering.REASONS`` (a code it does not know is
reported under its code), so new rules show up here without changes.
"""

import pandas as pd

from psychometrics.stats.filtering import DATA_QUALITY_REASONS, MANUAL_INCLUDE, REASONS

# Above this share of analysable participants excluded by the data-quality rules, an analysis warns.
DATA_QUALITY_WARNING_SHARE = 0.10
DATA_QUALITY_WARNING = (
    "Data-quality rules together exclude {excluded} of {analysable} analysable participants ({percent:.1f} %), "
    "more than {limit:.0f} %; the paper excluded about 5 %. Check the rules (and the data) before using the results."
)


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def screening_report(decisions: pd.DataFrame) -> dict:
    """Per-rule flag counts and the data-quality exclusions of an analysis's participant decisions.

    Parameters
    ----------
    decisions : DataFrame
        Columns ``reasons`` (list of reason codes) and ``manual`` (``"include"``, ``"exclude"`` or
        ``""``), one row per analysable participant (``filtering.participant_decisions``).

    Returns
    -------
    dict
        ``analysable`` (participants), ``per_rule``: one dict per code of ``REASONS`` (in its order,
        then any other code found) with ``code``, ``rule`` (text), ``data_quality`` (bool),
        ``flagged`` (participants whose reasons include it, kept by hand or not) and ``share``
        (flagged / analysable, None without participants); ``data_quality``: ``excluded`` (participants
        with at least one data-quality reason and not included by hand), ``share``, ``limit``
        (``DATA_QUALITY_WARNING_SHARE``) and ``warning`` (the text when share > limit, else None).
    """
    analysable = len(decisions)
    flagged: dict[str, int] = dict.fromkeys(REASONS, 0)
    excluded = 0
    for reasons, manual in zip(decisions["reasons"], decisions["manual"], strict=True):
        codes = set(reasons)
        for code in codes:
            flagged[code] = flagged.get(code, 0) + 1
        if codes & DATA_QUALITY_REASONS and manual != MANUAL_INCLUDE:
            excluded += 1
    share = _share(excluded, analysable)
    warning = None
    if share is not None and share > DATA_QUALITY_WARNING_SHARE:
        warning = DATA_QUALITY_WARNING.format(
            excluded=excluded, analysable=analysable, percent=100 * share, limit=100 * DATA_QUALITY_WARNING_SHARE
        )
    return {
        "analysable": analysable,
        "per_rule": [
            {
                "code": code,
                "rule": REASONS.get(code, code),
                "data_quality": code in DATA_QUALITY_REASONS,
                "flagged": count,
                "share": _share(count, analysable),
            }
            for code, count in flagged.items()
        ],
        "data_quality": {
            "excluded": excluded,
            "share": share,
            "limit": DATA_QUALITY_WARNING_SHARE,
            "warning": warning,
        },
    }

"""Scoring the PVQ-21 (Schwartz values) and the BFI-10 (Big Five) from raw answers.

Inputs are wide DataFrames: one row per participant (the index), one column per question
number in the instrument's published order (1-21 or 1-10), NaN for an unanswered question.
"""

import numpy as np
import pandas as pd

from psychometrics.stats.dimensions import BFI, FAMILIES, HIGHER_PVQ, PVQ

PVQ21_QUESTIONS = tuple(range(1, 22))
PVQ21_SCALE = (1, 6)
BFI10_QUESTIONS = tuple(range(1, 11))
BFI10_SCALE = (1, 5)
MRAT = "MRAT"  # a participant's mean rating over all answered PVQ-21 items

# PVQ-21 question numbers per basic value (Schwartz, 2003, European Social Survey scoring key).
PVQ21_KEY: dict[str, tuple[int, ...]] = {
    "Self-Direction": (1, 11),
    "Power": (2, 17),
    "Universalism": (3, 8, 19),
    "Achievement": (4, 13),
    "Security": (5, 14),
    "Stimulation": (6, 15),
    "Conformity": (7, 16),
    "Tradition": (9, 20),
    "Hedonism": (10, 21),
    "Benevolence": (12, 18),
}

# Higher-order values are scored at item level from the items of their basic values (Hedonism in neither).
HIGHER_ORDER_KEY: dict[str, tuple[str, ...]] = {
    "Openness to Change": ("Self-Direction", "Stimulation"),
    "Self-Enhancement": ("Achievement", "Power"),
    "Conservation": ("Security", "Conformity", "Tradition"),
    "Self-Transcendence": ("Universalism", "Benevolence"),
}

# BFI-10 (Rammstedt & John, 2007): (question, reversed) per trait; a reversed answer x scores 6 - x.
BFI10_KEY: dict[str, tuple[tuple[int, bool], tuple[int, bool]]] = {
    "Extraversion": ((1, True), (6, False)),
    "Agreeableness": ((2, False), (7, True)),
    "Conscientiousness": ((3, True), (8, False)),
    "Neuroticism": ((4, True), (9, False)),
    "Openness": ((5, True), (10, False)),
}


def validate_answers(answers: pd.DataFrame, *, questions: tuple[int, ...], scale: tuple[int, int], name: str) -> pd.DataFrame:
    """Check a wide answer table and return it as floats with exactly ``questions`` as columns.

    Raises ``ValueError`` naming the participant, question and value of the first problem:
    an unknown question column, a non-numeric answer or one outside ``scale``.
    """
    if not isinstance(answers, pd.DataFrame):
        raise ValueError(f"{name} answers must be a DataFrame, got {type(answers).__name__}.")
    unknown = [c for c in answers.columns if c not in questions]
    if unknown:
        raise ValueError(f"{name} has no question {unknown[0]!r}; questions are {questions[0]}-{questions[-1]}.")
    values = answers.reindex(columns=list(questions))
    numeric = values.apply(pd.to_numeric, errors="coerce").astype(float)
    bad = (numeric.isna() & values.notna()) | (numeric < scale[0]) | (numeric > scale[1]) | (numeric % 1 != 0) & numeric.notna()
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        value, participant = (v.item() if isinstance(v, np.generic) else v for v in (values.iat[row, col], values.index[row]))
        raise ValueError(
            f"{name} answer of participant {participant!r} to question {values.columns[col]} "
            f"is {value!r}; answers are whole numbers {scale[0]}-{scale[1]}."
        )
    return numeric


def _pvq21_means(values: pd.DataFrame) -> pd.DataFrame:
    means = {value: values[list(PVQ21_KEY[value])].mean(axis=1) for value in FAMILIES[PVQ]}
    means[MRAT] = values.mean(axis=1)
    return pd.DataFrame(means, index=values.index, columns=FAMILIES[PVQ] + [MRAT])


def pvq21_raw_means(answers: pd.DataFrame) -> pd.DataFrame:
    """Uncentred PVQ-21 value scores: the mean of each basic value's items, and the participant's MRAT.

    ``raw_v = mean(items_v)``; ``MRAT = mean(items_1..21)`` (Schwartz 2003). ``score_pvq21`` is
    ``raw_v - MRAT``. Unanswered questions are skipped; a value with no answered item is NaN.

    Returns
    -------
    DataFrame
        Same index; columns ``FAMILIES["pvq"] + ["MRAT"]``.

    Examples
    --------
    >>> row = {q: 3 for q in range(1, 22)} | {1: 6, 11: 6}
    >>> pvq21_raw_means(pd.DataFrame([row]))[["Self-Direction", "MRAT"]].round(4).iloc[0].tolist()
    [6.0, 3.2857]
    """
    return _pvq21_means(validate_answers(answers, questions=PVQ21_QUESTIONS, scale=PVQ21_SCALE, name="PVQ-21"))


def score_pvq21(answers: pd.DataFrame) -> pd.DataFrame:
    """Centred PVQ-21 scores of the ten basic values and the four higher-order values.

    A value's score is the mean of its items minus the participant's mean rating over all
    answered items (MRAT centring, Schwartz 2003): ``score_v = mean(items_v) - mean(items_1..21)``.
    A higher-order value is the mean over the items of its basic values minus the same MRAT.
    Unanswered questions are skipped in every mean; a value with no answered item is NaN.

    Parameters
    ----------
    answers : DataFrame
        One row per participant, columns 1-21 (question numbers), answers 1-6 (6 = "Very much like me").

    Returns
    -------
    DataFrame
        Same index; columns ``FAMILIES["pvq"] + FAMILIES["higher_pvq"]`` in that order.

    Examples
    --------
    >>> row = {q: 3 for q in range(1, 22)} | {1: 6, 11: 6}
    >>> round(score_pvq21(pd.DataFrame([row]))["Self-Direction"].iloc[0], 4)
    2.7143
    """
    values = validate_answers(answers, questions=PVQ21_QUESTIONS, scale=PVQ21_SCALE, name="PVQ-21")
    raw = _pvq21_means(values)
    mrat = raw[MRAT]
    scores = {value: raw[value] - mrat for value in FAMILIES[PVQ]}
    for higher, basics in HIGHER_ORDER_KEY.items():
        items = [q for basic in basics for q in PVQ21_KEY[basic]]
        scores[higher] = values[items].mean(axis=1) - mrat
    return pd.DataFrame(scores, index=answers.index, columns=FAMILIES[PVQ] + FAMILIES[HIGHER_PVQ])


def bfi10_keyed(answers: pd.DataFrame) -> pd.DataFrame:
    """BFI-10 answers with reversed items scored ``6 - x``; columns 1-10."""
    values = validate_answers(answers, questions=BFI10_QUESTIONS, scale=BFI10_SCALE, name="BFI-10")
    keyed = values.copy()
    reversed_questions = [q for pair in BFI10_KEY.values() for q, rev in pair if rev]
    keyed[reversed_questions] = (BFI10_SCALE[0] + BFI10_SCALE[1]) - keyed[reversed_questions]
    return keyed


def score_bfi10(answers: pd.DataFrame) -> pd.DataFrame:
    """Big Five trait scores from the BFI-10: each trait is the mean of its two keyed items.

    Items 1, 3, 4, 5 and 7 are reversed (``6 - x``) before averaging (Rammstedt & John, 2007).
    An unanswered item is skipped; a trait with neither item answered is NaN.

    Returns
    -------
    DataFrame
        Same index; columns ``FAMILIES["bfi"]``.

    Examples
    --------
    >>> row = {1: 1, 6: 5, 2: 4, 7: 2, 3: 2, 8: 4, 4: 5, 9: 1, 5: 3, 10: 3}
    >>> score_bfi10(pd.DataFrame([row])).iloc[0].tolist()
    [3.0, 4.0, 5.0, 4.0, 1.0]
    """
    keyed = bfi10_keyed(answers)
    scores = {trait: keyed[[q for q, _ in BFI10_KEY[trait]]].mean(axis=1) for trait in FAMILIES[BFI]}
    return pd.DataFrame(scores, index=answers.index, columns=FAMILIES[BFI])

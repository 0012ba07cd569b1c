"""Map a model's free-text answer to a rating 1-6, tolerant of case, spacing, quotes and extra words.

The longest phrase found in the answer wins, so "not like me at all" is never read as "not like me"
and "very much like me" never as "like me". Phrases match on word boundaries only ("unlike me" is
not "like me"). An answer naming two different phrases at different places is decided by length
too. An answer naming three or more different phrases is an echo of the option list, not a choice,
and stays unparsed. A reasoning model's ``<think>…</think>`` block is not part of its answer. Two
common rewordings are read as the option they mean ("not at all like me", "a little bit like me"),
and a phrase negated by the word before it ("not very much like me", "isn't like me") stays
unparsed rather than being read as its opposite.
"""

import math
import re

from benchmark.prompts import PHRASES, RATINGS

_BY_LENGTH = sorted(PHRASES, key=len, reverse=True)
_PATTERNS = [(phrase, re.compile(r"(?<![a-z])" + re.escape(phrase) + r"(?![a-z])")) for phrase in _BY_LENGTH]
_NON_LETTERS = re.compile(r"[^a-z]+")
_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
# Rewordings of an option that contain a shorter phrase with another meaning ("like me").
_VARIANTS = [
    (re.compile(r"(?<![a-z])not at all like me(?![a-z])"), "not like me at all"),
    (re.compile(r"(?<![a-z])a little bit like me(?![a-z])"), "a little like me"),
]
# "not"/"never"/"n't" right before a phrase that does not itself start with "not" negates it.
_NEGATED = {
    phrase: re.compile(r"(?<![a-z])(?:not|never|t) " + re.escape(phrase) + r"(?![a-z])")
    for phrase in PHRASES
    if not phrase.startswith("not ")
}
ECHO_MIN_PHRASES = 3  # this many different phrases in one answer = the option list repeated


def normalise_answer(text: str) -> str:
    """Lower case, typographic apostrophes and every run of non-letters collapsed to one space."""
    text = text.lower().replace("\u2019", "'")
    return _NON_LETTERS.sub(" ", text).strip()


def parse_rating(text: str | None) -> int | None:
    """The rating 1-6 of an answer, or None when no phrase is found.

    >>> parse_rating("  Not like me at all. ")
    1
    >>> parse_rating("**Somewhat like me**")
    4
    >>> parse_rating("I cannot answer that.") is None
    True
    """
    if not text:
        return None
    remaining = normalise_answer(_REASONING.sub(" ", text))
    for variant, phrase in _VARIANTS:
        remaining = variant.sub(phrase, remaining)
    found = []
    for phrase, pattern in _PATTERNS:
        if pattern.search(remaining):
            if phrase in _NEGATED and _NEGATED[phrase].search(remaining):
                return None
            found.append(phrase)
            # Blank out the match so shorter phrases inside it ("like me" in "not like me") do not count.
            remaining = pattern.sub(" | ", remaining)
    if not found or len(found) >= ECHO_MIN_PHRASES:
        return None
    return RATINGS[found[0]]


def expected_rating(top_logprobs: dict[str, float] | None) -> float | None:
    """Expected rating over the six options from the first answer token's log-probabilities.

    ``top_logprobs`` maps candidate first tokens to log-probabilities. The first token decides
    between "very", "like", "somewhat", "a", "not" – but "not" starts both "not like me" and
    "not like me at all", so both share its probability (rating 1.5). Returns None if no candidate
    token starts any phrase.
    """
    if not top_logprobs:
        return None
    first_words = {"very": 6.0, "like": 5.0, "somewhat": 4.0, "a": 3.0, "not": 1.5}
    weights: dict[float, float] = {}
    for token, logprob in top_logprobs.items():
        word = normalise_answer(token)
        if word in first_words:
            value = first_words[word]
            weights[value] = weights.get(value, 0.0) + math.exp(logprob)
    total = sum(weights.values())
    if total == 0:
        return None
    return sum(value * weight for value, weight in weights.items()) / total

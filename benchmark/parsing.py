"""Map a model's free-text answer to a rating 1-6 — strictly: only an answer that states one phrase parses.

An answer parses only when it states exactly one of the six phrases (``prompts.PHRASES``) as its
answer. First the answer is cleaned:

* reasoning blocks are removed: ``<think>…</think>``, ``<thinking>``, ``<reasoning>``,
  ``<reflection>``, ``<thought>`` (any case); text before a lone closing tag (a server that put the
  opening tag in the prompt) is reasoning too; an opening tag never closed leaves no answer;
* typographic apostrophes become ``'``; two rewordings are read as the option they mean
  ("not at all like me" = not like me at all, "a little bit like me" = a little like me);
* for the whole-text and first-line rules, markdown (``**``, ``*``, ``_``, backticks, ``#`` headings,
  ``>`` quotes, list bullets), quotes of any language (``"…"``, ``'…'``, ``“…”``, ``«…»``, ``„…“``,
  ``「…」``, ``『…』``) and surrounding punctuation are removed, case and spacing ignored, and one
  leading label ``Answer:``, ``Final answer:``, ``My answer:``, ``Response:``, ``Rating:`` or
  ``Choice:`` is dropped.

Then the first rule that applies decides:

1. **whole text**: the cleaned answer equals a phrase;
2. **first line**: the cleaned first non-empty line equals a phrase (``Very much like me.\\n\\nExplanation:
   … not like me at all in tone`` is 6: what follows is commentary) and no other line is a
   different phrase (that is the option list repeated back, unparsed);
3. **only phrase**: exactly one of the six phrases is stated anywhere in the answer (it may recur),
   and no negation or hedge — ``not``, ``n't`` (also without the apostrophe: ``dont``, ``isnt`` …),
   ``no``, ``never``, ``nothing``, ``hardly``, ``barely``, ``scarcely``, ``cannot``, ``neither``,
   ``nor`` — stands before it in the same clause. A clause ends at ``. ! ? ; :``, a comma, a
   dash, a bracket, a line break or the word ``but``.

Phrases match on word boundaries only (``unlike me`` is not ``like me``) and the longest phrase at a
place wins, so ``like me`` inside ``not like me`` (or ``very much like me``) is that longer phrase,
not a second one, and the ``not`` of ``not like me`` is the phrase's own word, not a negation. A
phrase followed by ``?`` is asked, not stated (``Like me? No, not like me at all.`` is 1). Anything
else is unparsed, with a reason: empty, only reasoning, no phrase, several different phrases (an
echo of the option list or a hesitation), or a negated/hedged phrase ("It doesn't sound like me",
"This is nothing like me", "Not really like me", "Hardly like me" are unparsed, not 5).

``parse_answer(text) -> (rating | None, reason)``; ``parse_rating(text)`` is the rating alone.
``PARSER_VERSION`` changes whenever these rules do.
"""

import math
import re

from benchmark.prompts import PHRASES, RATINGS

PARSER_VERSION = "strict-1"

# Reasons (the tests and PARSED.csv use these texts).
PARSED_WHOLE = "whole answer is the phrase"
PARSED_FIRST_LINE = "first line is the phrase"
PARSED_ONLY_PHRASE = "the only phrase stated, not negated"
EMPTY = "empty answer"
ONLY_REASONING = "only a reasoning block, no answer after it"
NO_PHRASE = "none of the six phrases"
ONLY_ASKED = "a phrase is only asked as a question ({phrases})"
SEVERAL_PHRASES = "several different phrases ({phrases})"
NEGATED = "{word!r} stands before {phrase!r}"

_TAGS = "think|thinking|reasoning|reflection|thought"
_REASONING = re.compile(rf"<({_TAGS})\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_CLOSING = re.compile(rf"</(?:{_TAGS})\s*>", re.IGNORECASE)
_OPENING = re.compile(rf"<(?:{_TAGS})\b[^>]*>", re.IGNORECASE)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_VARIANTS = [
    (re.compile(r"(?<![a-z'])not at all like me(?![a-z'])"), "not like me at all"),
    (re.compile(r"(?<![a-z'])a little bit like me(?![a-z'])"), "a little like me"),
]
_LABEL = re.compile(r"^(?:final answer|my answer|answer|response|rating|choice) (?=[a-z])")
_CLOSERS = " \t*_\"'`»«“”„「」『』)]."
_NON_LETTERS = re.compile(r"[^a-z]+")

# The phrases as word sequences, longest first: at each place the longest one wins.
_PHRASE_WORDS = sorted((tuple(phrase.split()) for phrase in PHRASES), key=len, reverse=True)
_WORD_OR_BREAK = re.compile(r"[a-z]+(?:'[a-z]+)*|[.!?;:,()\[\]{}\n\u2014\u2013]|(?<=\s)-(?=\s)")
_BREAKS = set(".!?;:,()[]{}\n\u2014\u2013-") | {"but"}
_NEGATIONS = {
    "not", "no", "never", "nothing", "hardly", "barely", "scarcely", "cannot", "neither", "nor",
    "dont", "doesnt", "isnt", "arent", "wasnt", "werent", "cant", "couldnt", "wouldnt", "shouldnt",
    "wont", "didnt", "aint", "havent", "hasnt",
}


def normalise_answer(text: str) -> str:
    """Lower case, typographic apostrophes and every run of non-letters collapsed to one space."""
    text = text.lower().replace("\u2019", "'")
    return _NON_LETTERS.sub(" ", text).strip()


def _without_reasoning(text: str) -> str | None:
    """The answer with reasoning blocks removed; None when an opened block never closes."""
    text = _REASONING.sub("\n", text)
    closing = list(_CLOSING.finditer(text))
    if closing:  # the opening tag was in the prompt: everything before the last closing tag is reasoning
        text = text[closing[-1].end():]
    if _OPENING.search(text):
        return None
    return text


def _phrase_of(text: str) -> str | None:
    """The phrase ``text`` (one line or the whole answer) is, after removing markdown, quotes and punctuation."""
    if text.strip().rstrip(_CLOSERS).endswith("?"):
        return None  # asked, not stated
    cleaned = _LABEL.sub("", normalise_answer(text))
    return cleaned if cleaned in RATINGS else None


def _tokens(text: str) -> list[str]:
    return _WORD_OR_BREAK.findall(text)


def _phrase_at(tokens: list[str], position: int) -> tuple[tuple[str, ...] | None, int]:
    """The longest phrase starting at ``tokens[position]`` and the index after it (a line break inside is allowed)."""
    words, ends = [], []
    index = position
    while index < len(tokens) and len(words) < 5:
        if tokens[index] != "\n":
            if tokens[index] in _BREAKS:
                break
            words.append(tokens[index].replace("'", ""))
            ends.append(index + 1)
        index += 1
    for phrase in _PHRASE_WORDS:
        if tuple(words[:len(phrase)]) == phrase:
            return phrase, ends[len(phrase) - 1]
    return None, position + 1


def _stated(tokens: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Each phrase occurrence with the negation standing before it in its clause (or None); and the phrases asked."""
    stated, asked = [], []
    clause_start, position = 0, 0
    while position < len(tokens):
        token = tokens[position]
        if token in _BREAKS:
            clause_start, position = position + 1, position + 1
            continue
        match, end = _phrase_at(tokens, position)
        if match is None:
            position += 1
            continue
        phrase = " ".join(match)
        if end < len(tokens) and tokens[end] == "?":
            asked.append(phrase)
        else:
            before = tokens[clause_start:position]
            negation = next((word for word in before if word.replace("'", "") in _NEGATIONS or word.endswith("n't")), None)
            stated.append((phrase, negation))
        position = end
    return stated, asked


def parse_answer(text: str | None) -> tuple[int | None, str]:
    """The rating 1-6 of an answer and why, or ``(None, why not)`` (rules in the module docstring).

    >>> parse_answer("**Somewhat like me**")
    (4, 'whole answer is the phrase')
    >>> parse_answer("It doesn't sound like me.")
    (None, '"doesn\\'t" stands before \\'like me\\'')
    >>> parse_answer("Very much like me.\\n\\nExplanation: it is not like me at all in tone.")
    (6, 'first line is the phrase')
    """
    if text is None or not text.strip():
        return None, EMPTY
    answer = _without_reasoning(text)
    if answer is None or not answer.strip():
        return None, ONLY_REASONING
    answer = answer.translate(_APOSTROPHES).lower()
    for variant, phrase in _VARIANTS:
        answer = variant.sub(phrase, answer)
    whole = _phrase_of(answer)
    if whole:
        return RATINGS[whole], PARSED_WHOLE
    lines = [line for line in answer.splitlines() if line.strip()]
    line_phrases = list(dict.fromkeys(phrase for phrase in map(_phrase_of, lines) if phrase))
    if len(line_phrases) > 1:  # the option list (or part of it) repeated back, one phrase a line
        return None, SEVERAL_PHRASES.format(phrases=", ".join(repr(p) for p in line_phrases))
    first = _phrase_of(lines[0])
    if first:
        return RATINGS[first], PARSED_FIRST_LINE
    stated, asked = _stated(_tokens(answer))
    phrases = list(dict.fromkeys(phrase for phrase, _ in stated))
    if not phrases:
        if asked:
            return None, ONLY_ASKED.format(phrases=", ".join(repr(p) for p in dict.fromkeys(asked)))
        return None, NO_PHRASE
    if len(phrases) > 1:
        return None, SEVERAL_PHRASES.format(phrases=", ".join(repr(p) for p in phrases))
    negated = next((negation for _, negation in stated if negation), None)
    if negated:
        return None, NEGATED.format(word=negated, phrase=phrases[0])
    return RATINGS[phrases[0]], PARSED_ONLY_PHRASE


def parse_rating(text: str | None) -> int | None:
    """The rating 1-6 of an answer, or None when it does not state exactly one phrase (:func:`parse_answer`).

    >>> parse_rating("  Not like me at all. ")
    1
    >>> parse_rating("I cannot answer that.") is None
    True
    """
    return parse_answer(text)[0]


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

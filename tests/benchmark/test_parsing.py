import json
import math
from pathlib import Path

import pytest

from benchmark.parsing import (
    EMPTY,
    NEGATED,
    NO_PHRASE,
    ONLY_ASKED,
    ONLY_REASONING,
    PARSED_FIRST_LINE,
    PARSED_ONLY_PHRASE,
    PARSED_WHOLE,
    SEVERAL_PHRASES,
    expected_rating,
    parse_answer,
    parse_rating,
)


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("very much like me", 6),
        ("Like me", 5),
        ("  Somewhat like me.  ", 4),
        ("A little like me!", 3),
        ("not like me", 2),
        ("Not like me at all.", 1),
        ("NOT LIKE ME AT ALL", 1),
        ("**Very much like me**", 6),
        ('"like me"', 5),
        ("Answer: not   like\nme at all", 1),
        ("I would say this response is somewhat like me, since it balances both views.", 4),
        ("Not like me at all — I disagree.", 1),
        ("It’s not like me.", 2),
        ("- a little like me", 3),
    ],
)
def test_it_reads_messy_answers(text, rating):
    assert parse_rating(text) == rating


def test_the_longest_phrase_wins_so_not_like_me_at_all_is_never_not_like_me():
    assert parse_rating("not like me at all") == 1
    assert parse_rating("very much like me") == 6


@pytest.mark.parametrize("text", ["", None, "I cannot answer.", "unlike me", "Likes me", "4", "not really"])
def test_it_marks_what_it_cannot_parse(text):
    assert parse_rating(text) is None


def test_expected_rating_weights_the_options_by_probability():
    value = expected_rating({"very": math.log(0.5), "like": math.log(0.25), "Not": math.log(0.25), "xyz": -1.0})
    assert value == pytest.approx((6 * 0.5 + 5 * 0.25 + 1.5 * 0.25) / 1.0)


def test_expected_rating_is_none_without_usable_tokens():
    assert expected_rating(None) is None
    assert expected_rating({"hmm": -0.1}) is None


def test_an_answer_that_repeats_the_option_list_is_not_a_choice():
    echo = "very much like me\nlike me\nsomewhat like me\na little like me\nnot like me\nnot like me at all"
    assert parse_rating(echo) is None


def test_two_different_stated_phrases_are_not_a_choice():
    rating, reason = parse_answer("Somewhat like me or a little like me.")
    assert rating is None and reason == SEVERAL_PHRASES.format(phrases="'somewhat like me', 'a little like me'")


def test_a_phrase_asked_as_a_question_is_not_stated():
    assert parse_rating("Like me? No - not like me at all.") == 1
    assert parse_answer("Like me?") == (None, ONLY_ASKED.format(phrases="'like me'"))


CORPUS = [json.loads(line) for line in (Path(__file__).parent / "data" / "parser_corpus.jsonl").read_text("utf-8").splitlines()]


def test_the_corpus_is_large_and_covers_every_rating_and_unparsed_answers():
    assert len(CORPUS) >= 150
    assert {row["rating"] for row in CORPUS} == {1, 2, 3, 4, 5, 6, None}


@pytest.mark.parametrize("row", CORPUS, ids=[f"{n}:{row['note']}" for n, row in enumerate(CORPUS)])
def test_the_corpus_answer_parses_as_expected(row):
    rating, reason = parse_answer(row["text"])
    assert rating == row["rating"], reason
    assert reason


@pytest.mark.parametrize(("text", "word"), [
    ("It doesn't sound like me", "doesn't"),
    ("This is nothing like me", "nothing"),
    ("I don't think it's like me", "don't"),
    ("Not really like me", "not"),
    ("Hardly like me", "hardly"),
])
def test_the_known_false_like_me_answers_are_unparsed_naming_the_negation(text, word):
    assert parse_answer(text) == (None, NEGATED.format(word=word, phrase="like me"))


def test_the_first_line_decides_over_a_longer_phrase_in_the_explanation():
    text = "very much like me.\n\nExplanation: the wording is not like me at all in tone"
    assert parse_answer(text) == (6, PARSED_FIRST_LINE)


def test_the_phrases_own_not_is_not_a_negation():
    assert parse_answer("It's not like me.") == (2, PARSED_ONLY_PHRASE)
    assert parse_answer("not like me at all") == (1, PARSED_WHOLE)


def test_an_unclosed_reasoning_block_leaves_no_answer():
    assert parse_answer("<think>It is like me, I think") == (None, ONLY_REASONING)
    assert parse_answer("") == (None, EMPTY)
    assert parse_answer("I cannot answer.") == (None, NO_PHRASE)


@pytest.mark.parametrize(("text", "rating"), [
    ("Not at all like me.", 1),  # not "like me" (5): the same option in other words
    ("A little bit like me", 3),  # not "like me" (5)
    ("<think>Very much like me? Or not like me at all? Let me weigh it.</think>\n\nSomewhat like me", 4),
    ("<THINKING>like me</THINKING> A little like me", 3),
])
def test_rewordings_and_reasoning_blocks_are_read_as_the_option_meant(text, rating):
    assert parse_rating(text) == rating


@pytest.mark.parametrize("text", ["not very much like me", "It isn't like me.", "Never like me", "not somewhat like me"])
def test_a_negated_phrase_is_left_unparsed_rather_than_read_as_its_opposite(text):
    assert parse_rating(text) is None

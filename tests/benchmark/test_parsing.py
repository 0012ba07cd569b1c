import math

import pytest

from benchmark.parsing import expected_rating, parse_rating


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


def test_two_different_phrases_are_decided_by_length():
    assert parse_rating("Like me? No - not like me at all.") == 1


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

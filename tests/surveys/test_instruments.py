"""PVQ-21 and BFI-10 data against their published scoring keys, and the reusable PVQ-21 partial."""

import re

from django.template.loader import render_to_string

from surveys.instruments import (
    BFI10,
    BFI10_SCALE,
    ITEM_QUESTION,
    ITEM_SCALE,
    PVQ21,
    PVQ21_FORMS,
    PVQ21_QUESTION,
    PVQ21_SCALE,
    pvq21_portraits,
)
from surveys.rendering import bfi10_rows, pvq21_rows

# ESS "Computing scores for the 10 human values" (Schwartz): items per value.
ESS_KEY = {
    "conformity": [7, 16], "tradition": [9, 20], "benevolence": [12, 18], "universalism": [3, 8, 19],
    "self_direction": [1, 11], "stimulation": [6, 15], "hedonism": [10, 21], "achievement": [4, 13],
    "power": [2, 17], "security": [5, 14],
}
# Rammstedt & John (2007): trait -> (item, reverse-keyed).
BFI_KEY = {
    "extraversion": [(1, True), (6, False)], "agreeableness": [(2, False), (7, True)],
    "conscientiousness": [(3, True), (8, False)], "neuroticism": [(4, True), (9, False)],
    "openness": [(5, True), (10, False)],
}


def test_pvq21_items_follow_the_ess_scoring_key():
    assert [q["question"] for q in PVQ21] == list(range(1, 22))
    by_value = {}
    for q in PVQ21:
        by_value.setdefault(q["value"], []).append(q["question"])
    assert by_value == ESS_KEY


def test_every_pvq21_form_is_worded_for_its_person():
    for q in PVQ21:
        assert " him" in q["male"] or " his" in q["male"] or "He " in q["male"]
        assert " her" in q["female"] or "She " in q["female"]
        assert " him" not in q["neutral"] and " her " not in q["neutral"] and "She " not in q["neutral"]
    assert pvq21_portraits("female")[16]["text"] == "It is important to her to get respect from others. She wants people to do what she says."
    assert set(PVQ21_FORMS) == {"male", "female", "neutral"}


def test_bfi10_items_follow_the_published_key():
    key = {}
    for q in BFI10:
        key.setdefault(q["trait"], []).append((q["question"], q["reversed"]))
    assert key == BFI_KEY


def test_the_pvq21_partial_renders_on_its_own():
    html = render_to_string(
        "surveys/includes/pvq21_questions.html",
        {"pvq_rows": pvq21_rows("neutral", values={"pvq-3": "6"}), "pvq_scale": PVQ21_SCALE},
    )
    assert html.count('type="radio"') == 21 * 6
    assert 'name="pvq-3" value="6" checked' in html
    assert "important to this person to be rich" in html
    assert "Very much like me" in html


# The ESS Human Values Scale, male form (ESS core questionnaire, items HS1-HS21 / ipcrtiv ... impfun),
# typed from the published questionnaire, independently of surveys/instruments.py.
ESS_MALE = [
    "Thinking up new ideas and being creative is important to him. He likes to do things in his own original way.",
    "It is important to him to be rich. He wants to have a lot of money and expensive things.",
    "He thinks it is important that every person in the world should be treated equally. He believes everyone should have equal opportunities in life.",
    "It's important to him to show his abilities. He wants people to admire what he does.",
    "It is important to him to live in secure surroundings. He avoids anything that might endanger his safety.",
    "He likes surprises and is always looking for new things to do. He thinks it is important to do lots of different things in life.",
    "He believes that people should do what they're told. He thinks people should follow rules at all times, even when no-one is watching.",
    "It is important to him to listen to people who are different from him. Even when he disagrees with them, he still wants to understand them.",
    "It is important to him to be humble and modest. He tries not to draw attention to himself.",
    'Having a good time is important to him. He likes to "spoil" himself.',
    "It is important to him to make his own decisions about what he does. He likes to be free and not depend on others.",
    "It's very important to him to help the people around him. He wants to care for their well-being.",
    "Being very successful is important to him. He hopes people will recognise his achievements.",
    "It is important to him that the government ensures his safety against all threats. He wants the state to be strong so it can defend its citizens.",
    "He looks for adventures and likes to take risks. He wants to have an exciting life.",
    "It is important to him always to behave properly. He wants to avoid doing anything people would say is wrong.",
    "It is important to him to get respect from others. He wants people to do what he says.",
    "It is important to him to be loyal to his friends. He wants to devote himself to people close to him.",
    "He strongly believes that people should care for nature. Looking after the environment is important to him.",
    "Tradition is important to him. He tries to follow the customs handed down by his religion or his family.",
    "He seeks every chance he can to have fun. It is important to him to do things that give him pleasure.",
]
# The ESS female form differs from the male one only in these pronouns.
MALE_TO_FEMALE = {"He": "She", "he": "she", "him": "her", "his": "her", "himself": "herself"}
# Rammstedt & John (2007), English BFI-10: "I see myself as someone who ..."
BFI10_TEXT = [
    "is reserved", "is generally trusting", "tends to be lazy", "is relaxed, handles stress well",
    "has few artistic interests", "is outgoing, sociable", "tends to find fault with others",
    "does a thorough job", "gets nervous easily", "has an active imagination",
]


def test_pvq21_male_and_female_forms_are_the_ess_wording_word_for_word():
    assert [p["text"] for p in pvq21_portraits("male")] == ESS_MALE
    female = [re.sub(r"\b(He|he|himself|him|his)\b", lambda m: MALE_TO_FEMALE[m.group(1)], t) for t in ESS_MALE]
    assert [p["text"] for p in pvq21_portraits("female")] == female


def test_the_scales_have_the_published_labels_and_codes():
    pvq = ["Not like me at all", "Not like me", "A little like me", "Somewhat like me", "Like me", "Very much like me"]
    assert PVQ21_SCALE == ITEM_SCALE == list(zip(range(1, 7), pvq, strict=True))
    bfi = ["Disagree strongly", "Disagree a little", "Neither agree nor disagree", "Agree a little", "Agree strongly"]
    assert list(zip(range(1, 6), bfi, strict=True)) == BFI10_SCALE
    assert ITEM_QUESTION == "How similar is this response to your own thoughts?"
    assert PVQ21_QUESTION == "How much like you is this person?"


def test_bfi10_is_the_published_wording():
    assert [q["text"] for q in BFI10] == [f"... {text}" for text in BFI10_TEXT]
    rendered = [row["text"] for row in bfi10_rows()]
    assert rendered == [f"I see myself as someone who {text}" for text in BFI10_TEXT]

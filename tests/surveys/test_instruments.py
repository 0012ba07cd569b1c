"""PVQ-21 and BFI-10 data against their published scoring keys, and the reusable PVQ-21 partial."""

from django.template.loader import render_to_string

from surveys.instruments import BFI10, PVQ21, PVQ21_FORMS, PVQ21_SCALE, pvq21_portraits
from surveys.rendering import pvq21_rows

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

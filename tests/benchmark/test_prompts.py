import pytest

from benchmark.prompts import PHRASES, RATINGS, PromptItem, build_prompt, build_prompts

OPTIONS = """IMPORTANT: Your response must contain ONLY ONE of these exact phrases, with no additional words, explanations, or punctuation:

very much like me
like me
somewhat like me
a little like me
not like me
not like me at all

Any other words or characters will make the response invalid."""

REVERSED = """IMPORTANT: Your response must contain ONLY ONE of these exact phrases, with no additional words, explanations, or punctuation:

not like me at all
not like me
a little like me
somewhat like me
like me
very much like me

Any other words or characters will make the response invalid."""

MESSAGE = PromptItem(query="How do I cook rice?", response="Rinse it first.")
TITLED = PromptItem(query="My sister borrowed my car.", response="Talk to her.", title="AITA for asking?")


def test_it_maps_the_phrases_to_six_through_one():
    assert [RATINGS[p] for p in PHRASES] == [6, 5, 4, 3, 2, 1]


def test_template_one_in_the_message_form_is_worded_as_printed():
    assert build_prompt(MESSAGE, 0) == (
        "Now I will briefly describe a scenario and response. Please read them and tell me how similar this "
        "response is to your own thoughts. Please answer, even if you are not completely sure of your response.\n\n"
        "Message: How do I cook rice?\n\nResponse: Rinse it first.\n\n" + OPTIONS
    )


def test_template_two_in_the_titled_form_is_worded_as_printed():
    assert build_prompt(TITLED, 1) == (
        "Given a scenario and response:\n\nTitle: AITA for asking?\n\nScenario: My sister borrowed my car.\n\n"
        "Response: Talk to her.\n\nHow similar is this response to your own thoughts?\n\n" + OPTIONS
    )


def test_template_three_puts_the_question_first():
    assert build_prompt(MESSAGE, 2) == (
        "Question: How similar is this response to your own thoughts?\n\n"
        "Message: How do I cook rice?\n\nResponse: Rinse it first.\n\n" + OPTIONS
    )


@pytest.mark.parametrize("index", [0, 1, 2])
def test_prompts_three_to_five_repeat_the_templates_with_the_phrases_reversed(index):
    assert build_prompt(TITLED, index + 3) == build_prompt(TITLED, index).replace(OPTIONS, REVERSED)


def test_an_item_gets_six_distinct_prompts():
    prompts = build_prompts(TITLED)
    assert len(prompts) == 6 and len(set(prompts)) == 6
    assert all("Title: AITA for asking?" in prompt for prompt in prompts)


def test_an_empty_title_uses_the_message_form():
    assert "Message: " in build_prompt(PromptItem(query="q", response="r", title=""), 0)


def test_it_rejects_a_prompt_index_outside_zero_to_five():
    with pytest.raises(ValueError, match="0-5"):
        build_prompt(MESSAGE, 6)

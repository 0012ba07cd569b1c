"""The questionnaires shown at the end of every survey, as plain data.

PVQ-21 is the 21-item Portrait Values Questionnaire in the wording of the European Social
Survey's Human Values Scale (Schwartz, 2003; ESS core questionnaire), with its separate male
and female forms. The ESS has no gender-neutral form; ``neutral`` is this platform's
adaptation ("this person" / "they") for participants who are neither or prefer not to say,
keeping every other word of the ESS text.

BFI-10 is the 10-item Big Five Inventory (Rammstedt & John, 2007), "I see myself as someone
who ...", with its reverse-keyed items marked.

Question numbers are 1-based in the published order; the stored answer codes are the ones in
the ``*_SCALE`` lists. PVQ-21 is stored with 6 = "Very much like me" (the ESS data files code
it the other way round, 1 = "Very much like me").
"""

import re

PVQ21_FORMS = ("male", "female", "neutral")

# ASCII digits only: str.isdigit() also accepts '²' or '٣', which int() then rejects or misreads,
# and a 5,000-digit string is beyond int()'s limit.
_ANSWER_CODE_RE = re.compile(r"[0-9]{1,3}")


def answer_code(value) -> int | None:
    """The answer code a form field carries (1 to 3 ASCII digits), else None; the caller checks the scale."""
    text = str(value) if value is not None else ""
    return int(text) if _ANSWER_CODE_RE.fullmatch(text) else None


PVQ21_INSTRUCTIONS = (
    "Here we briefly describe some people. Please read each description and think about how much "
    "each person is or is not like you. Choose the answer that shows how much the person in the "
    "description is like you."
)
PVQ21_QUESTION = "How much like you is this person?"

PVQ21_SCALE = [
    (1, "Not like me at all"),
    (2, "Not like me"),
    (3, "A little like me"),
    (4, "Somewhat like me"),
    (5, "Like me"),
    (6, "Very much like me"),
]

# Schwartz's ten basic values, in the order of the ESS scoring instructions.
PVQ21_VALUES = [
    "conformity",
    "tradition",
    "benevolence",
    "universalism",
    "self_direction",
    "stimulation",
    "hedonism",
    "achievement",
    "power",
    "security",
]

PVQ21 = [
    {
        "question": 1,
        "value": "self_direction",
        "male": "Thinking up new ideas and being creative is important to him. He likes to do things in his own original way.",
        "female": "Thinking up new ideas and being creative is important to her. She likes to do things in her own original way.",
        "neutral": "Thinking up new ideas and being creative is important to this person. They like to do things in their own original way.",
    },
    {
        "question": 2,
        "value": "power",
        "male": "It is important to him to be rich. He wants to have a lot of money and expensive things.",
        "female": "It is important to her to be rich. She wants to have a lot of money and expensive things.",
        "neutral": "It is important to this person to be rich. They want to have a lot of money and expensive things.",
    },
    {
        "question": 3,
        "value": "universalism",
        "male": "He thinks it is important that every person in the world should be treated equally. He believes everyone should have equal opportunities in life.",
        "female": "She thinks it is important that every person in the world should be treated equally. She believes everyone should have equal opportunities in life.",
        "neutral": "This person thinks it is important that every person in the world should be treated equally. They believe everyone should have equal opportunities in life.",
    },
    {
        "question": 4,
        "value": "achievement",
        "male": "It's important to him to show his abilities. He wants people to admire what he does.",
        "female": "It's important to her to show her abilities. She wants people to admire what she does.",
        "neutral": "It's important to this person to show their abilities. They want people to admire what they do.",
    },
    {
        "question": 5,
        "value": "security",
        "male": "It is important to him to live in secure surroundings. He avoids anything that might endanger his safety.",
        "female": "It is important to her to live in secure surroundings. She avoids anything that might endanger her safety.",
        "neutral": "It is important to this person to live in secure surroundings. They avoid anything that might endanger their safety.",
    },
    {
        "question": 6,
        "value": "stimulation",
        "male": "He likes surprises and is always looking for new things to do. He thinks it is important to do lots of different things in life.",
        "female": "She likes surprises and is always looking for new things to do. She thinks it is important to do lots of different things in life.",
        "neutral": "This person likes surprises and is always looking for new things to do. They think it is important to do lots of different things in life.",
    },
    {
        "question": 7,
        "value": "conformity",
        "male": "He believes that people should do what they're told. He thinks people should follow rules at all times, even when no-one is watching.",
        "female": "She believes that people should do what they're told. She thinks people should follow rules at all times, even when no-one is watching.",
        "neutral": "This person believes that people should do what they're told. They think people should follow rules at all times, even when no-one is watching.",
    },
    {
        "question": 8,
        "value": "universalism",
        "male": "It is important to him to listen to people who are different from him. Even when he disagrees with them, he still wants to understand them.",
        "female": "It is important to her to listen to people who are different from her. Even when she disagrees with them, she still wants to understand them.",
        "neutral": "It is important to this person to listen to people who are different from them. Even when they disagree with them, they still want to understand them.",
    },
    {
        "question": 9,
        "value": "tradition",
        "male": "It is important to him to be humble and modest. He tries not to draw attention to himself.",
        "female": "It is important to her to be humble and modest. She tries not to draw attention to herself.",
        "neutral": "It is important to this person to be humble and modest. They try not to draw attention to themselves.",
    },
    {
        "question": 10,
        "value": "hedonism",
        "male": 'Having a good time is important to him. He likes to "spoil" himself.',
        "female": 'Having a good time is important to her. She likes to "spoil" herself.',
        "neutral": 'Having a good time is important to this person. They like to "spoil" themselves.',
    },
    {
        "question": 11,
        "value": "self_direction",
        "male": "It is important to him to make his own decisions about what he does. He likes to be free and not depend on others.",
        "female": "It is important to her to make her own decisions about what she does. She likes to be free and not depend on others.",
        "neutral": "It is important to this person to make their own decisions about what they do. They like to be free and not depend on others.",
    },
    {
        "question": 12,
        "value": "benevolence",
        "male": "It's very important to him to help the people around him. He wants to care for their well-being.",
        "female": "It's very important to her to help the people around her. She wants to care for their well-being.",
        "neutral": "It's very important to this person to help the people around them. They want to care for their well-being.",
    },
    {
        "question": 13,
        "value": "achievement",
        "male": "Being very successful is important to him. He hopes people will recognise his achievements.",
        "female": "Being very successful is important to her. She hopes people will recognise her achievements.",
        "neutral": "Being very successful is important to this person. They hope people will recognise their achievements.",
    },
    {
        "question": 14,
        "value": "security",
        "male": "It is important to him that the government ensures his safety against all threats. He wants the state to be strong so it can defend its citizens.",
        "female": "It is important to her that the government ensures her safety against all threats. She wants the state to be strong so it can defend its citizens.",
        "neutral": "It is important to this person that the government ensures their safety against all threats. They want the state to be strong so it can defend its citizens.",
    },
    {
        "question": 15,
        "value": "stimulation",
        "male": "He looks for adventures and likes to take risks. He wants to have an exciting life.",
        "female": "She looks for adventures and likes to take risks. She wants to have an exciting life.",
        "neutral": "This person looks for adventures and likes to take risks. They want to have an exciting life.",
    },
    {
        "question": 16,
        "value": "conformity",
        "male": "It is important to him always to behave properly. He wants to avoid doing anything people would say is wrong.",
        "female": "It is important to her always to behave properly. She wants to avoid doing anything people would say is wrong.",
        "neutral": "It is important to this person always to behave properly. They want to avoid doing anything people would say is wrong.",
    },
    {
        "question": 17,
        "value": "power",
        "male": "It is important to him to get respect from others. He wants people to do what he says.",
        "female": "It is important to her to get respect from others. She wants people to do what she says.",
        "neutral": "It is important to this person to get respect from others. They want people to do what they say.",
    },
    {
        "question": 18,
        "value": "benevolence",
        "male": "It is important to him to be loyal to his friends. He wants to devote himself to people close to him.",
        "female": "It is important to her to be loyal to her friends. She wants to devote herself to people close to her.",
        "neutral": "It is important to this person to be loyal to their friends. They want to devote themselves to people close to them.",
    },
    {
        "question": 19,
        "value": "universalism",
        "male": "He strongly believes that people should care for nature. Looking after the environment is important to him.",
        "female": "She strongly believes that people should care for nature. Looking after the environment is important to her.",
        "neutral": "This person strongly believes that people should care for nature. Looking after the environment is important to them.",
    },
    {
        "question": 20,
        "value": "tradition",
        "male": "Tradition is important to him. He tries to follow the customs handed down by his religion or his family.",
        "female": "Tradition is important to her. She tries to follow the customs handed down by her religion or her family.",
        "neutral": "Tradition is important to this person. They try to follow the customs handed down by their religion or their family.",
    },
    {
        "question": 21,
        "value": "hedonism",
        "male": "He seeks every chance he can to have fun. It is important to him to do things that give him pleasure.",
        "female": "She seeks every chance she can to have fun. It is important to her to do things that give her pleasure.",
        "neutral": "This person seeks every chance they can to have fun. It is important to them to do things that give them pleasure.",
    },
]

BFI10_INSTRUCTIONS = "How well do the following statements describe your personality?"
BFI10_STEM = "I see myself as someone who ..."

BFI10_SCALE = [
    (1, "Disagree strongly"),
    (2, "Disagree a little"),
    (3, "Neither agree nor disagree"),
    (4, "Agree a little"),
    (5, "Agree strongly"),
]

BFI10_TRAITS = ["extraversion", "agreeableness", "conscientiousness", "neuroticism", "openness"]

BFI10 = [
    {"question": 1, "text": "... is reserved", "trait": "extraversion", "reversed": True},
    {"question": 2, "text": "... is generally trusting", "trait": "agreeableness", "reversed": False},
    {"question": 3, "text": "... tends to be lazy", "trait": "conscientiousness", "reversed": True},
    {"question": 4, "text": "... is relaxed, handles stress well", "trait": "neuroticism", "reversed": True},
    {"question": 5, "text": "... has few artistic interests", "trait": "openness", "reversed": True},
    {"question": 6, "text": "... is outgoing, sociable", "trait": "extraversion", "reversed": False},
    {"question": 7, "text": "... tends to find fault with others", "trait": "agreeableness", "reversed": True},
    {"question": 8, "text": "... does a thorough job", "trait": "conscientiousness", "reversed": False},
    {"question": 9, "text": "... gets nervous easily", "trait": "neuroticism", "reversed": False},
    {"question": 10, "text": "... has an active imagination", "trait": "openness", "reversed": False},
]

# The rating scale for query-response items mirrors PVQ-21's (paper §3.2.3).
ITEM_QUESTION = "How similar is this response to your own thoughts?"
ITEM_SCALE = PVQ21_SCALE


def pvq21_form_for_gender(gender: str) -> str:
    """The PVQ-21 form to show a participant who gave ``gender`` (neutral for anyone else)."""
    return gender if gender in ("male", "female") else "neutral"


def pvq21_portraits(form: str) -> list[dict]:
    """PVQ-21 as ``[{"question", "value", "text"}]`` in the given form, in published order."""
    if form not in PVQ21_FORMS:
        raise ValueError(f"Unknown PVQ-21 form {form!r}: use one of {', '.join(PVQ21_FORMS)}.")
    return [{"question": q["question"], "value": q["value"], "text": q[form]} for q in PVQ21]

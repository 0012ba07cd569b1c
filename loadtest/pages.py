"""Reading survey pages like a participant does: which page it is and how to answer it.

Plain functions on HTML text (no Django, no Locust), shared by the Locust participant, the drills
and the tests.
"""

import html
import random
import re

FIELDSET_RE = re.compile(r"<fieldset.*?</fieldset>", re.S)
RADIO_RE = re.compile(r'<input type="radio" name="([^"]+)" value="([^"]+)"[^>]*><span>([^<]*)</span>')
CHECK_RE = re.compile(r"please select &#x27;(.+?)&#x27; for this row|please select '(.+?)' for this row")
STEP_RE = re.compile(r'name="step" value="(\d+)"')
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CODE_RE = re.compile(r'id="completion-code">([^<]*)<')
RETURN_RE = re.compile(r'id="return-to-prolific" href="([^"]+)"')


def page_kind(body: str) -> str:
    """Which page of the survey an HTML body is (names the latency rows of the report)."""
    if 'id="completion-code"' in body or "<h1>Thank you!</h1>" in body:
        return "finished"
    if 'name="consent"' in body:
        return "consent"
    if 'class="query"' in body:
        return "items"
    if 'name="gender"' in body:
        return "about"
    if 'name="pvq-' in body:
        return "pvq21"
    if 'name="bfi-' in body:
        return "bfi10"
    if "<h1>Instructions</h1>" in body:
        return "instructions"
    return "other"


def answer_form(body: str, rng: random.Random) -> dict[str, str]:
    """Answers for every radio group of a page; attention-check rows get the instructed option."""
    answers: dict[str, str] = {}
    for fieldset in FIELDSET_RE.findall(body):
        options = RADIO_RE.findall(fieldset)
        if not options:
            continue
        name = options[0][0]
        check = CHECK_RE.search(fieldset)
        if check:
            wanted = html.unescape(check.group(1) or check.group(2))
            answers[name] = next(value for _, value, label in options if html.unescape(label) == wanted)
        else:
            answers[name] = rng.choice([value for _, value, _ in options])
    return answers

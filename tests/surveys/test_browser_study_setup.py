"""A study from nothing to launch in a real browser (headless Chromium), on a phone and a desktop.

A researcher made with ``manage.py createresearcher`` logs in, creates the study, uploads its
items (first a file with errors: nothing stored), previews it to the completion code, is refused
by the launch checklist until everything is done, opens it; then a participant completes it from
the Prolific link to the completion code. Every page is screenshotted (into $SCREENSHOT_DIR, else
/tmp/value-portrait-screenshots; study-setup/<width>px/, replaced on every run, never committed) and
checked for horizontal overflow.

The participant pages are driven generically (every unanswered radio group on the page gets its
first option, an attention check row gets the option it asks for, then the page's button), so the
test does not depend on how many rows a page has or how the survey splits its questionnaires.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command

from surveys.models import Participant, Study

PASSWORD = "browser-researcher-pw-42"  # noqa: S105
PID = "65b1c2d3e4f5a60718293a4b"
PROLIFIC_STUDY_ID = "6650aa11bb22cc33dd44ee55"
CHECK_RE = re.compile(r"please select '([^']+)'")
COMPLETION_CODE = "VALUES-OK-1"

ITEMS_CSV = "item_id,group,source,title,query,response\n" + "".join(
    f"{g.lower()}{n},{g},chat,,{query},{response}\n"
    for g, query, answers in (
        ("A", "Should I save my first salary?", ("Save it: security first.", "Spend it on a trip.", "Invest in a course.")),
        ("B", "Cook or order takeaway?", ("Cook: it is healthier.", "Order: your time matters.", "Cook for the planet.")),
    )
    for n, response in enumerate(answers, start=1)
)
BAD_ITEMS_CSV = ITEMS_CSV + "a1,A,chat,,Again?,A duplicate id.\nc1,C,chat,,,No query.\n"

# Which radio to pick for the group named ``name``: the option an attention check asks for, else the first.
CHOOSE_JS = """
(name) => {
  const radios = [...document.querySelectorAll('input[type=radio]')].filter(r => r.name === name);
  let box = radios[0];
  while (box.parentElement && !radios.every(r => box.contains(r))) box = box.parentElement;
  const fieldset = radios[0].closest('fieldset');
  const container = fieldset && radios.every(r => fieldset.contains(r)) ? fieldset : box;
  const labelOf = r => (r.closest('label') || document.querySelector(`label[for="${r.id}"]`) || {}).innerText || '';
  const match = /please select '([^']+)'/.exec(container.innerText);
  if (match) {
    const i = radios.findIndex(r => labelOf(r).trim() === match[1]);
    if (i >= 0) return i;
  }
  return 0;
}
"""
VISIBLE_UNANSWERED_JS = """
() => {
  const names = [...new Set([...document.querySelectorAll('input[type=radio]')]
    .filter(r => r.offsetParent !== null).map(r => r.name))];
  return names.filter(n => !document.querySelector(`input[type=radio][name="${n}"]:checked`));
}
"""


def _no_horizontal_overflow(page, what: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{what}: the page is {widths[0]} px wide in a {widths[1]} px window"


class Shots:
    def __init__(self, directory: Path):
        self.directory = directory
        self.n = 0

    def __call__(self, page, name: str) -> None:
        self.n += 1
        # The whole page, by making the window as tall as the page: Playwright's full_page screenshots
        # leave headless Chromium dropping the next click on a long page.
        viewport = page.viewport_size
        height = page.evaluate("() => document.documentElement.scrollHeight")
        page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
        page.screenshot(path=str(self.directory / f"{self.n:02d}-{name}.png"))
        page.set_viewport_size(viewport)
        _no_horizontal_overflow(page, name)


def complete_survey(page, shots: Shots, prefix: str, code: str) -> None:
    """Answer every page until the completion code shows (consent: agree; radios: see CHOOSE_JS)."""
    for n in range(60):
        if page.locator("main").get_by_text(code, exact=True).count():
            shots(page, f"{prefix}-finished")
            return
        shots(page, f"{prefix}-page{n + 1:02d}")
        agree = page.get_by_role("button", name=re.compile(r"^I agree to take part"))
        if agree.count():
            agree.click()
            page.wait_for_load_state()
            continue
        for name in page.evaluate(VISIBLE_UNANSWERED_JS):
            index = page.evaluate(CHOOSE_JS, name)
            page.locator(f'input[type=radio][name="{name}"]').nth(index).check()
        # survey.js saves a draft on every change; the in-memory SQLite of the test server locks a table
        # for a request at a time (shared cache has no busy timeout), so let the drafts land first.
        page.wait_for_load_state("networkidle")
        page.locator("main form button:visible").last.click()
        page.wait_for_load_state()
    raise AssertionError(f"{prefix}: no completion code after 60 pages")


@pytest.mark.browser
@pytest.mark.parametrize("width,height", [(390, 844), (1280, 900)], ids=["phone", "desktop"])
def test_a_study_goes_from_nothing_to_a_completed_participant_in_the_browser(
    live_server, transactional_db, settings, tmp_path, monkeypatch, width, height,
):
    from playwright.sync_api import expect, sync_playwright

    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("BROWSER_RESEARCHER_PASSWORD", PASSWORD)
    call_command("createresearcher", "--no-input", "--username=grace", "--email=grace@example.org",
                 "--password-from-env=BROWSER_RESEARCHER_PASSWORD")
    shots_dir = Path(os.environ.get("SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "value-portrait-screenshots")
    shots_dir = shots_dir / "study-setup" / f"{width}px"
    shutil.rmtree(shots_dir, ignore_errors=True)
    shots_dir.mkdir(parents=True)
    print(f"\nscreenshots: {shots_dir}")
    shots = Shots(shots_dir)
    items_file = tmp_path / "items.csv"
    items_file.write_text(ITEMS_CSV)
    bad_file = tmp_path / "items-with-errors.csv"
    bad_file.write_text(BAD_ITEMS_CSV)
    prolific_hits: list[str] = []
    stored: dict = {}

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        viewport = {"width": width, "height": height}
        page = browser.new_context(viewport=viewport).new_page()

        # The researcher logs in and creates the study.
        page.goto(f"{live_server.url}/accounts/login/?next=/studies/")
        shots(page, "login")
        page.fill("input[name=username]", "grace")
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button").click()
        page.wait_for_url(re.compile(r"/studies/$"))
        shots(page, "studies-empty")
        page.locator("main").get_by_role("link", name="New study").click()
        page.wait_for_url(re.compile(r"/studies/new/$"))
        page.fill("#id_title", "Values in everyday advice")
        page.fill("#id_slug", "everyday-advice")
        page.fill("#id_prolific_study_id", PROLIFIC_STUDY_ID)
        page.fill("#id_consent_text", "You will rate a few responses and answer two short questionnaires. Do you agree?")
        page.fill("#id_completion_code", COMPLETION_CODE)
        page.fill("#id_failed_checks_code", "VALUES-FAIL-1")
        page.fill("#id_no_consent_code", "VALUES-NO-1")
        power = page.locator("#power-figure")
        expect(power).to_contain_text("With 46 raters, a correlation of ρ = 0.3 is detected with power 0.54")
        page.fill("#id_target_raters_per_item", "85")
        expect(power).to_contain_text("With 85 raters, a correlation of ρ = 0.3 is detected with power 0.80")
        page.fill("#id_attention_check_count", "3")
        page.fill("#id_attention_check_pages", "items, pvq21, bfi10")
        page.fill("#id_rules-min_completion_seconds", "60")
        shots(page, "new-study-filled")
        page.get_by_role("button", name="Create study").click()
        page.wait_for_url(re.compile(r"/studies/everyday-advice/items/$"))

        # Items: a file with errors is refused with its lines, then the good file.
        page.set_input_files("#id_file", str(bad_file))
        page.get_by_role("button", name="Import").click()
        errors = page.locator("#import-errors")
        expect(errors).to_contain_text("Nothing was imported.")
        expect(errors).to_contain_text("items-with-errors.csv: line 8, column 'item_id': 'a1' appears again (first on line 2).")
        expect(errors).to_contain_text("items-with-errors.csv: line 9, column 'query': empty value")
        shots(page, "items-errors")
        page.set_input_files("#id_file", str(items_file))
        page.get_by_role("button", name="Import").click()
        expect(page.locator(".messages")).to_contain_text("Imported 6 items from items.csv (2 new item groups).")
        expect(page.locator("#item-rows tbody tr")).to_have_count(6)
        shots(page, "items-imported")

        # The checklist refuses to open before the preview.
        page.locator(".study-nav").get_by_role("link", name="Launch").click()
        page.locator("#link-confirmed").check()
        page.get_by_role("button", name="Open study").click()
        refused = page.locator("#open-refused")
        expect(refused).to_contain_text("Survey previewed to the end")
        expect(refused).not_to_contain_text("Items in every item group")
        shots(page, "launch-refused")

        # Preview as a participant, to the completion code.
        page.locator(".study-nav").get_by_role("link", name="Preview").click()
        page.wait_for_url(re.compile(r"/s/everyday-advice/p/"))
        expect(page.get_by_text("Preview — not counted")).to_be_visible()
        complete_survey(page, shots, "preview", COMPLETION_CODE)

        # Now the checklist passes and the study opens.
        page.goto(f"{live_server.url}/studies/everyday-advice/launch/")
        expect(page.locator("#checklist li.todo")).to_have_count(0)
        entry_url = page.locator("#entry-url").inner_text()
        assert entry_url == (f"{live_server.url}/s/everyday-advice/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
                             "&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}")
        shots(page, "launch-ready")
        page.locator("#link-confirmed").check()
        page.get_by_role("button", name="Open study").click()
        page.wait_for_url(re.compile(r"/studies/everyday-advice/dashboard/$"))
        expect(page.locator(".messages")).to_contain_text("is open")
        shots(page, "dashboard-open")
        for name in ("Settings", "Analysis", "Prolific"):
            page.locator(".study-nav").get_by_role("link", name=name).click()
            page.wait_for_load_state()
            shots(page, name.lower())
        page.locator(".study-nav").get_by_role("link", name="Dashboard").click()
        page.wait_for_url(re.compile(r"/dashboard/$"))

        # A participant arrives from Prolific and completes it.
        participant_page = browser.new_context(viewport=viewport).new_page()

        def prolific(route):
            prolific_hits.append(route.request.url)
            route.fulfill(status=200, content_type="text/html", body="<h1>Prolific (stub)</h1>")

        participant_page.route(re.compile(r"^https://app\.prolific\.com/.*"), prolific)
        participant_page.goto(
            entry_url.replace("{{%PROLIFIC_PID%}}", PID).replace("{{%STUDY_ID%}}", PROLIFIC_STUDY_ID)
            .replace("{{%SESSION_ID%}}", "sess-1")
        )
        complete_survey(participant_page, shots, "participant", COMPLETION_CODE)
        participant_page.wait_for_url(re.compile(r"^https://app\.prolific\.com/"), timeout=15000)

        browser.close()

    study = Study.objects.get(slug="everyday-advice")
    stored["study"] = (study.status, list(study.researchers.values_list("username", flat=True)))
    stored["participants"] = sorted(
        (p.is_preview, p.status, p.ratings.count(), p.instrument_answers.count(), p.checks.filter(passed=True).count())
        for p in Participant.objects.filter(study=study)
    )
    assert prolific_hits and prolific_hits[0] == f"https://app.prolific.com/submissions/complete?cc={COMPLETION_CODE}"
    assert stored["study"] == (Study.Status.LIVE, ["grace"])
    # One preview and one real participant, each through 3 item ratings, 31 questionnaire answers, 3 passed checks.
    assert stored["participants"] == [(False, "completed", 3, 31, 3), (True, "completed", 3, 31, 3)]
    assert len(list(shots_dir.glob("*.png"))) == shots.n >= 20

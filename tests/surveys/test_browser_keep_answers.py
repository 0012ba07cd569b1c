"""In headless Chromium, at 390 px and 1280 px, with and without JavaScript: a page that comes back with
missing answers keeps every answer given and opens at the first row to fix; a refresh keeps the answers
(issue 16 part 4). Screenshots go to $SCREENSHOT_DIR (default: the test's tmp dir), never into git."""

import os
import re
from pathlib import Path

import pytest

from surveys.demo import seed_demo_study
from surveys.models import InstrumentAnswer, PageDraft, Participant, Rating

PID = "65a1b2c3d4e5f60718293a4c"
CHECK_RE = re.compile(r"please select '([^']+)' for this row")
VIEWPORTS = {390: {"width": 390, "height": 844}, 1280: {"width": 1280, "height": 800}}
CASES = [(width, js) for width in VIEWPORTS for js in (True, False)]


def case_id(case) -> str:
    width, js = case
    return f"{width}px-{'js' if js else 'nojs'}"


@pytest.fixture
def browser_page(live_server, transactional_db, settings, tmp_path, request):
    """A fresh demo study and a Chromium page with the case's viewport and JavaScript setting."""
    from playwright.sync_api import sync_playwright

    width, js = request.param
    settings.VAR_DIR = tmp_path
    seed_demo_study()
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    csp_violations: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport=VIEWPORTS[width], java_script_enabled=js)
        page = context.new_page()
        page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(f"{live_server.url}/s/demo/?PROLIFIC_PID={PID}&STUDY_ID=s1&SESSION_ID=x1")

        def shoot(name: str, full_page: bool = True):
            page.screenshot(path=str(shots / f"keep-{case_id((width, js))}-{name}.png"), full_page=full_page)

        yield page, js, shoot
        browser.close()
    assert csp_violations == []


def page_kind(page) -> str:
    if page.get_by_role("button", name="I agree to take part").count():
        return "consent"
    if page.locator("section.query").count():
        return "items"
    if page.locator("input[name=gender]").count():
        return "about"
    if page.locator("input[name^=pvq-]").count():
        return "pvq21"
    if page.locator("input[name^=bfi-]").count():
        return "bfi10"
    return "other"


def answer(row, rng_index: int) -> str:
    """Choose an option in a row (the instructed one on a check row); returns the value chosen."""
    radios = row.locator("input[type=radio]")
    match = CHECK_RE.search(row.locator("legend").inner_text())
    name = radios.first.get_attribute("name")
    if match:
        row.get_by_label(match.group(1), exact=True).check()
    elif name in ("gender", "age_band"):
        row.get_by_label("Female" if name == "gender" else "25–34", exact=True).check()
    else:
        radios.nth(rng_index % radios.count()).check()
    return row.locator("input:checked").get_attribute("value")


def submit(page):
    page.locator("form.survey-form button").last.click()
    page.wait_for_load_state()


def go_to(page, kind: str) -> None:
    """Answer every page in full until a page of ``kind`` is shown."""
    for _ in range(20):
        current = page_kind(page)
        if current == kind:
            return
        if current == "consent":
            page.get_by_role("button", name="I agree to take part").click()
            page.wait_for_load_state()
            continue
        for n, row in enumerate(page.locator("fieldset.likert-row").all()):
            answer(row, n)
        submit(page)
    raise AssertionError(f"never reached a {kind} page")


def rows(page):
    return page.locator("form.survey-form fieldset.likert-row").all()


def name_of(row) -> str:
    return row.locator("input[type=radio]").first.get_attribute("name")


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] < height and box["y"] + min(box["height"], 60) > 0


@pytest.mark.browser
@pytest.mark.parametrize("browser_page", CASES, ids=case_id, indirect=True)
def test_an_error_keeps_every_answer_and_opens_at_the_first_row_to_fix(browser_page):
    from playwright.sync_api import expect

    page, js, shoot = browser_page
    go_to(page, "items")
    all_rows = rows(page)
    assert len(all_rows) >= 3, "a query page with several responses"
    missing = [name_of(all_rows[1]), name_of(all_rows[-1])]
    chosen = {}
    for n, row in enumerate(all_rows):
        if name_of(row) not in missing:
            chosen[name_of(row)] = answer(row, n + 2)
    submit(page)

    summary = page.locator("#errors")
    expect(summary).to_be_visible()
    expect(summary.locator("a")).to_have_count(2)
    assert [a.get_attribute("href") for a in summary.locator("a").all()] == [f"#row-{name}" for name in missing]
    for name, value in chosen.items():
        expect(page.locator(f'input[name="{name}"][value="{value}"]')).to_be_checked()
    for name in missing:
        row = page.locator(f"#row-{name}")
        expect(row).to_have_class(re.compile(r"\bhas-error\b"))
        expect(row.locator(".row-error")).to_be_visible()
        expect(row.locator("input[aria-invalid=true]")).to_have_count(6)
        expect(row).to_have_attribute("aria-describedby", f"error-{name}")
    first = page.locator(f"#row-{missing[0]}")
    # Opened at the first row to fix, with the focus in it (autofocus; the script also scrolls its question up).
    expect(first.locator("input:focus")).to_have_count(1)
    expect(page.locator("fieldset.likert-row input:focus")).to_have_count(1)
    assert in_viewport(page, first.locator("legend"))
    shoot("items-error-viewport", full_page=False)
    shoot("items-error")

    # The summary's second link goes to the second row (a fragment link, so also without JavaScript).
    summary.locator("a").last.click()
    assert in_viewport(page, page.locator(f"#row-{missing[1]}"))

    for n, name in enumerate(missing):
        chosen[name] = answer(page.locator(f"#row-{name}"), n)
        if js:
            expect(page.locator(f"#row-{name}")).not_to_have_class(re.compile(r"\bhas-error\b"))  # unmarked when answered
    progress = page.locator(".progress .muted").inner_text()  # "Page n of N"
    page.locator("form.survey-form button").last.dblclick()  # a double click sends the page once
    page.wait_for_load_state()
    expect(page.locator("#errors")).to_have_count(0)
    shoot("after-items")
    following = page.locator(".progress .muted").inner_text()
    assert following != progress

    # Back shows an old page; sending it again stores nothing and leads to the page the participant is on.
    page.go_back()
    page.wait_for_load_state()
    if page.locator("form.survey-form button").count():
        submit(page)
    expect(page.locator(".progress .muted")).to_have_text(following)
    expect(page.locator("#errors")).to_have_count(0)
    items = {k: v for k, v in chosen.items() if k.startswith("item-")}

    stored = {}

    def read():
        participant = Participant.objects.get(prolific_pid=PID)
        stored["ratings"] = {f"item-{r.item_id}": str(r.rating) for r in Rating.objects.filter(participant=participant)}

    run_in_thread(read)
    assert stored["ratings"] == items


def run_in_thread(function):
    """Run database code off the Playwright thread (Django refuses database calls inside its event loop)."""
    import threading

    errors = []

    def target():
        try:
            function()
        except BaseException as error:  # re-raised in the test thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.mark.browser
@pytest.mark.parametrize("browser_page", CASES, ids=case_id, indirect=True)
def test_a_refresh_keeps_the_answers_and_the_pvq21_comes_in_three_pages(browser_page):
    from playwright.sync_api import expect

    page, js, shoot = browser_page
    go_to(page, "pvq21")
    expect(page.locator("h1")).to_contain_text("part 1 of 3")
    first_page = rows(page)
    assert 7 <= len(first_page) <= 8  # 7 portraits, perhaps an attention check
    chosen = {name_of(row): answer(row, n) for n, row in enumerate(first_page[:4])}
    if js:
        # Kept on the server as they are chosen; the page is then reloaded.
        expect(page.locator("#draft-status")).to_have_attribute("data-state", "saved")
        shoot("pvq-draft", full_page=False)
        page.reload()
    else:
        # Without JavaScript the answers reach the server when the page is sent: an incomplete page
        # comes back with them, and opening the page again (a refresh) still shows them.
        submit(page)
        expect(page.locator("#errors")).to_be_visible()
        expect(page.locator("fieldset.has-error")).to_have_count(len(first_page) - 4)
        shoot("pvq-error")
        page.goto(page.url)
    for name, value in chosen.items():
        expect(page.locator(f'input[name="{name}"][value="{value}"]')).to_be_checked()
    expect(page.locator("form.survey-form input:checked")).to_have_count(len(chosen))
    shoot("pvq-after-refresh")

    last = 0
    for part in (1, 2, 3):
        expect(page.locator("h1")).to_contain_text(f"part {part} of 3")
        numbers = [int(n.inner_text().rstrip(".")) for n in page.locator(".row-number").all()]
        assert numbers == list(range(last + 1, last + 1 + len(numbers)))  # row numbers run on across the pages
        last = numbers[-1]
        for n, row in enumerate(rows(page)):
            chosen[name_of(row)] = answer(row, n + part)
        if part == 2:
            shoot("pvq-part-2")
        submit(page)
    assert page_kind(page) == "bfi10"
    pvq = {k: v for k, v in chosen.items() if k.startswith("pvq-")}
    assert len(pvq) == 21
    stored = {}

    def read():
        participant = Participant.objects.get(prolific_pid=PID)
        stored["pvq"] = {f"pvq-{a.question}": str(a.answer)
                         for a in InstrumentAnswer.objects.filter(participant=participant, instrument="pvq21")}
        stored["drafts"] = PageDraft.objects.filter(participant=participant).count()

    run_in_thread(read)
    assert stored["pvq"] == pvq and stored["drafts"] == 0

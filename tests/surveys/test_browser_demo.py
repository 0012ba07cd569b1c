"""A real (headless Chromium) participant completes the demo study on a phone-sized screen.

From the Prolific link to the Prolific redirect, which is intercepted so nothing leaves the
machine; then every stored answer is compared with what was clicked.
"""

import random
import re
import threading

import pytest

from surveys.demo import seed_demo_study
from surveys.models import AttentionCheckResponse, InstrumentAnswer, Participant, Rating

PID = "65a1b2c3d4e5f60718293a4b"
CHECK_RE = re.compile(r"please select '([^']+)' for this row")


@pytest.mark.browser
def test_a_participant_completes_the_demo_study_in_a_real_browser(live_server, transactional_db, settings, tmp_path):
    from playwright.sync_api import sync_playwright

    settings.VAR_DIR = tmp_path
    seed_demo_study()
    rng = random.Random(4)
    chosen: dict[str, str] = {}
    prolific_hits: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()

        def prolific(route):
            prolific_hits.append(route.request.url)
            route.fulfill(status=200, content_type="text/html", body="<h1>Prolific (stub)</h1>")

        page.route(re.compile(r"^https://app\.prolific\.com/.*"), prolific)
        page.goto(f"{live_server.url}/s/demo/?PROLIFIC_PID={PID}&STUDY_ID=s1&SESSION_ID=x1")

        for _ in range(20):
            if prolific_hits:
                break
            if page.get_by_role("button", name="I agree to take part").count():
                page.get_by_role("button", name="I agree to take part").click()
                continue
            if page.locator("#completion-code").count():
                page.wait_for_url(re.compile(r"^https://app\.prolific\.com/"), timeout=15000)
                break
            for row in page.locator("fieldset.likert-row").all():
                radios = row.locator("input[type=radio]")
                name = radios.first.get_attribute("name")
                match = CHECK_RE.search(row.locator("legend").inner_text())
                if match:
                    row.get_by_label(match.group(1), exact=True).check()
                elif name in ("gender", "age_band"):
                    row.get_by_label("Female" if name == "gender" else "25–34", exact=True).check()
                else:
                    radios.nth(rng.randrange(radios.count())).check()
                chosen[name] = row.locator("input:checked").get_attribute("value")
            # The page saves a draft after each answer (survey.js); submit once none is in flight: the test database is
            # SQLite in memory with a shared cache, where two writers at once fail ("table is locked") instead of waiting.
            page.wait_for_load_state("networkidle")
            page.locator("form.survey-form button").last.click()
            page.wait_for_load_state()
        browser.close()

    assert prolific_hits and prolific_hits[0] == "https://app.prolific.com/submissions/complete?cc=DEMO-COMPLETE"
    participant = Participant.objects.get(prolific_pid=PID)
    assert participant.status == Participant.Status.COMPLETED and participant.pvq_form == "female"
    ratings = {f"item-{r.item_id}": str(r.rating) for r in Rating.objects.filter(participant=participant)}
    assert len(ratings) == 6 and ratings == {k: v for k, v in chosen.items() if k.startswith("item-")}
    answers = {f"{a.instrument[:3]}-{a.question}": str(a.answer) for a in InstrumentAnswer.objects.filter(participant=participant)}
    assert len(answers) == 31 and answers == {k: v for k, v in chosen.items() if k.startswith(("pvq-", "bfi-"))}
    checks = AttentionCheckResponse.objects.filter(participant=participant)
    assert checks.count() == 4 and all(c.passed for c in checks)


@pytest.mark.browser
def test_the_dashboard_refreshes_its_counts_without_a_page_reload(live_server, transactional_db, settings, tmp_path):
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect, sync_playwright

    from surveys.services import participant_arrive, participant_consent

    settings.VAR_DIR = tmp_path
    study, _ = seed_demo_study()
    watcher = get_user_model().objects.create_user("watcher", password="pw-for-tests-only")
    study.researchers.add(watcher)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.clock.install()  # fast-forward the 15 s refresh timer instead of waiting for it
        page.goto(f"{live_server.url}/accounts/login/?next=/studies/demo/dashboard/")
        page.fill("input[name=username]", "watcher")
        page.fill("input[name=password]", "pw-for-tests-only")
        page.locator("form [type=submit]").click()
        page.wait_for_url(re.compile(r"/studies/demo/dashboard/$"))
        page.evaluate("window.reloadMarker = 1")  # gone if the page reloads
        expect(page.locator('[data-count="arrivals"]')).to_have_text("0")

        # Playwright's sync API runs an event loop in this thread, where Django refuses DB calls.
        def arrive_and_consent():
            participant_consent(participant=participant_arrive(study=study, prolific_pid="ab" * 12), consent=True)
            participant_arrive(study=study, prolific_pid="cd" * 12)  # still on the consent page

        arrival = threading.Thread(target=arrive_and_consent)
        arrival.start()
        arrival.join()
        page.clock.fast_forward(16_000)
        expect(page.locator('[data-count="arrivals"]')).to_have_text("2")
        expect(page.locator('[data-count="active"]')).to_have_text("2")
        expect(page.locator('[data-entry="unconsented_now"]')).to_have_text("1")
        expect(page.locator("#group-rows tr td:nth-child(4)", has_text="1")).to_have_count(1)
        assert page.evaluate("window.reloadMarker") == 1
        browser.close()

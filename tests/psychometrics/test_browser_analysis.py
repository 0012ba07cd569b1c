"""The analysis page in a real (headless Chromium) browser on a phone and a laptop: the screening table
and the warnings fit the screen (no sideways scrolling of the page)."""

import os
from pathlib import Path

import pytest

from psychometrics.services import analysis_create, analysis_run
from tests.psychometrics.builders import CAREFUL_BFI, participant_with_answers


@pytest.mark.browser
@pytest.mark.parametrize("nobody_kept", [False, True])
def test_the_analysis_page_fits_a_phone_and_a_laptop(live_server, completed_study, django_user_model, tmp_path, nobody_kept):
    from playwright.sync_api import sync_playwright

    user = django_user_model.objects.create_user("researcher", password="pw")
    completed_study.researchers.add(user)
    group = completed_study.groups.get(name="A")
    for answer in (2, 5):  # 5 of 36 excluded by data-quality rules: the >10 % warning shows
        participant_with_answers(study=completed_study, group=group, pvq=dict.fromkeys(range(1, 22), answer), bfi=CAREFUL_BFI)
    analysis_run(analysis_id=analysis_create(study=completed_study, enqueue=False).pk)
    if nobody_kept:
        analysis_run(analysis_id=analysis_create(study=completed_study, min_seconds=100000, enqueue=False).pk)
    shots = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for width in (390, 1280):
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            page.goto(f"{live_server.url}/accounts/login/?next=/studies/values/analysis/")
            page.fill("input[name=username]", "researcher")
            page.fill("input[name=password]", "pw")
            page.locator("form button[type=submit], form input[type=submit]").first.click()
            page.wait_for_selector("table.screening")
            assert page.locator("[role=alert]").count() >= 1
            name = f"analysis-{'warning' if nobody_kept else 'ok'}-{width}"
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            page.locator("section:has(table.screening)").screenshot(path=str(shots / f"{name}-results.png"))
            wide = page.evaluate("[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName + '.' + e.className).slice(0, 5)")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, wide
        browser.close()

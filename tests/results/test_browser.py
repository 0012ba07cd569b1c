"""Headless Chromium (Playwright) on a live server: the leaderboard reacts, the charts render."""

from pathlib import Path

import pytest

from benchmark.models import LLM
from results.services import published_results_load
from tests.results.builders import completed_run, ess_references, imported_bank

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Pixels that are not the white background the charts paint first: > 0 means Chart.js drew something.
DRAWN_PIXELS = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || !window.VP || !window.VP.charts[id]) return 0;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i] < 245 || data[i + 1] < 245 || data[i + 2] < 245) drawn++;
  return drawn;
}"""


@pytest.fixture
def site(live_server, tmp_path, settings):
    # The results pages carry no inline script: they must work under the strict Content-Security-Policy.
    settings.CSP_INLINE_SCRIPT_PATHS = [p for p in getattr(settings, "CSP_INLINE_SCRIPT_PATHS", []) if p != "/results/"]
    published_results_load()
    bank = imported_bank(tmp_path, name="browser-bank", n_items=60, seed=2)
    for name, bias in (("model-a", None), ("model-b", {"scruples": 2}), ("model-c", {"sharegpt": -2})):
        completed_run(bank, name, bias=bias)
    completed_run(bank, "model-a", persona="gender-male")
    ess_references()
    return {"url": live_server.url, "bank": bank, "llms": {llm.name: llm.pk for llm in LLM.objects.filter(provider="openai")}}


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text)
                if message.type == "error" and "Content Security Policy" in message.text else None)
        yield page
        browser.close()
        assert errors == [], errors


def _order(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard tbody tr", "rows => rows.map(r => r.dataset.model)")


def test_the_leaderboard_reorders_when_dimensions_and_aggregation_change(site, page, tmp_path):
    response = page.goto(f"{site['url']}/results/")
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self';" in policy  # strict: no 'unsafe-inline'
    assert page.eval_on_selector_all("#leaderboard tbody tr", "rows => rows.length") == 44
    assert page.evaluate(DRAWN_PIXELS, "welfare-chart") > 500
    everything = _order(page)
    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)

    page.click("[data-check-none]")
    page.check("input[name=dimensions][value=Power]")
    with page.expect_navigation():
        page.click("#apply")
    power_only = _order(page)
    assert power_only != everything
    # Closest to the GSS 2012 adults' Power (-1.15): claude-3-opus's -0.44 is the lowest in Tables 5, 7 and 8
    assert power_only[0] == "claude-3-opus"
    assert page.eval_on_selector_all("#leaderboard thead th", "ths => ths.length") == 5  # #, interval, model, welfare, Power
    with page.expect_navigation():
        page.select_option("#question", "endorsement")
    assert _order(page)[0] == "Qwen2.5-0.5B-Instruct"  # Power +0.11, the highest: endorses Power most
    assert "Which models prioritise the chosen values most?" in page.inner_text("#question-text")
    with page.expect_navigation():
        page.select_option("#question", "closeness")

    page.click("[data-check-all]")
    with page.expect_navigation():
        page.click("#apply")
    assert _order(page) == everything
    with page.expect_navigation():
        page.select_option("#aggregate", "rawlsian")
    rawlsian = _order(page)
    assert rawlsian != everything
    assert "Minimum (Rawlsian)" in page.inner_text("h2")
    assert page.evaluate(DRAWN_PIXELS, "welfare-chart") > 500

    page.click("#leaderboard thead th:nth-child(3)")  # sort by model name
    assert _order(page) == sorted(rawlsian, key=str.lower, reverse=True)
    page.screenshot(path=str(tmp_path / "leaderboard-rawlsian.png"), full_page=True)


def test_the_model_page_draws_its_charts_and_opens_the_items_of_a_dimension(site, page, tmp_path):
    page.goto(f"{site['url']}/results/models/{site['llms']['model-b']}/")
    for chart in ("radar-pvq", "bar-pvq", "radar-bfi", "bar-bfi"):
        assert page.evaluate(DRAWN_PIXELS, chart) > 500, chart
    first = page.locator("button.dim-link[data-family=pvq]").first
    dimension = first.get_attribute("data-dimension")
    first.click()
    page.wait_for_selector("#items-panel .item-card")
    assert f"{dimension}:" in page.inner_text("#items-panel h3")
    page.click("#items-panel details summary")
    assert page.locator("#items-panel details table tbody tr").first.is_visible()
    page.screenshot(path=str(tmp_path / "model.png"), full_page=True)


def test_the_comparison_overlays_the_chosen_models(site, page, tmp_path):
    ids = "&".join(f"models={pk}" for pk in site["llms"].values())
    page.goto(f"{site['url']}/results/compare/?itembank=browser-bank&{ids}&model={site['llms']['model-a']}")
    assert page.evaluate("() => VP.charts['compare-radar'].data.datasets.length") == 3
    assert page.evaluate(DRAWN_PIXELS, "compare-radar") > 500
    assert page.evaluate(DRAWN_PIXELS, "conditions-chart") > 500
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)

    page.goto(f"{site['url']}/results/alignment/?itembank=browser-bank")
    assert page.evaluate(DRAWN_PIXELS, "pca-chart") > 500
    boxes = page.evaluate("() => VP.charts['pca-chart'].$pointLabelBoxes")
    drawn = boxes["drawn"]
    assert drawn and len(drawn) <= boxes["points"]
    for i, a in enumerate(drawn):  # no two labels on the value map overlap
        for b in drawn[i + 1:]:
            assert not (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                        and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]), (a["label"], b["label"])
    assert page.evaluate(DRAWN_PIXELS, "bias-model-gender") > 500
    page.screenshot(path=str(tmp_path / "alignment.png"), full_page=True)


def test_the_model_chooser_searches_and_shows_its_limit(site, page, tmp_path):
    from results.selectors import PUBLISHED_BANK_NAME

    page.goto(f"{site['url']}/results/compare/?itembank={PUBLISHED_BANK_NAME}")
    chips = "#model-chooser label"
    everything = page.locator(f"{chips}:visible").count()
    assert everything >= 40
    page.fill("#model-search", "claude")
    visible = page.eval_on_selector_all(chips, "labels => labels.filter(l => !l.hidden).map(l => l.textContent.trim())")
    assert visible and all("claude" in name.lower() for name in visible) and len(visible) < everything
    page.fill("#model-search", "")
    assert page.locator(f"{chips}:visible").count() == everything
    boxes = page.locator("#model-chooser input[type=checkbox]")
    for index in range(boxes.count()):
        if page.locator("#model-chooser input:checked").count() >= 5:
            break
        if not boxes.nth(index).is_checked():
            boxes.nth(index).check()
    assert "5 of at most 5" in page.inner_text("#model-count")
    assert page.locator("#model-chooser input:disabled").count() == everything - 5  # the limit is visible
    page.screenshot(path=str(tmp_path / "compare-chooser.png"), full_page=True)


def test_the_self_test_shows_a_profile_chart_and_the_closest_models(site, page, tmp_path):
    page.goto(f"{site['url']}/results/self-test/?form=neutral")
    page.evaluate("""() => document.querySelectorAll('#self-test-form fieldset').forEach((set, i) =>
        set.querySelector(`input[value="${[4, 6, 2, 5, 3][i % 5]}"]`).checked = true)""")
    with page.expect_navigation():
        page.click("#self-test-form button[type=submit]")
    page.wait_for_selector("#self-test-result")
    assert page.evaluate(DRAWN_PIXELS, "self-radar") > 500
    assert page.locator("#closest-models tbody tr").count() == 5
    assert "Your answers were not stored" in page.inner_text("#self-test-result")
    page.screenshot(path=str(tmp_path / "self-test.png"), full_page=True)


def test_charts_download_as_png_and_as_vector_svg(site, page, tmp_path):
    page.goto(f"{site['url']}/results/models/{site['llms']['model-b']}/")
    # A bar opens the items behind its score, like the dimension buttons.
    page.locator("#bar-pvq").scroll_into_view_if_needed()
    x, y, label = page.evaluate("""() => { const c = VP.charts['bar-pvq']; const b = c.getDatasetMeta(0).data[0];
      const r = c.canvas.getBoundingClientRect(); return [r.left + b.x, r.top + (b.y + b.base) / 2, c.data.labels[0]]; }""")
    page.mouse.click(x, y)
    page.wait_for_selector("#items-panel .item-card")
    assert page.inner_text("#items-panel h3").startswith(f"{label}:")
    with page.expect_download() as png:
        page.click("[data-chart-png='bar-pvq']")
    assert png.value.suggested_filename == "bar-pvq.png"
    assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as svg:
        page.click("[data-chart-svg='bar-pvq']")
    assert svg.value.suggested_filename == "bar-pvq.svg"
    text = Path(svg.value.path()).read_text(encoding="utf-8")
    # Real vector output: shapes and text elements, not a bitmap wrapped in SVG.
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')
    assert "<image" not in text and text.count("<path") > 10
    labels = page.evaluate("() => VP.charts['bar-pvq'].data.labels")
    assert ">score (centred)</text>" in text
    assert all(f">{label}</text>" in text for label in labels), (labels, text[:2000])
    # It renders: drawn by the browser onto a canvas, the file paints the bars' colours.
    page.goto("about:blank")
    coloured = page.evaluate("""async (svg) => {
      const img = new Image();
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
      await img.decode();
      const canvas = document.createElement("canvas");
      canvas.width = img.width; canvas.height = img.height;
      const ctx = canvas.getContext("2d");
      ctx.drawImage(img, 0, 0);
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - data[i + 2]) > 60) n++;  // red or blue bars
      return n;
    }""", text)
    assert coloured > 500

"""Issue 16 part 3, Done-when: at 390, 1280 and 1920 px no results table, chart or figure is wider than its
container, the page is never wider than the viewport, and every public view shows data or a reason
(``class="empty-reason"``), on a populated site and on an empty one. Screenshots go to a temporary directory
(``LAYOUT_SHOTS`` to keep them). One test seeds exactly what ``make demo`` seeds (``seed_demo``) and checks
that its leaderboard, item explorer, a demo model page and the demo bank's higher-order view show data."""

import os
from pathlib import Path

import pytest

from benchmark.models import LLM
from results.services import published_results_load
from tests.results.builders import completed_run, ess_references, imported_bank

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTHS = (390, 1280, 1920)

# Every table, chart and figure must fit inside its parent, unless it sits in a scroll wrapper
# (overflow-x auto/scroll) that itself fits. Returns the offenders as readable strings.
OVERFLOW = """() => {
  const bad = [];
  const fits = (el) => {
    const parent = el.parentElement;
    if (!parent) return true;
    return el.getBoundingClientRect().width <= parent.clientWidth + 1;
  };
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  for (const el of document.querySelectorAll('main table, main svg, main canvas, main figure, main .chart-box')) {
    if (el.closest('details:not([open])')) continue;
    const wrapper = el.parentElement && scrolls(el.parentElement) ? el.parentElement : null;
    const checked = wrapper || el;
    if (!fits(checked) || (wrapper && wrapper.getBoundingClientRect().right > document.documentElement.clientWidth + 1)) {
      bad.push(`${el.tagName.toLowerCase()}#${el.id || ''}.${el.className && el.className.baseVal === undefined ? el.className : ''}`
               + ` ${Math.round(checked.getBoundingClientRect().width)}px in ${checked.parentElement.clientWidth}px`);
    }
  }
  return bad;
}"""
# Data (a table row, a drawn chart, an item card), the self-test's questionnaire, or a stated reason.
HAS_CONTENT = """() => !!document.querySelector(
  'main table tbody tr, main canvas, main .item-card, main #self-test-form, main .empty-reason')"""


def _views(site: dict) -> list[str]:
    model = site["model"]
    return ["/results/", "/results/?q=model-a", "/results/?family=bfi", "/results/?family=higher_pvq",
            "/results/?q=no-such-model", "/results/compare/", "/results/alignment/", "/results/items/",
            "/results/self-test/", *([f"/results/compare/?models={model}", f"/results/models/{model}/"] if model else [])]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # One browser for the module: Playwright's loop then runs while the tests set up their data, which
    # Django refuses in an event loop unless told the calls are synchronous (they are: this thread only).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def shots(tmp_path) -> Path:
    path = Path(os.environ.get("LAYOUT_SHOTS") or tmp_path / "shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _view_problems(page, base_url: str, view: str, width: int, shots: Path, tag: str) -> list[str]:
    """Open ``view`` at ``width``, screenshot it, and list what is wider than its container or shows nothing."""
    response = page.goto(base_url + view)
    assert response.status == 200, (view, response.status)
    page.wait_for_load_state("load")
    name = view.strip("/").replace("/", "_").replace("?", "_").replace("=", "-").replace("&", "_") or "leaderboard"
    page.screenshot(path=str(shots / f"{tag}-{width}-{name}.png"), full_page=True)
    problems = []
    page_width = page.evaluate("document.documentElement.scrollWidth")
    if page_width > width:
        problems.append(f"{width}px {view}: page is {page_width}px wide")
    problems += [f"{width}px {view}: {item}" for item in page.evaluate(OVERFLOW)]
    if not page.evaluate(HAS_CONTENT):
        problems.append(f"{width}px {view}: neither data nor an empty-reason")
    return problems


def _check_every_view(browser, site: dict, shots: Path, tag: str) -> None:
    problems, errors = [], []
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.on("pageerror", lambda error: errors.append(str(error)))
        for view in _views(site):
            problems += _view_problems(page, site["url"], view, width, shots, tag)
        page.close()
    assert errors == [], errors
    assert problems == [], "\n".join(problems)


def test_every_public_view_fits_and_shows_data_when_populated(live_server, tmp_path, browser, shots):
    published_results_load()
    bank = imported_bank(tmp_path, name="layout-bank", n_items=60, seed=2)
    for name, bias in (("model-a", None), ("model-b", {"scruples": 2}), ("model-c", {"sharegpt": -2})):
        completed_run(bank, name, bias=bias)
    ess_references()
    model = LLM.objects.filter(name="model-a").values_list("pk", flat=True).first()
    _check_every_view(browser, {"url": live_server.url, "model": model}, shots, "full")


def test_every_public_view_fits_and_says_why_when_empty(live_server, browser, shots):
    _check_every_view(browser, {"url": live_server.url, "model": None}, shots, "empty")


# Data, not a reason: a row of a results table or an item card, and a drawn chart or the item cards.
SHOWS_DATA = """() => !!document.querySelector('main table tbody tr, main .item-card')
  && Object.values((window.VP && window.VP.charts) || {}).length + document.querySelectorAll('main .item-card').length > 0"""


def test_every_public_view_of_a_fresh_make_demo_fits_and_shows_data(live_server, browser, shots, settings, tmp_path):
    from urllib.parse import urlencode

    from django.core.management import call_command

    from benchmark.demo import DEMO_BANK_NAME, DEMO_MODELS, DEMO_PROVIDER
    from benchmark.models import ItemBank

    # What `make demo` runs after migrate (the Makefile's demo target), in the test database.
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--base-url", live_server.url, stdout=open(os.devnull, "w"))  # noqa: SIM115
    demo_bank = ItemBank.objects.get(name=DEMO_BANK_NAME).pk
    demo_model = LLM.objects.get(provider=DEMO_PROVIDER, name=sorted(DEMO_MODELS)[0]).pk
    published_model = LLM.objects.exclude(provider=DEMO_PROVIDER).order_by("name").values_list("pk", flat=True).first()
    demo_models = ",".join(str(pk) for pk in LLM.objects.filter(provider=DEMO_PROVIDER).values_list("pk", flat=True))
    on_demo = urlencode({"itembank": demo_bank})
    must_show_data = ["/results/", "/results/items/", f"/results/models/{demo_model}/",
                      f"/results/?{on_demo}&family=higher_pvq"]
    views = [*must_show_data, "/results/?family=higher_pvq", "/results/?family=bfi", f"/results/?{on_demo}",
             "/results/compare/", f"/results/compare/?{on_demo}&models={demo_models}", "/results/alignment/",
             f"/results/alignment/?{on_demo}", "/results/self-test/", f"/results/models/{published_model}/"]
    problems, errors = [], []
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.on("pageerror", lambda error: errors.append(str(error)))
        for view in views:
            problems += _view_problems(page, live_server.url, view, width, shots, "demo")
            if view in must_show_data and not page.evaluate(SHOWS_DATA):
                problems.append(f"{width}px {view}: no data on a fresh demo")
        # The default higher-order view has none (the paper printed none) and links to the demo bank's.
        page.goto(live_server.url + "/results/?family=higher_pvq")
        page.click(f".empty-reason a:has-text('{DEMO_BANK_NAME}')")
        page.wait_for_load_state("load")
        if not page.evaluate(SHOWS_DATA) or page.locator("#leaderboard tbody tr").count() != len(DEMO_MODELS):
            problems.append(f"{width}px: the higher-order link from the default view shows no demo ranking")
        page.close()
    assert errors == [], errors
    assert problems == [], "\n".join(problems)


# Each chart's series: the legend's marker shapes, the datasets' line dashes, and the drawn point labels.
SERIES = """() => Object.entries(window.VP.charts).map(([id, chart]) => ({
  id, type: chart.config.type, usePointStyle: !!chart.options.plugins.legend.labels.usePointStyle,
  legend: chart.legend.legendItems.map((item) => String(item.pointStyle)),
  dashes: chart.data.datasets.map((ds) => JSON.stringify(ds.borderDash || [])),
  labels: (chart.$pointLabelBoxes || { drawn: [] }).drawn }))"""


def test_chart_series_differ_by_marker_shape_besides_colour_and_labels_never_overlap(live_server, browser, settings, tmp_path):
    from django.core.management import call_command

    from benchmark.demo import DEMO_MODELS, DEMO_PROVIDER

    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    demo = ",".join(str(pk) for pk in LLM.objects.filter(provider=DEMO_PROVIDER).values_list("pk", flat=True))
    bank = LLM.objects.filter(provider=DEMO_PROVIDER).first().runs.first().bank_id
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = {}
    for view in (f"/results/compare/?itembank={bank}&models={demo}", f"/results/alignment/?itembank={bank}",
                 "/results/alignment/", "/results/self-test/"):
        page.goto(live_server.url + view)
        page.wait_for_load_state("load")
        for chart in page.evaluate(SERIES):
            if len(chart["legend"]) < 2:
                continue
            seen[chart["id"]] = chart
            assert chart["usePointStyle"], (view, chart["id"])
            assert len(set(chart["legend"])) == len(chart["legend"]), (view, chart["id"], chart["legend"])
            if chart["type"] == "radar":
                assert len(set(chart["dashes"])) == len(chart["dashes"]), (view, chart["id"], chart["dashes"])
            boxes = chart["labels"]
            for i, a in enumerate(boxes):
                for b in boxes[i + 1:]:
                    overlap = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
                    assert not overlap, (view, chart["id"], a, b)
    page.close()
    assert seen["compare-radar"]["legend"][:len(DEMO_MODELS)] == ["circle", "rect", "triangle"]
    assert seen["pca-chart"]["legend"] == ["circle", "rect"] and seen["pca-chart"]["labels"]

"""Leaderboard at a glance (issue 16 part 3): the ?q= model search, intervals and tie marks in the table, and the
chart's "Show as table" carrying the chart's own numbers."""

import json
import re
from html import unescape

import pytest

from results.services import published_results_load
from results.views import model_matches, welfare_precision

pytestmark = pytest.mark.django_db


def _models(html: str) -> list[str]:
    return [unescape(name) for name in re.findall(r'<tr data-model="([^"]+)"', html)]


def _chart(html: str) -> dict:
    return json.loads(re.search(r'<script id="welfare-data" type="application/json">(.*?)</script>', html, re.S).group(1))


def test_the_search_keeps_models_whose_name_or_provider_holds_every_word():
    row = {"model": "Claude-3-Opus", "organization": "Anthropic"}
    assert model_matches(row, "")
    assert model_matches(row, "claude")
    assert model_matches(row, "ANTHROPIC opus")
    assert not model_matches(row, "claude sonnet")
    assert not model_matches({"model": "qwq-32b", "organization": None}, "alibaba")


def test_q_filters_the_leaderboard_rows_and_its_chart_on_the_server(client):
    published_results_load()
    everyone = _models(client.get("/results/").content.decode())
    html = client.get("/results/?q=Claude").content.decode()
    kept = _models(html)
    assert kept and len(kept) < len(everyone)
    assert all("claude" in name.lower() for name in kept)
    assert kept == [name for name in everyone if "claude" in name.lower()]  # the order of the full board
    assert _chart(html)["labels"] == kept
    assert f"{len(kept)} of {len(everyone)} models match" in html
    by_provider = _models(client.get("/results/?q=openai").content.decode())
    assert by_provider and not any("claude" in name.lower() for name in by_provider)


def test_a_search_matching_nothing_says_so(client):
    published_results_load()
    html = client.get("/results/?q=no-such-model-xyz").content.decode()
    assert _models(html) == []
    assert 'class="empty-reason"' in html and "No model name or provider matches" in html


def test_the_search_is_part_of_the_cached_page(client, settings):
    published_results_load()
    first = _models(client.get("/results/?q=claude").content.decode())
    second = _models(client.get("/results/?q=gemini").content.decode())
    assert first and second and not set(first) & set(second)


def test_welfare_shows_its_interval_and_ties_are_marked(client):
    published_results_load()
    html = client.get("/results/").content.decode()
    intervals = re.findall(r'<span class="interval" title="95 % interval">\[(\d\.\d+), (\d\.\d+)\]</span>', html)
    assert len(intervals) == len(_models(html))
    places = {len(bound.split(".")[1]) for pair in intervals for bound in pair}
    assert len(places) == 1 and places <= {2, 3}  # one precision for the board, never false precision beyond 3
    assert all(float(low) <= float(high) for low, high in intervals)
    tied_rows = re.findall(r'<tr data-model="[^"]+" class="tied">', html)
    tie_badges = re.findall(r'<span class="badge tie" title="Its rank interval', html)
    assert tied_rows and len(tie_badges) == len(tied_rows)


def test_welfare_precision_follows_the_interval_width():
    assert welfare_precision([{"welfare_low": 0.50, "welfare_high": 0.58}] * 3) == 2
    assert welfare_precision([{"welfare_low": 0.961, "welfare_high": 0.966}] * 3) == 3
    assert welfare_precision([{"welfare_low": None, "welfare_high": None}]) == 2


def test_the_chart_table_has_the_charts_numbers(client):
    published_results_load()
    html = client.get("/results/").content.decode()
    chart = _chart(html)
    table = html[html.index('<table id="welfare-chart-table">'):]
    table = table[:table.index("</table>")]
    assert "<summary>Show as table</summary>" in html
    cells = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([^<]+)</td>", table)
    assert [unescape(model) for model, _ in cells] == chart["labels"]
    for (_, shown), value in zip(cells, chart["values"], strict=True):
        places = len(shown.split(".")[1])
        assert float(shown) == pytest.approx(value, abs=0.5 * 10 ** -places + 1e-12)


def test_the_value_maps_come_with_a_table_of_their_points(client):
    published_results_load()
    html = client.get("/results/alignment/").content.decode()
    chart = json.loads(re.search(r'<script id="pca-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    table = html[html.index('<table id="pca-chart-table">'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r'<tr><td>([^<]+)</td><td>[^<]*</td><td class="num">([^<]+)</td><td class="num">([^<]+)</td></tr>', table)
    points = chart["points"]
    assert [unescape(name) for name, _, _ in rows] == [p["name"] for p in points]
    for (_, x, y), point in zip(rows, points, strict=True):
        assert float(x) == pytest.approx(point["x"], abs=0.005 + 1e-12)
        assert float(y) == pytest.approx(point["y"], abs=0.005 + 1e-12)

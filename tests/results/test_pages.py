"""Results pages: render, downloads, drill-down, self-test consent, query counts."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from benchmark.models import PROMPT_COUNT
from results.models import SelfTestResponse
from results.services import published_results_load
from surveys.instruments import PVQ21
from tests.results.builders import completed_run

pytestmark = pytest.mark.django_db


def test_every_page_renders_with_runs_and_references(client, scored, bank):
    llm = scored["model-a"].llm
    pages = [
        f"/results/?itembank={bank.name}",
        f"/results/?itembank={bank.name}&family=bfi&aggregate=nash",
        f"/results/models/{llm.pk}/",
        f"/results/compare/?itembank={bank.name}&models={llm.pk}&models={scored['model-b'].llm_id}&model={llm.pk}",
        f"/results/alignment/?itembank={bank.name}",
        f"/results/alignment/?itembank={bank.name}&model=published",
        "/results/self-test/",
        f"/results/items/?itembank={bank.name}&dimension=Benevolence&sign=positive",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"chart.umd.min.js" in response.content


def test_the_leaderboard_marks_each_rows_maximum_and_minimum(client):
    published_results_load()
    html = client.get("/results/").content.decode()
    row = html[html.index('data-model="gpt-4o-mini"'):]
    row = row[: row.index("</tr>")]
    assert 'is-max" style="background: rgba(214, 69, 65, 0.431)" data-value="0.46"' in row  # Benevolence 0.46*
    assert 'is-min" style="background: rgba(47, 91, 211, 0.75)" data-value="-0.85"' in row  # Tradition -0.85†
    assert "Which models are closest to a target value profile?" in html  # the question the ranking answers
    assert "US adults, GSS 2012" in html  # ... and its target


def test_the_leaderboard_downloads_as_tidy_csv_and_json(client, scored, bank):
    csv_response = client.get(f"/results/?itembank={bank.name}&dimensions=Power&dimensions=Benevolence&format=csv")
    assert csv_response["Content-Disposition"] == 'attachment; filename="leaderboard-leaderboard.csv"'
    rows = list(csv.DictReader(io.StringIO(csv_response.content.decode())))
    assert len(rows) == 6 and {r["dimension"] for r in rows} == {"Power", "Benevolence"}
    assert set(rows[0]) == {"rank", "rank_low", "rank_high", "tied", "model", "run_id", "source", "family", "dimension",
                            "question", "target", "target_value", "score", "value_basis", "is_row_max", "is_row_min",
                            "utility", "weight", "aggregate", "welfare", "welfare_low", "welfare_high"}
    assert sum(r["is_row_max"] == "True" for r in rows) >= 3  # each model's higher of the two values is marked
    records = json.loads(client.get(f"/results/?itembank={bank.name}&format=json").content)
    assert len(records) == 30
    assert client.get("/results/?format=xml").status_code == 400


TABLES = [
    ("/results/alignment/?itembank={bank}", "spearman"),
    ("/results/alignment/?itembank={bank}", "pca"),
    ("/results/alignment/?itembank={bank}", "persona_bias"),
    ("/results/alignment/?itembank={bank}", "persona_summary"),
    ("/results/compare/?itembank={bank}", "scores"),
    ("/results/compare/?itembank={bank}&model={model}", "conditions"),
    ("/results/models/{model}/", "scores"),
    ("/results/items/?itembank={bank}", "items"),
]


def test_every_table_downloads_as_csv_and_json(client, scored, bank):
    for path, table in TABLES:
        url = path.format(bank=bank.name, model=scored["model-a"].llm_id)
        url += "&" if "?" in url else "?"
        for fmt in ("csv", "json"):
            response = client.get(f"{url}format={fmt}&table={table}")
            assert response.status_code == 200, (url, fmt)
            assert response["Content-Disposition"].endswith(f'.{fmt}"')
        assert json.loads(client.get(f"{url}format=json&table={table}").content), table


def test_a_dimension_opens_the_items_behind_the_score(client, scored, bank):
    run = scored["model-b"]
    body = client.get(f"/results/runs/{run.pk}/items/?family=pvq&dimension=Benevolence").json()
    expected = {i.item_id for i in bank.items.filter(correlations__dimension="Benevolence", correlations__rho__gte=0.3,
                                                      correlations__p_value__lt=0.05)}
    assert {item["item_id"] for item in body["items"]} == expected
    score = run.scores.get(family="pvq", dimension="Benevolence")
    assert score.n_items == len(expected)
    item = body["items"][0]
    assert len(item["answers"]) == PROMPT_COUNT and item["rho"] >= 0.3
    ratings = [a["rating"] for a in item["answers"] if a["rating"] is not None]
    assert item["mean_rating"] == pytest.approx(sum(ratings) / len(ratings), abs=1e-4)
    assert any(a["rating"] is None and a["raw_text"] == "I cannot say." for i in body["items"] for a in i["answers"])
    assert client.get(f"/results/runs/{run.pk}/items/?dimension=Kindness").status_code == 400
    assert client.get(f"/results/runs/{run.pk}/items/?family=pvq&dimension=Benevolence&format=csv").status_code == 200


def test_the_model_page_shows_parse_rate_and_settings(client, scored):
    run = scored["model-b"]
    html = client.get(f"/results/models/{run.llm_id}/").content.decode()
    assert f"{run.parsed}/{run.answered}" in html and "unparsed" in html
    assert "ρ ≥ 0.3" in html
    assert client.get("/results/models/999999/").status_code == 404


def test_compare_refuses_more_than_five_models(client, scored, bank):
    query = "&".join(f"models={n}" for n in range(1, 7))
    response = client.get(f"/results/compare/?itembank={bank.name}&{query}")
    assert response.status_code == 400 and b"at most 5 models" in response.content
    html = response.content.decode()
    assert "Up to 5 models" in html and "Up to  models" not in html  # the limit is named on the error page too
    assert "the link chose 6" in html and "Untick 1" in html


def _answers(value: int = 4) -> dict:
    data = {f"q{p['question']}": str(value) for p in PVQ21}
    data.update({"q1": "6", "q11": "6", "q2": "1", "q17": "1", "form": "female"})
    return data


def test_the_self_test_stores_nothing_without_consent(client, scored):
    response = client.post("/results/self-test/", _answers())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your value profile" in html and "Your answers were not stored" in html
    assert 'id="closest-models"' in html
    assert SelfTestResponse.objects.count() == 0


def test_the_self_test_stores_answers_when_the_visitor_agrees(client, scored):
    client.post("/results/self-test/", {**_answers(), "store": "yes"})
    stored = SelfTestResponse.objects.get()
    assert stored.form == "female" and stored.answers["1"] == 6 and len(stored.answers) == 21
    # Self-Direction: items 1, 11 (both 6); mean of all 21 answers = (2*6 + 2*1 + 17*4) / 21 = 82/21
    assert stored.profile["Self-Direction"] == pytest.approx(6 - 82 / 21, abs=1e-6)


def test_the_self_test_links_to_a_leaderboard_ranked_by_closeness_to_the_visitors_profile(client, scored, bank):
    import html as html_module
    import re

    page = client.post("/results/self-test/", _answers()).content.decode()
    link = html_module.unescape(re.search(r'id="rank-by-my-profile" href="([^"]+)"', page).group(1))
    board = client.get(link).content.decode()
    assert "Your self-test profile (PVQ-21, centred)" in board
    body = client.get(link + "&format=json")
    records = json.loads(body.content)
    # Self-Direction: 6 - 82/21 (see above), shown to three decimals in the link
    self_direction = [r["target_value"] for r in records if r["dimension"] == "Self-Direction"]
    assert self_direction == [pytest.approx(round(6 - 82 / 21, 3))] * 3
    for record in records:
        assert record["utility"] == pytest.approx(1 - abs(record["score"] - record["target_value"]) / 10, abs=1e-4)


def test_the_self_test_asks_again_for_missing_answers(client):
    data = _answers()
    del data["q7"]
    response = client.post("/results/self-test/", data)
    assert response.status_code == 400 and b"missing: 7" in response.content
    assert SelfTestResponse.objects.count() == 0


def test_pages_cost_the_same_queries_with_more_models(client, scored, bank):
    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    urls = [f"/results/?itembank={bank.name}", f"/results/alignment/?itembank={bank.name}",
            f"/results/compare/?itembank={bank.name}", f"/results/items/?itembank={bank.name}"]
    before = [count(url) for url in urls]
    for name in ("model-d", "model-e", "model-f"):
        completed_run(bank, name)
    assert [count(url) for url in urls] == before


def test_the_leaderboard_marks_tied_extremes_and_shows_welfare_next_to_the_model(client):
    published_results_load()
    html = client.get("/results/").content.decode()
    row = html[html.index('data-model="claude-3-5-haiku"'):]
    row = row[: row.index("</tr>")]
    assert row.count("is-min") == 2  # Table 5: Achievement and Hedonism both -0.03†
    assert row.index('class="num welfare"') < row.index("is-max")  # the ranked number is not scrolled away


def test_unpublished_runs_do_not_leak_into_the_condition_and_persona_choosers(client, scored, bank):
    male = scored["model-a:male"]
    male.is_published = False
    male.save()
    scored["model-a:female"].delete()
    compare = client.get(f"/results/compare/?itembank={bank.name}").content.decode()
    alignment = client.get(f"/results/alignment/?itembank={bank.name}").content.decode()
    for html in (compare, alignment):
        chooser = html.split('<select name="model">', 1)[1].split("</select>", 1)[0]
        assert f'value="{male.llm_id}"' not in chooser


def test_the_model_page_downloads_the_run_on_screen(client, scored):
    male = scored["model-a:male"]
    html = client.get(f"/results/models/{male.llm_id}/?run={male.pk}").content.decode()
    assert f"?run={male.pk}&amp;format=csv&amp;table=scores" in html
    rows = list(csv.DictReader(io.StringIO(client.get(f"/results/models/{male.llm_id}/?run={male.pk}&format=csv").content.decode())))
    assert {row["run_id"] for row in rows} == {str(male.pk)}


def test_the_model_page_labels_the_big_five_interval_as_the_centred_scores(client, scored):
    run = scored["model-a"]
    html = client.get(f"/results/models/{run.llm_id}/?run={run.pk}").content.decode()
    bfi = html[html.index("<h2 style=\"margin:0\">Big Five (BFI)</h2>"):]
    bfi = bfi[: bfi.index("</section>")]
    # The table shows mean ratings; its interval column belongs to the centred score, shown beside it.
    assert "95% interval of the centred score" in bfi and "Score (centred)" in bfi
    extraversion = run.scores.get(family="bfi", dimension="Extraversion")
    if extraversion.n_items >= 3:
        assert f"[{extraversion.ci_low:.2f}, {extraversion.ci_high:.2f}]" in bfi
    else:  # no interval from one or two items, and the page says why
        assert extraversion.ci_low is None and "none: fewer than 3 items" in bfi
    assert f'data-value="{extraversion.score}"' in bfi


def test_the_leaderboard_page_explains_why_it_refuses_to_rank_every_value_by_endorsement(client):
    published_results_load()
    response = client.get("/results/?question=endorsement")
    assert response.status_code == 400
    html = response.content.decode()
    assert "would rank nothing" in html and "closest to a target profile" in html
    ranked = client.get("/results/?question=endorsement&dimensions=Benevolence&dimensions=Universalism")
    assert ranked.status_code == 200 and "Which models prioritise the chosen values most?" in ranked.content.decode()

"""A fresh demo (seed_demo) shows data on every public view, anonymously; seed_demo twice adds nothing."""

import re

import pytest
from django.core.management import call_command

from benchmark.demo import DEMO_BANK_NAME, DEMO_MODELS, DEMO_PROVIDER, demo_answers, demo_bank_records
from benchmark.models import LLM, BankItem, ItemBank, Run, Score
from benchmark.protocol import PAPER_MAX_TOKENS, PAPER_TEMPERATURE, is_paper_protocol
from psychometrics.stats.dimensions import FAMILIES, HIGHER_PVQ, PVQ
from results.selectors import PUBLISHED_BANK_NAME

NUMBER = r"-?\d+\.\d\d"


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return ItemBank.objects.get(name=DEMO_BANK_NAME)


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_seed_demo_twice_adds_nothing(demo, settings):
    counts = (ItemBank.objects.count(), BankItem.objects.count(), LLM.objects.count(), Run.objects.count(), Score.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert (ItemBank.objects.count(), BankItem.objects.count(), LLM.objects.count(), Run.objects.count(),
            Score.objects.count()) == counts
    runs = Run.objects.filter(bank=demo, provider=DEMO_PROVIDER)
    assert sorted(runs.values_list("model", flat=True)) == sorted(DEMO_MODELS)
    assert all(run.status == Run.Status.COMPLETED and run.is_published and run.source == Run.Source.IMPORTED for run in runs)


def test_demo_runs_are_scored_from_their_answers(demo):
    records = demo_bank_records()
    assert demo.items.count() == len(records)
    run = Run.objects.get(bank=demo, model="demo-achiever")
    answers = demo_answers("demo-achiever", records)
    assert run.answers.count() == len(answers) == run.parsed
    stored = {(a.item.item_id, a.prompt_index): a.raw_text for a in run.answers.select_related("item")}
    assert stored == {(a["item_id"], a["prompt_index"]): a["text"] for a in answers}
    # Every Schwartz value and higher-order value has a score and an interval, computed from the answers.
    for family in (PVQ, HIGHER_PVQ):
        scores = run.scores.filter(family=family)
        assert sorted(scores.values_list("dimension", flat=True)) == sorted(FAMILIES[family])
        assert all(s.score is not None and s.ci_low < s.score < s.ci_high and s.n_items >= 2 for s in scores)
    # The profile the fake model leans to shows in its scores.
    assert run.scores.get(family=PVQ, dimension="Achievement").score > run.scores.get(family=PVQ, dimension="Benevolence").score


def test_every_public_view_shows_demo_data(demo, client):
    bank = f"?itembank={demo.pk}"
    leaderboard = _text(client.get(f"/results/{bank}"))
    for model in DEMO_MODELS:
        assert re.search(rf"{model} Synthetic demo model (tie )?\d\.\d{{2,3}}", leaderboard), model
    higher = _text(client.get(f"/results/{bank}&family=higher_pvq"))
    assert all(model in higher for model in DEMO_MODELS) and "No completed runs" not in higher

    items = _text(client.get("/results/items/"))
    assert "240 items" in items and "demo-0000" in items

    llm = LLM.objects.get(provider=DEMO_PROVIDER, name="demo-universalist")
    page = _text(client.get(f"/results/models/{llm.pk}/"))
    assert "Synthetic demo model · provider demo" in page
    assert re.search(rf"Universalism {NUMBER} \d\.\d\d \d+ \[{NUMBER}, {NUMBER}\]", page)
    assert re.search(r"Same rating, all six prompts \d+% of 240 items", page)
    assert re.search(r"Self-Transcendence " + NUMBER, page)

    compare = _text(client.get(f"/results/compare/{bank}"))
    assert re.search(rf"Universalism( {NUMBER}){{3}}", compare)
    assert "demo-universalist" in _text(client.get(f"/results/alignment/{bank}"))
    assert _text(client.get("/results/self-test/"))

    for endpoint in ("items", "itembanks", "models", "runs", "leaderboard"):
        response = client.get(f"/api/v1/{endpoint}/", {"itembank": demo.pk} if endpoint == "leaderboard" else {})
        assert response.status_code == 200, endpoint
        body = response.json()
        assert body.get("count", len(body.get("results") or body.get("rows") or [])) > 0, (endpoint, body)
    models = client.get("/api/v1/models/", {"page_size": 100}).json()
    assert {m["name"] for m in models["results"] if m["provider"] == DEMO_PROVIDER} == set(DEMO_MODELS)


def test_a_view_without_data_says_why(demo, client):
    # The default bank is the paper's published scores, which have no higher-order values.
    page = client.get("/results/?family=higher_pvq").content.decode()
    assert re.search(r'class="[^"]*empty-reason[^"]*"[^>]*>No completed runs with Schwartz 4 higher-order values', page)
    page = client.get("/results/items/", {"q": "no item says this"}).content.decode()
    assert re.search(r'class="[^"]*empty-reason[^"]*"[^>]*>No items match these filters', page)


def test_demo_runs_declare_the_papers_generation_settings(demo):
    runs = Run.objects.filter(bank=demo, provider=DEMO_PROVIDER)
    assert runs.count() == len(DEMO_MODELS)
    for run in runs:
        assert (run.protocol["temperature"], run.protocol["max_tokens"]) == (PAPER_TEMPERATURE, PAPER_MAX_TOKENS)
        assert is_paper_protocol(run.protocol), run.protocol
    assert len({run.protocol_digest for run in runs}) == 1


def test_seed_demo_declares_the_settings_of_runs_seeded_without_them(demo):
    run = Run.objects.get(bank=demo, model="demo-achiever")
    run.settings = {key: value for key, value in run.settings.items() if key not in ("temperature", "max_tokens")}
    run.protocol_digest = ""
    run.save()
    assert run.protocol["temperature"] is None
    runs, scores = Run.objects.count(), Score.objects.count()
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    run.refresh_from_db()
    assert is_paper_protocol(run.protocol)
    assert len(set(Run.objects.filter(bank=demo).values_list("protocol_digest", flat=True))) == 1
    assert (Run.objects.count(), Score.objects.count()) == (runs, scores)


def test_the_default_leaderboard_ranks_the_published_models_and_points_to_the_demo_ranking(demo, client):
    response = client.get("/results/")
    page = response.content.decode()
    assert f"Item bank <strong>{PUBLISHED_BANK_NAME}</strong>" in page
    ranking = page.split('id="leaderboard"')[1].split("</table>")[0]
    assert "gpt-4o" in ranking and not any(model in ranking for model in DEMO_MODELS)
    note = _text(client.get("/results/")).split("Ranked separately on other item banks")[1].split(".")[0]
    assert DEMO_BANK_NAME.split(" (")[0] in note and f"({len(DEMO_MODELS)} models)" in note
    link = re.search(r'id="other-rankings">.*?<a href="([^"]+)">', page, re.S).group(1)
    shown = _text(client.get("/results/" + link.replace("&amp;", "&")))
    assert f"Item bank {DEMO_BANK_NAME}" in shown and all(model in shown for model in DEMO_MODELS)
    assert "(the paper's settings)" in shown


def test_the_default_higher_order_view_links_to_the_bank_that_has_them(demo, client):
    page = client.get("/results/?family=higher_pvq").content.decode()
    reason = re.search(r'class="empty-reason"[^>]*>(.*?)</p>', page, re.S).group(1)
    link = re.search(r'<a href="([^"]+)">Demo item bank \(synthetic\)</a> has them for 3 models', reason).group(1)
    shown = _text(client.get("/results/" + link.replace("&amp;", "&")))
    assert "Leaderboard: Schwartz 4 higher-order values" in shown
    assert all(re.search(rf"{model} Synthetic demo model (tie )?\d\.\d{{2,3}}", shown) for model in DEMO_MODELS)

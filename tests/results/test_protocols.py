"""Pages and API put only runs of one scoring protocol side by side, and keep one model name from two providers apart."""

import pytest
from django.urls import reverse

from results import selectors
from tests.results.builders import completed_run

HOT = {"temperature": 0.7}


@pytest.fixture
def two_protocols(bank):
    """Model "m" under the paper's settings and again at temperature 0.7; model "n" only at 0.7."""
    return {
        "paper": completed_run(bank, "m"),
        "hot": completed_run(bank, "m", settings=HOT),
        "other": completed_run(bank, "n", settings=HOT),
    }


def test_two_runs_of_one_model_under_two_protocols_have_two_digests(two_protocols):
    paper, hot = two_protocols["paper"], two_protocols["hot"]
    assert paper.llm_id == hot.llm_id
    assert paper.protocol_digest != hot.protocol_digest
    assert paper.protocol["temperature"] == 0.0 and hot.protocol["temperature"] == 0.7
    assert hot.protocol_digest == two_protocols["other"].protocol_digest


def test_the_default_protocol_is_the_papers_settings_even_with_fewer_runs(bank, two_protocols):
    choices = selectors.protocols_available(bank)
    assert [choice.digest for choice in choices] == [two_protocols["paper"].protocol_digest,
                                                     two_protocols["hot"].protocol_digest]
    assert choices[0].is_paper and choices[0].runs == 1 and choices[1].runs == 2


def test_the_leaderboard_never_shows_two_protocols_side_by_side(bank, two_protocols):
    default = selectors.leaderboard(bank=bank)
    assert [row["run_id"] for row in default.rows] == [two_protocols["paper"].pk]
    hot = selectors.leaderboard(bank=bank, protocol=two_protocols["hot"].protocol_digest)
    assert sorted(row["run_id"] for row in hot.rows) == sorted([two_protocols["hot"].pk, two_protocols["other"].pk])


def test_compare_reads_one_protocol(bank, two_protocols):
    llms = [two_protocols["paper"].llm, two_protocols["other"].llm]
    hot = two_protocols["hot"].protocol_digest
    assert set(selectors.compare_models(llms, bank)["run_id"]) == {two_protocols["paper"].pk}
    assert set(selectors.compare_models(llms, bank, hot)["run_id"]) == {two_protocols["hot"].pk, two_protocols["other"].pk}


def test_alignment_vectors_read_one_protocol(bank, two_protocols):
    hot = two_protocols["hot"].protocol_digest
    assert set(selectors.model_vectors(bank).index) == {"m"}
    vectors = selectors.model_vectors(bank, protocol=hot)
    assert set(vectors.index) == {"m", "n"}
    assert vectors.attrs["model_ids"]["n"] == two_protocols["other"].llm_id


def test_the_api_leaderboard_takes_a_protocol_and_says_which_it_used(api, bank, two_protocols):
    hot = two_protocols["hot"]
    body = api.get("/api/v1/leaderboard/").json()
    assert [row["run_id"] for row in body["rows"]] == [two_protocols["paper"].pk]
    assert body["protocol"]["digest"] == two_protocols["paper"].protocol_digest and body["protocol"]["is_paper"]
    assert len(body["protocols"]) == 2
    body = api.get("/api/v1/leaderboard/", {"protocol": hot.protocol_digest[:12]}).json()
    assert sorted(row["run_id"] for row in body["rows"]) == sorted([hot.pk, two_protocols["other"].pk])
    assert body["protocol"]["digest"] == hot.protocol_digest
    assert body["protocol"]["fields"]["temperature"] == 0.7


def test_an_unknown_protocol_is_a_400_in_the_api_and_the_default_with_a_notice_on_a_page(client, api, bank, two_protocols):
    response = api.get("/api/v1/leaderboard/", {"protocol": "0" * 12})
    assert response.status_code == 400 and "no protocol '000000000000'" in response.json()["detail"]
    response = api.get("/api/v1/leaderboard/", {"protocol": "abc"})  # too short to name one
    assert response.status_code == 400
    page = client.get(reverse("results:leaderboard"), {"protocol": "0" * 12})
    assert page.status_code == 200
    assert "Showing the default protocol" in page.content.decode()
    assert [row["run_id"] for row in page.context["board"].rows] == [two_protocols["paper"].pk]


def test_the_pages_offer_a_protocol_picker_and_switch(client, bank, two_protocols):
    hot = two_protocols["hot"]
    for name in ("results:leaderboard", "results:compare", "results:alignment"):
        page = client.get(reverse(name))
        html = page.content.decode()
        assert 'name="protocol"' in html, name
        assert hot.protocol_digest[:12] in html and two_protocols["paper"].protocol_digest[:12] in html
        assert "temperature 0.7" in html  # the human-readable summary of the other protocol
    page = client.get(reverse("results:compare"), {"protocol": hot.protocol_digest[:12]})
    assert {entry["run"].pk for entry in page.context["available"]} == {hot.pk, two_protocols["other"].pk}
    page = client.get(reverse("results:compare"))
    assert {entry["run"].pk for entry in page.context["available"]} == {two_protocols["paper"].pk}


def test_the_self_test_compares_with_the_default_protocol_only(bank, two_protocols):
    import pandas as pd

    from psychometrics.stats.dimensions import FAMILIES, PVQ

    profile = pd.Series(range(10), index=FAMILIES[PVQ], dtype=float)
    closest = selectors.closest_models(profile, bank)
    assert list(closest["model_id"]) == [two_protocols["paper"].llm_id]


def test_two_providers_serving_one_model_name_stay_two_models_and_no_endpoint_is_shown(client, api, bank):
    first = completed_run(bank, "gpt-x", provider="openai", base_url="http://127.0.0.1:9/v1")
    second = completed_run(bank, "gpt-x", provider="anthropic", base_url="http://127.0.0.1:9/v1")
    third = completed_run(bank, "gpt-x", provider="openai", base_url="http://127.0.0.1:8/v1")
    assert len({first.llm_id, second.llm_id, third.llm_id}) == 3
    assert first.protocol_digest == second.protocol_digest == third.protocol_digest

    board = selectors.leaderboard(bank=bank)
    labels = {row["model_id"]: row["model"] for row in board.rows}
    assert len(board.rows) == 3 and len(set(labels.values())) == 3
    assert labels[second.llm_id] == "gpt-x (anthropic)"
    assert labels[first.llm_id] == f"gpt-x (openai) #{first.llm_id}"
    assert set(selectors.model_vectors(bank).index) == set(labels.values())

    body = api.get("/api/v1/leaderboard/").content.decode()
    runs = api.get("/api/v1/runs/").json()["results"]
    assert {run["base_url"] for run in runs} == {None}
    pages = [client.get(reverse(name)).content.decode() for name in ("results:leaderboard", "results:compare")]
    pages.append(client.get(reverse("results:model", args=[third.llm_id])).content.decode())
    for text in [body, api.get(f"/api/v1/runs/{third.pk}/").content.decode(), *pages]:
        assert "127.0.0.1:8" not in text and "127.0.0.1:9" not in text


def test_the_run_api_returns_the_protocol_and_its_digest(api, bank, two_protocols):
    run = two_protocols["hot"]
    body = api.get(f"/api/v1/runs/{run.pk}/").json()
    assert body["protocol_digest"] == run.protocol_digest
    assert body["protocol"] == {"digest": run.protocol_digest, **run.protocol}


def test_a_run_created_through_the_api_and_run_by_a_worker_has_its_protocol(api, tmp_path, researcher_token,
                                                                            django_capture_on_commit_callbacks):
    from benchmark.models import Run
    from benchmark.providers.testserver import LLMTestServer
    from tests.results.builders import imported_bank

    imported_bank(tmp_path, name="small", n_items=6, seed=3)
    api.credentials(HTTP_AUTHORIZATION=f"Token {researcher_token}")
    with LLMTestServer() as server, django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/runs/", {
            "itembank": "small", "provider": "openai", "model": "test-model", "base_url": server.base_url,
            # The tiny bank keys only PVQ items: any other family would stop the run before a request.
            "settings": {"concurrency": 4, "fdr": True, "max_tokens": 16, "params": {"top_p": 0.5}, "families": ["pvq"]},
        }, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    run = Run.objects.get(pk=created["id"])
    assert run.status == Run.Status.COMPLETED
    assert created["protocol"]["digest"] == created["protocol_digest"] == run.protocol_digest
    assert created["protocol"]["selection"]["fdr"] is True and created["protocol"]["max_tokens"] == 16
    assert created["protocol"]["provider_params"] == {"top_p": 0.5}
    # families decide which scores a run has, not what a score means: not part of the protocol (docs/benchmark.md).
    assert created["settings"]["families"] == ["pvq"] and "families" not in created["protocol"]
    assert created["base_url"] == server.base_url  # its researcher sees the endpoint; the public does not
    api.credentials()
    assert api.get(f"/api/v1/runs/{run.pk}/").json()["base_url"] is None


def test_the_published_paper_results_get_the_paper_protocol(db):
    from benchmark.models import Run
    from results.services import published_results_load

    published_results_load()
    runs = Run.objects.filter(source=Run.Source.PUBLISHED)
    assert runs.count() == 44 and runs.values("protocol_digest").distinct().count() == 1
    fields = runs.first().protocol
    assert fields["parser"] == "published" and fields["temperature"] == 0.0 and fields["max_tokens"] == 64
    choice = selectors.protocol_resolve(runs.first().bank)
    assert choice.is_paper and choice.runs == 44
    published_results_load()  # idempotent: the digest does not change on a reload
    assert set(Run.objects.filter(source=Run.Source.PUBLISHED).values_list("protocol_digest", flat=True)) == {choice.digest}

"""Runs that fail safely (issue 14 part 4): nothing to score stops a run before any request, a run that
cannot be scored is failed (never left running), a dead worker's run is interrupted, and a failed or
interrupted run serves no scores publicly while its researchers keep its answers.

On whatever database the test run uses: the in-memory SQLite one, or PostgreSQL with
DATABASE_URL=postgres://... (the whole file runs on both).
"""

import io
import json
import math
from datetime import timedelta

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from benchmark import keying, scoring
from benchmark.models import Answer, ItemBank, Run, Score
from benchmark.services import (
    BenchmarkError,
    itembank_import,
    run_create,
    run_execute,
    run_finalize,
    run_resume,
    runs_interrupt_stale,
)
from benchmark.synthetic import synthetic_items, write_itembank
from benchmark.tasks import run_benchmark_task
from results.selectors import MSG_SCORES_WITHHELD

pytestmark = pytest.mark.django_db


def _bank_file(tmp_path, name: str, *, keyed: dict[str, float] | None = None, n_items: int = 4):
    """Items whose every correlation is weak (rho 0.1, p 0.4) except the ``keyed`` families' (rho, p 0.001)."""
    records = synthetic_items(n_items, seed=5)
    for record in records:
        for correlation in record["correlations"]:
            rho = (keyed or {}).get(correlation["family"])
            correlation["rho"], correlation["p_value"] = (rho, 0.001) if rho is not None else (0.1, 0.4)
    return write_itembank(tmp_path / f"{name}.jsonl", records)


def _answers_file(tmp_path, bank_file, text: str = "Like me") -> str:
    lines = [json.loads(line) for line in bank_file.read_text().splitlines()]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"item_id": line["item_id"], "prompt_index": index, "text": text}) + "\n"
                            for line in lines for index in range(6)), encoding="utf-8")
    return str(path)


# --- nothing to score: stopped before any request ------------------------------------------------


def test_scoring_an_empty_selection_gives_no_rows_instead_of_a_pandas_error():
    answers = pd.DataFrame({"item_id": ["a"] * 6, "prompt_index": range(6), "rating": [5.0] * 6})
    correlations = pd.DataFrame({"item_id": ["a"], "family": ["pvq"], "dimension": ["Benevolence"],
                                 "rho": [0.1], "p_value": [0.5]})
    selection = scoring.select_items(correlations)
    scores = scoring.score_dimensions(scoring.item_means(answers), selection, answers=answers)
    assert scores.empty and list(scores.columns) == scoring.SCORE_COLUMNS


def test_the_families_without_keyed_items_are_named_with_their_strongest_correlation():
    correlations = pd.DataFrame({
        "item_id": ["a", "b", "a", "b", "a"],
        "family": ["pvq", "pvq", "bfi", "bfi", "higher_pvq"],
        "dimension": ["Benevolence", "Power", "Openness", "Extraversion", "Openness to Change"],
        "rho": [0.5, 0.2, 0.25, -0.28, None],
        "p_value": [0.001, 0.2, 0.03, 0.01, None],
    })
    keyed, _ = keying.rule_keyed(correlations["rho"].to_numpy(float), correlations["p_value"].to_numpy(float))
    assert keyed.tolist() == [True, False, False, False, False]  # the default rule: rho >= 0.3, p < 0.05
    gaps = keying.unkeyed_families(correlations["item_id"].tolist(), correlations["family"].tolist(),
                                   correlations["dimension"].tolist(), correlations["rho"].to_numpy(float),
                                   correlations["p_value"].tolist(), keyed)
    assert [gap.family for gap in gaps] == ["bfi", "higher_pvq"]
    bfi = gaps[0]
    assert (bfi.item_id, bfi.dimension, bfi.rho, bfi.p_value, bfi.n_correlations) == ("b", "Extraversion", -0.28, 0.01, 2)
    assert gaps[1].item_id is None and math.isnan(gaps[1].rho) and math.isnan(gaps[1].p_value)


def test_run_benchmark_with_no_keyed_item_stops_before_any_request_saying_why(tmp_path, llm_server):
    server = llm_server()
    bank_file = _bank_file(tmp_path, "pilot")
    with pytest.raises(CommandError) as stopped:
        call_command("run_benchmark", "--items", str(bank_file), "--provider", "openai", "--base-url", server.base_url,
                     "--model", "m", "--verbosity", "0", stderr=io.StringIO())
    message = str(stopped.value)
    assert message.startswith("no item of bank 'pilot-")
    assert "is keyed to any pvq or higher_pvq or bfi dimension at rho >= 0.3, p < 0.05: nothing to score" in message
    assert "strongest pvq correlation: rho = 0.1, p = 0.4" in message
    assert "lower --threshold" in message and "--families" not in message  # no family has a keyed item
    assert server.counts["requests"] == 0
    assert not Run.objects.exists()


def test_the_message_follows_the_runs_rule(tmp_path, llm_server):
    server = llm_server()
    bank_file = _bank_file(tmp_path, "signed")
    with pytest.raises(CommandError, match=r"at \|rho\| >= 0\.35, p < 0\.01: nothing to score"):
        call_command("run_benchmark", "--items", str(bank_file), "--provider", "openai", "--base-url", server.base_url,
                     "--model", "m", "--mode", "signed", "--threshold", "0.35", "--alpha", "0.01", "--verbosity", "0",
                     stderr=io.StringIO())
    assert server.counts["requests"] == 0


def test_a_family_with_no_keyed_item_stops_the_run_and_families_scores_the_others(tmp_path, llm_server):
    server = llm_server()
    bank_file = _bank_file(tmp_path, "half", keyed={"pvq": 0.5, "higher_pvq": 0.45})
    common = ["run_benchmark", "--items", str(bank_file), "--provider", "openai", "--base-url", server.base_url,
              "--model", "m", "--verbosity", "0"]
    with pytest.raises(CommandError) as stopped:
        call_command(*common, stderr=io.StringIO())
    message = str(stopped.value)
    assert "is keyed to any bfi dimension at rho >= 0.3" in message
    assert "strongest bfi correlation: rho = 0.1, p = 0.4" in message
    assert "score only the families that have keyed items (--families pvq,higher_pvq)" in message
    assert server.counts["requests"] == 0 and not Run.objects.exists()

    out = tmp_path / "out.json"
    call_command(*common, "--families", "pvq,higher_pvq", "--out", str(out), stderr=io.StringIO())
    result = json.loads(out.read_text())
    assert result["status"] == "completed" and result["settings"]["families"] == ["pvq", "higher_pvq"]
    assert result["scores"]["bfi"] == {} and len(result["scores"]["pvq"]) == 10 and len(result["scores"]["higher_pvq"]) == 4
    assert server.counts["answered"] == 4 * 6


def test_families_must_be_measured_by_the_bank(tmp_path, llm_server):
    bank_file = _bank_file(tmp_path, "some", keyed={"pvq": 0.5})
    with pytest.raises(CommandError, match=r"families: bank 'some-\w+' has no correlations for family 'hexaco' "
                                           r"\(it measures: pvq, higher_pvq, bfi\)"):
        call_command("run_benchmark", "--items", str(bank_file), "--provider", "openai", "--base-url",
                     llm_server().base_url, "--model", "m", "--families", "pvq,hexaco", "--verbosity", "0",
                     stderr=io.StringIO())


def test_the_api_refuses_a_run_with_nothing_to_score_with_a_400(tmp_path, llm_server):
    itembank_import(path=_bank_file(tmp_path, "api"), name="api-pilot")
    user = get_user_model().objects.create_superuser("admin", "a@example.org", "pw")
    api = APIClient()
    api.force_authenticate(user)
    server = llm_server()
    response = api.post("/api/v1/runs/", {"itembank": "api-pilot", "provider": "openai", "model": "m",
                                          "base_url": server.base_url}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("no item of bank 'api-pilot' is keyed to any pvq or higher_pvq or bfi")
    assert server.counts["requests"] == 0 and not Run.objects.exists()


def test_score_answers_with_no_keyed_item_stores_nothing(tmp_path):
    bank_file = _bank_file(tmp_path, "imported")
    with pytest.raises(CommandError) as stopped:
        call_command("score_answers", "--answers", _answers_file(tmp_path, bank_file), "--items", str(bank_file),
                     "--model", "m", "--out", str(tmp_path / "out.json"), "--verbosity", "0", stderr=io.StringIO())
    assert "answered in answers.jsonl is keyed to any pvq or higher_pvq or bfi dimension" in str(stopped.value)
    assert not Run.objects.exists() and not ItemBank.objects.exists() and not Answer.objects.exists()
    assert not (tmp_path / "out.json").exists()


def test_a_run_created_before_the_check_fails_at_execution_without_a_request(tmp_path, llm_server):
    """A run stored by an older version (the issue's: left 'running' by the crash) fails on --resume, with why."""
    bank = itembank_import(path=_bank_file(tmp_path, "old"), name="old")
    keyed = itembank_import(path=_bank_file(tmp_path, "keyed", keyed={"pvq": 0.5, "higher_pvq": 0.5, "bfi": 0.5}),
                            name="keyed")
    server = llm_server()
    run = run_create(bank=keyed, provider="openai", model="m", base_url=server.base_url)
    Run.objects.filter(pk=run.pk).update(bank=bank, status=Run.Status.RUNNING)
    with pytest.raises(CommandError) as stopped:
        call_command("run_benchmark", "--resume", str(run.pk), "--verbosity", "0", stderr=io.StringIO())
    assert f"run {run.pk} (m) stopped: no item of bank 'old' is keyed" in str(stopped.value)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "nothing to score" in run.error
    assert server.counts["requests"] == 0


def test_a_run_none_of_whose_keyed_items_parsed_is_failed_not_completed_with_empty_scores(tmp_path, llm_server):
    bank = itembank_import(path=_bank_file(tmp_path, "garbage", keyed={"pvq": 0.5, "higher_pvq": 0.5, "bfi": 0.5}),
                           name="garbage")
    run = run_create(bank=bank, provider="openai", model="m", base_url=llm_server(garbage_every=1).base_url,
                     settings={"min_parse_rate": 0})
    result = run_benchmark_task.delay(run.pk).get()
    run.refresh_from_db()
    assert result["status"] == run.status == Run.Status.FAILED
    assert run.error == ("m: none of the items keyed to a dimension has a parsed answer (0 of 24 answers parsed): "
                         "nothing to score, no scores were published. The raw answers are kept on the run.")
    assert not Score.objects.filter(run=run).exists() and run.answers.count() == 24


def test_a_scoring_error_fails_the_run_with_a_message_instead_of_leaving_it_running(tmp_path, monkeypatch):
    bank = itembank_import(path=_bank_file(tmp_path, "bug", keyed={"pvq": 0.5, "higher_pvq": 0.5, "bfi": 0.5}),
                           name="bug")
    run = run_create(bank=bank, provider="openai", model="m", base_url="http://127.0.0.1:9/v1")
    Answer.objects.bulk_create(Answer(run=run, item=item, prompt_index=index, raw_text="Like me", rating=5)
                               for item in bank.items.all() for index in range(6))

    def broken(*args, **kwargs):
        raise TypeError("operation 'rsub' not supported for dtype 'str'")

    monkeypatch.setattr(scoring, "score_dimensions", broken)
    run = run_finalize(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.finished_at is not None
    assert run.error.startswith(f"scoring run {run.pk} failed (TypeError: operation 'rsub' not supported")
    assert not Score.objects.filter(run=run).exists()


# --- failed and interrupted runs: no public scores, answers for their researchers -----------------


@pytest.fixture
def keyed_bank(tmp_path):
    return itembank_import(path=_bank_file(tmp_path, "vis", keyed={"pvq": 0.5, "higher_pvq": 0.5, "bfi": 0.5},
                                           n_items=6), name="vis")


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("owner", "o@example.org", "pw")


def _failed_run(bank, owner, server) -> Run:
    """A published run stopped by a 401 after 12 answers (answers stored, no scores)."""
    run = run_create(bank=bank, provider="openai", model="failing", base_url=server.base_url, user=owner,
                     settings={"concurrency": 1, "max_attempts": 1})
    with pytest.raises(BenchmarkError):
        run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and 0 < run.answered < run.progress_total and run.is_published
    return run


def _clients(owner):
    public, manager = APIClient(), APIClient()
    manager.force_authenticate(owner)
    page_manager = Client()
    page_manager.force_login(owner)
    return public, manager, Client(), page_manager


def test_a_failed_run_serves_no_scores_publicly_and_its_answers_to_its_researchers(keyed_bank, owner, llm_server):
    run = _failed_run(keyed_bank, owner, llm_server(fail_after=12))
    public, manager, page_public, page_manager = _clients(owner)
    withheld = MSG_SCORES_WITHHELD.format(run_id=run.pk, status="failed")

    scores = public.get(f"/api/v1/runs/{run.pk}/scores/").json()
    assert scores["status"] == "failed" and scores["scores"] == [] and scores["withheld"] == withheld
    detail = public.get(f"/api/v1/runs/{run.pk}/").json()
    assert detail["status"] == "failed" and detail["consistency"] is None
    items = page_public.get(f"/results/runs/{run.pk}/items/?family=pvq&dimension=Benevolence")
    assert items.status_code == 403 and items.json()["detail"] == withheld
    page = page_public.get(f"/results/models/{run.llm_id}/")
    assert page.status_code == 200
    assert 'id="scores-withheld"' in page.content.decode() and 'class="bar-chart"' not in page.content.decode()
    assert page.context["by_family"] == [] and page.context["consistency"] is None
    assert page_public.get(f"/results/models/{run.llm_id}/?format=csv").content.decode().count("\n") == 1  # header only

    mine = manager.get(f"/api/v1/runs/{run.pk}/scores/").json()
    assert mine["withheld"] is None and mine["scores"]  # provisional, from the answers so far
    assert manager.get(f"/api/v1/runs/{run.pk}/").json()["consistency"] is not None
    answers = page_manager.get(f"/results/runs/{run.pk}/items/?family=pvq&dimension=Benevolence")
    assert answers.status_code == 200
    raw = [a["raw_text"] for item in answers.json()["items"] for a in item["answers"]]
    assert raw and set(raw) <= set(run.answers.values_list("raw_text", flat=True))
    own_page = page_manager.get(f"/results/models/{run.llm_id}/")
    assert 'id="scores-provisional"' in own_page.content.decode() and own_page.context["by_family"]


def test_a_run_failed_for_its_parse_rate_is_not_on_the_leaderboard_or_the_compare_page(keyed_bank, owner, llm_server):
    run = run_create(bank=keyed_bank, provider="openai", model="garbage", base_url=llm_server(garbage_every=1).base_url,
                     user=owner)
    run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "minimum parse rate" in run.error
    board = APIClient().get("/api/v1/leaderboard/", {"itembank": "vis"}).json()
    assert board["rows"] == []
    assert Client().get("/results/compare/", {"itembank": "vis"}).context["available"] == []


def test_a_running_run_without_a_heartbeat_is_shown_interrupted_without_scores_and_resumes(
    keyed_bank, owner, llm_server, settings, django_capture_on_commit_callbacks
):
    settings.BENCHMARK_RUN_STALE_SECONDS = 60
    server = llm_server()
    run = run_create(bank=keyed_bank, provider="openai", model="dead", base_url=server.base_url, user=owner)
    item = keyed_bank.items.first()
    Answer.objects.bulk_create(Answer(run=run, item=item, prompt_index=i, raw_text="Like me", rating=5) for i in range(6))
    alive = timezone.now() - timedelta(seconds=30)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, started_at=alive, heartbeat_at=alive)
    public, manager, page_public, _ = _clients(owner)

    # Within the threshold it is running, with live scores.
    assert public.get(f"/api/v1/runs/{run.pk}/").json()["status"] == "running"
    assert public.get(f"/api/v1/runs/{run.pk}/scores/").json()["scores"]

    Run.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=61))
    detail = public.get(f"/api/v1/runs/{run.pk}/").json()
    assert detail["status"] == "interrupted" and detail["consistency"] is None
    run.refresh_from_db()
    assert run.error.startswith("interrupted: no heartbeat from the process running it for more than 60 s")
    assert f"run_benchmark --resume {run.pk}" in run.error
    assert public.get(f"/api/v1/runs/{run.pk}/scores/").json()["scores"] == []
    assert [r["id"] for r in public.get("/api/v1/runs/", {"status": "interrupted"}).json()["results"]] == [run.pk]
    assert public.get("/api/v1/runs/", {"status": "running"}).json()["count"] == 0
    assert page_public.get(f"/results/models/{run.llm_id}/").context["run"].status == "interrupted"
    assert manager.get(f"/api/v1/runs/{run.pk}/scores/").json()["scores"]

    with django_capture_on_commit_callbacks(execute=True):
        run_resume(run=run)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.error == ""
    assert server.counts["answered"] == run.progress_total - 6  # the stored answers were kept


def test_runs_never_started_or_finished_are_not_interrupted(keyed_bank, llm_server):
    old = timezone.now() - timedelta(days=3)
    pending = run_create(bank=keyed_bank, provider="openai", model="a", base_url="http://127.0.0.1:9/v1")
    paused = run_create(bank=keyed_bank, provider="openai", model="b", base_url="http://127.0.0.1:9/v1")
    legacy = run_create(bank=keyed_bank, provider="openai", model="c", base_url="http://127.0.0.1:9/v1")
    Run.objects.filter(pk=paused.pk).update(status=Run.Status.PAUSED, started_at=old, heartbeat_at=old)
    # A run left running by a version without heartbeats counts from when it started.
    Run.objects.filter(pk=legacy.pk).update(status=Run.Status.RUNNING, started_at=old, heartbeat_at=None)
    Run.objects.filter(pk=pending.pk).update(created_at=old)
    assert runs_interrupt_stale(stale_after=3600) == [legacy.pk]
    statuses = dict(Run.objects.values_list("pk", "status"))
    assert statuses == {pending.pk: "pending", paused.pk: "paused", legacy.pk: "interrupted"}


def test_benchmark_reap_reports_the_runs_it_interrupts(keyed_bank):
    run = run_create(bank=keyed_bank, provider="openai", model="reaped", base_url="http://127.0.0.1:9/v1")
    beat = timezone.now() - timedelta(seconds=10)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, started_at=beat, heartbeat_at=beat)
    out = io.StringIO()
    call_command("benchmark_reap", stdout=out, stderr=io.StringIO())  # default threshold 300 s: still alive
    assert out.getvalue() == "" and Run.objects.get(pk=run.pk).status == "running"
    call_command("benchmark_reap", "--stale-after", "5", stdout=out, stderr=io.StringIO())
    assert out.getvalue() == (f"run {run.pk} (reaped on vis) interrupted; resume with: "
                              f"manage.py run_benchmark --resume {run.pk}\n")
    assert Run.objects.get(pk=run.pk).status == "interrupted"
    with pytest.raises(CommandError, match="--stale-after must be 0 or more seconds, got -1"):
        call_command("benchmark_reap", "--stale-after", "-1")


def test_a_live_worker_keeps_its_run_alive_and_takes_back_a_run_marked_interrupted(keyed_bank, llm_server, settings):
    """A threshold set too low marks a live run interrupted: the worker's next heartbeat makes it running again."""
    settings.BENCHMARK_HEARTBEAT_SECONDS = 0  # every batch and every pause check writes the heartbeat
    run = run_create(bank=keyed_bank, provider="openai", model="alive", base_url=llm_server(latency=0.01).base_url,
                     settings={"concurrency": 1})
    seen = []

    def progress(current: Run) -> None:
        row = Run.objects.get(pk=current.pk)
        seen.append((row.status, row.heartbeat_at))
        # Interrupted at the first progress call, before any request: the runner may deliver every answer in
        # one batch (it flushes up to 64 at a time), so later calls could come only after the last heartbeat.
        if not any(status == "interrupted" for status, _ in seen):
            runs_interrupt_stale(stale_after=0)
            seen.append(("interrupted", Run.objects.get(pk=current.pk).heartbeat_at))

    run_execute(run.pk, progress=progress)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.error == ""
    assert ("interrupted" in [status for status, _ in seen]) and seen[-1][0] == "running"
    beats = [beat for _, beat in seen]
    assert all(beats) and beats == sorted(beats) and beats[-1] > beats[0]


def test_the_check_uses_the_banks_stored_selection_and_families_leave_the_protocol_alone(tmp_path, llm_server):
    """A bank that carries its selection is checked on it, not on a rule: BFI pairs that pass rho >= 0.3, p < .05
    but were not selected by the bank's analysis stop the run; an override rule keys them."""
    records = synthetic_items(4, seed=5)
    for record in records:
        for correlation in record["correlations"]:
            correlation["rho"], correlation["p_value"] = 0.5, 0.001
            correlation["n"], correlation["p_adjusted"] = 40, None
            correlation["selected"] = correlation["family"] != "bfi"
    header = {"itembank_format": 2, "selection": {"threshold": 0.3, "alpha": 0.05, "fdr": False}}
    bank_file = tmp_path / "stored.jsonl"
    bank_file.write_text("".join(json.dumps(line) + "\n" for line in [header, *records]), encoding="utf-8")
    server = llm_server()
    common = ["run_benchmark", "--items", str(bank_file), "--provider", "openai", "--base-url", server.base_url,
              "--model", "m", "--verbosity", "0"]
    with pytest.raises(CommandError) as stopped:
        call_command(*common, stderr=io.StringIO())
    assert ("is keyed to any bfi dimension at the bank's stored selection (rho >= 0.3, p < 0.05): nothing to score"
            in str(stopped.value))
    assert server.counts["requests"] == 0 and not Run.objects.exists()

    some, every = tmp_path / "some.json", tmp_path / "every.json"
    call_command(*common, "--families", "pvq,higher_pvq", "--out", str(some), stderr=io.StringIO())
    call_command(*common, "--threshold", "0.3", "--out", str(every), stderr=io.StringIO())  # a rule: BFI is keyed
    some, every = json.loads(some.read_text()), json.loads(every.read_text())
    assert some["protocol"]["selection"]["source"] == "bank" and every["protocol"]["selection"]["source"] == "rule"
    assert some["scores"]["bfi"] == {} and len(every["scores"]["bfi"]) == 5

    bank = ItemBank.objects.get()
    runs = [run_create(bank=bank, provider="openai", model="m", base_url=server.base_url, settings=settings)
            for settings in ({"threshold": 0.3}, {"threshold": 0.3, "families": ["pvq"]})]
    assert runs[0].protocol_digest == runs[1].protocol_digest and runs[1].settings["families"] == ["pvq"]
    assert "families" not in runs[1].protocol

"""Runs as the web/API and Celery use them: run_create, tasks, chunks shared by workers, partial results, pause."""

import time

import pytest

from benchmark.models import Run
from benchmark.selectors import items_for_dimension, run_report, run_scores, runs_completed, scores_for_runs
from benchmark.services import BenchmarkError, run_create, run_execute, run_finalize, run_pause, run_resume
from benchmark.tasks import run_benchmark_chunk_task, run_benchmark_task

pytestmark = pytest.mark.django_db


def _create(bank, server, **kwargs):
    return run_create(bank=bank, provider="openai", model="m", base_url=server.base_url,
                      settings={"concurrency": 4, **kwargs.pop("settings", {})}, **kwargs)


def test_run_create_stores_the_condition_and_settings(bank, llm_server):
    run = _create(bank, llm_server(), persona="age-80+")
    assert run.status == Run.Status.PENDING and run.progress_total == 72
    assert run.condition == "persona:age-80+" and run.system_prompt == "**Your Profile**: You are 80+ years old."
    assert run.settings["temperature"] == 0 and run.settings["persona"] == "age-80+"
    assert run.llm.name == "m" and run.llm.base_url == run.base_url


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"persona": "age-80+", "steer": "Power"}, BenchmarkError.ONE_CONDITION),
    ({"persona": "martian"}, "unknown persona 'martian'"),
    ({"steer": "Kindness"}, "unknown steering value 'Kindness'"),
    ({"settings": {"mode": "both"}}, "setting 'mode'"),
    ({"settings": {"colour": "red"}}, "setting 'colour': unknown setting"),
])
def test_run_create_rejects_bad_input(bank, llm_server, kwargs, message):
    with pytest.raises(BenchmarkError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _create(bank, llm_server(), **kwargs)
    assert not Run.objects.exists()


def test_the_task_runs_a_run_to_completion_eagerly(bank, llm_server):
    run = _create(bank, llm_server())
    result = run_benchmark_task.delay(run.pk).get()
    run.refresh_from_db()
    assert result["status"] == "completed" and run.status == Run.Status.COMPLETED
    assert run.celery_task_id and run.finished_at and run.scores.exists()
    assert list(runs_completed()) == [run]
    assert scores_for_runs([run.pk], "pvq").count() == run.scores.filter(family="pvq").count()


def test_chunks_of_items_share_a_run_and_the_last_one_scores_it(bank, llm_server):
    server = llm_server()
    run = _create(bank, server)
    item_pks = list(bank.items.values_list("pk", flat=True))
    run_benchmark_chunk_task.delay(run.pk, item_pks[:5]).get()
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.progress_done == 30 and not run.scores.exists()
    partial = run_scores(run)  # partial results are readable while the run is going
    assert partial and all(row["n_items"] >= 0 for row in partial)
    run_benchmark_chunk_task.delay(run.pk, item_pks[5:]).get()
    run_benchmark_chunk_task.delay(run.pk, item_pks[3:8]).get()  # a re-delivered chunk costs nothing
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.progress_done == 72 and run.scores.exists()
    assert server.counts["requests"] == 72


def test_a_failing_run_is_recorded_and_can_be_resumed(bank, llm_server, django_capture_on_commit_callbacks):
    server = llm_server(fail_after=10)
    run = _create(bank, server)
    result = run_benchmark_task.delay(run.pk).get()
    run.refresh_from_db()
    assert result["status"] == "failed" and "key revoked" in result["error"]
    assert run.status == Run.Status.FAILED and run.progress_done == 10
    server.behaviour.fail_after = 0
    with django_capture_on_commit_callbacks(execute=True):
        run_resume(run=run)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and server.counts["answered"] == 72


def test_a_paused_run_stops_and_keeps_its_answers(bank, llm_server):
    # 72 answers one at a time take 3.6 s or more; the runner asks whether the run was paused once a
    # second and then abandons the request in flight, so a pause after the first batch stops it early.
    server = llm_server(latency=0.05)
    run = _create(bank, server, settings={"concurrency": 1})

    def pause_after_first_batch(current):
        if current.progress_done:
            run_pause(run=current)

    run_execute(run.pk, progress=pause_after_first_batch)
    run.refresh_from_db()
    assert run.status == Run.Status.PAUSED and 0 < run.progress_done < 72


def test_finalize_leaves_an_incomplete_run_alone(bank, llm_server):
    run = _create(bank, llm_server())
    assert run_finalize(run.pk).status == Run.Status.PENDING


def test_the_report_has_the_issue_shape(bank, llm_server):
    run = _create(bank, llm_server())
    run_execute(run.pk)
    run.refresh_from_db()
    report = run_report(run)
    assert {"model", "provider", "settings", "parse", "scores", "items"} <= set(report)
    assert set(report["parse"]) >= {"answered", "parsed", "failed"}


def test_items_for_dimension_follows_the_scoring_rule(bank):
    from benchmark.models import ItemCorrelation

    positive = set(items_for_dimension(bank, "pvq", "Power").values_list("item_id", flat=True))
    signed = set(items_for_dimension(bank, "pvq", "Power", mode="signed").values_list("item_id", flat=True))
    rows = ItemCorrelation.objects.filter(item__bank=bank, family="pvq", dimension="Power", p_value__lt=0.05)
    assert positive == {c.item.item_id for c in rows if c.rho >= 0.3}
    assert signed == {c.item.item_id for c in rows if abs(c.rho) >= 0.3}
    assert positive <= signed


def test_a_chunk_still_queued_when_the_run_was_paused_leaves_it_paused(bank, llm_server):
    server = llm_server()
    run = _create(bank, server)
    run_pause(run=run)
    run_benchmark_chunk_task.delay(run.pk, list(bank.items.values_list("pk", flat=True))).get()
    run.refresh_from_db()
    assert run.status == Run.Status.PAUSED and server.counts["requests"] == 0


def test_a_chunk_still_queued_after_another_chunk_failed_keeps_the_failure_visible(bank, llm_server):
    server = llm_server(api_key="right")  # every request gets a permanent 401
    run = _create(bank, server)
    item_pks = list(bank.items.values_list("pk", flat=True))
    first = run_benchmark_chunk_task.delay(run.pk, item_pks[:6]).get()
    assert first["status"] == "failed"
    server.behaviour.api_key = None
    run_benchmark_chunk_task.delay(run.pk, item_pks[6:]).get()
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "HTTP 401" in run.error
    assert run.progress_done == 0


def test_a_paused_run_continues_with_run_benchmark_resume(bank, llm_server):
    from django.core.management import call_command

    server = llm_server()
    run = _create(bank, server)
    run_pause(run=run)
    call_command("run_benchmark", "--resume", str(run.pk), "--skip-checks", "--verbosity", "0")
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and server.counts["requests"] == 72


def test_the_pause_check_queries_the_database_at_most_once_a_second_not_per_answer(bank, llm_server):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run = _create(bank, llm_server(latency=0.05), settings={"concurrency": 2})  # 72 answers: 1.8 s or more
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        run_execute(run.pk)
    elapsed = time.monotonic() - started
    run.refresh_from_db()
    pause_checks = [q["sql"] for q in queries.captured_queries if "'paused'" in q["sql"] and "SELECT" in q["sql"]]
    assert run.status == Run.Status.COMPLETED and run.answered == 72
    assert 1 <= len(pause_checks) <= elapsed + 1  # 72 answers; before, one query each

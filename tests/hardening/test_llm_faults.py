"""The LLM API down, erroring, revoked mid-run or answering garbage: a clear stop, no partial scores.

Against the benchmark's local test server (benchmark/providers/testserver.py) on 127.0.0.1.
"""

import pytest

from benchmark.models import Run, Score
from benchmark.services import run_create, run_resume
from benchmark.tasks import run_benchmark_task

pytestmark = pytest.mark.django_db


def start_run(bank, server, **settings):
    run = run_create(
        bank=bank, provider="openai", model="m", base_url=server.base_url,
        settings={"concurrency": 4, "max_attempts": 2, **settings},
    )
    return run, run_benchmark_task.delay(run.pk).get()


def test_an_api_that_refuses_connections_fails_the_run_with_the_cause_and_no_scores(bank, llm_server):
    server = llm_server()
    server.stop()
    run, result = start_run(bank, server)
    run.refresh_from_db()
    assert result["status"] == Run.Status.FAILED
    assert run.status == Run.Status.FAILED
    assert "connection error" in run.error and "gave up after 2 attempts" in run.error
    assert not Score.objects.filter(run=run).exists()


def test_an_api_answering_only_server_errors_fails_the_run_after_its_retries(bank, llm_server):
    run, result = start_run(bank, llm_server(error_every=1))
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "500" in run.error
    assert not Score.objects.filter(run=run).exists()


def test_a_key_revoked_mid_run_keeps_the_answers_publishes_nothing_and_resumes_from_the_cache(
    bank, llm_server, django_capture_on_commit_callbacks
):
    server = llm_server(fail_after=20)
    run, result = start_run(bank, server)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and run.error
    assert 0 < run.progress_done < run.progress_total
    assert not Score.objects.filter(run=run).exists()

    server.behaviour.fail_after = 0
    with django_capture_on_commit_callbacks(execute=True):
        run_resume(run=run)
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and Score.objects.filter(run=run).exists()
    # Answers fetched before the failure came from the cache: every prompt was answered once.
    assert server.counts["answered"] == run.progress_total


def test_an_api_answering_only_garbage_does_not_complete_the_run(bank, llm_server):
    run, _ = start_run(bank, llm_server(garbage_every=1))
    run.refresh_from_db()
    assert run.parsed == 0 and run.failed == run.answered
    assert run.status == Run.Status.FAILED
    assert not Score.objects.filter(run=run).exists()
    assert "could be read as one of the six phrases" in run.error


def test_a_run_whose_answers_mostly_parse_is_scored(bank, llm_server):
    run, _ = start_run(bank, llm_server(garbage_every=3))
    run.refresh_from_db()
    assert 0 < run.failed < run.parsed
    assert run.status == Run.Status.COMPLETED
    assert Score.objects.filter(run=run).exists()


def test_the_minimum_parse_rate_is_a_setting_of_the_run(bank, llm_server):
    run, _ = start_run(bank, llm_server(garbage_every=3), min_parse_rate=0.9)
    run.refresh_from_db()
    assert run.parsed / run.answered < 0.9
    assert run.status == Run.Status.FAILED
    assert "below the minimum parse rate 90%" in run.error
    assert not Score.objects.filter(run=run).exists()

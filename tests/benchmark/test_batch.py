"""run_benchmark --batch against local servers speaking the OpenAI Batch API and Anthropic Message Batches.

A batch run sends the same bodies as a run requested one by one, so on the same model it gives the
same answers and scores; its batch id is stored before polling, so a restart polls that batch and
never submits it twice; requests a batch returns no answer for leave the run failed with the reason
and a resume requests them again.
"""

import json
import signal
import sqlite3

import pytest
from django.core.management import CommandError, call_command

from benchmark.models import Answer, Run
from benchmark.providers.batchserver import BatchBehaviour, BatchTestServer
from benchmark.providers.testserver import ServerBehaviour
from benchmark.services import BenchmarkError, run_execute_batch
from tests.benchmark.processes import kill_when, manage, start, subprocess_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch_server():
    servers = []

    def start(**batch) -> BatchTestServer:
        server = BatchTestServer(ServerBehaviour(), BatchBehaviour(**batch)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _base_url(server, provider):
    return server.base_url if provider == "openai" else server.anthropic_base_url


def _args(server, provider, *extra, model="claude-3-5-haiku-20241022"):
    return ["run_benchmark", "--itembank", "test-bank", "--provider", provider, "--base-url", _base_url(server, provider),
            "--model", model, "--skip-checks", "--verbosity", "0", *extra]


def _batch(server, provider, out, *extra):
    call_command(*_args(server, provider, "--batch", "--batch-poll-seconds", "0.01", "--out", str(out), *extra))
    return json.loads(out.read_text())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_run_gives_the_scores_of_the_same_run_requested_one_by_one(bank, batch_server, llm_server, tmp_path, provider):
    server = batch_server(in_progress_polls=2)
    batched = _batch(server, provider, tmp_path / "batch.json")
    assert server.counts["batch_submissions"] == 1 and server.counts["batch_polls"] == 3
    assert server.counts["requests"] == 0  # nothing went one by one
    assert server.counts["file_uploads"] == (1 if provider == "openai" else 0)

    plain_server = llm_server()  # another base URL: nothing comes from the completion cache
    out = tmp_path / "plain.json"
    call_command(*_args(plain_server, provider, "--concurrency", "4", "--out", str(out)))
    plain = json.loads(out.read_text())
    assert plain_server.counts["requests"] == 72
    assert batched["scores"] == plain["scores"] and batched["scores"]["pvq"]
    assert batched["protocol"] == plain["protocol"]
    assert batched["parse"] == plain["parse"] and batched["parse"]["answered"] == 72

    run = Run.objects.get(pk=batched["run_id"])
    assert run.status == Run.Status.COMPLETED and run.batch["state"] == "ended" and run.batch["id"]
    assert run.batch["requests"] == 72 and run.batch["unanswered"] == 0
    expected_stop = "stop" if provider == "openai" else "end_turn"
    assert set(run.answers.values_list("finish_reason", flat=True)) == {expected_stop}


class Stop(Exception):
    """The process stops (a restart) after the first status poll."""


def _stop_after_first_poll(state):
    raise Stop


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_restart_while_polling_resumes_the_stored_batch_without_submitting_again(bank, batch_server, tmp_path, provider):
    server = batch_server(in_progress_polls=3)
    run = _created_run(server, provider)
    with pytest.raises(Stop):
        run_execute_batch(run.pk, poll_seconds=0.01, on_status=_stop_after_first_poll)
    run.refresh_from_db()
    assert run.status == Run.Status.RUNNING and run.batch["state"] == "submitted" and run.answers.count() == 0
    assert server.counts["batch_submissions"] == 1

    out = tmp_path / "out.json"
    call_command("run_benchmark", "--resume", str(run.pk), "--batch-poll-seconds", "0.01", "--skip-checks",
                 "--verbosity", "0", "--out", str(out))
    run.refresh_from_db()
    assert server.counts["batch_submissions"] == 1  # polled, not submitted again
    assert run.status == Run.Status.COMPLETED and run.answers.count() == 72
    assert json.loads(out.read_text())["scores"]["pvq"]


def _created_run(server, provider):
    """A --batch run created by the command but stopped before it polls (the process dies after submitting)."""
    from benchmark.services import itembank_resolve, run_create

    run = run_create(bank=itembank_resolve(name="test-bank"), provider=provider, model="claude-3-5-haiku-20241022",
                     base_url=_base_url(server, provider), settings={})
    Run.objects.filter(pk=run.pk).update(batch={"use": True})
    return run


def test_the_same_command_again_after_a_restart_continues_the_submitted_batch(bank, batch_server, tmp_path):
    server = batch_server(in_progress_polls=3)
    run = _created_run(server, "openai")
    with pytest.raises(Stop):
        run_execute_batch(run.pk, poll_seconds=0.01, on_status=_stop_after_first_poll)

    document = _batch(server, "openai", tmp_path / "out.json")
    assert server.counts["batch_submissions"] == 1 and server.counts["file_uploads"] == 1
    assert Run.objects.count() == 1  # the repeated command continued the first run instead of starting another
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and document["parse"]["answered"] == 72


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_errored_requests_fail_the_run_with_the_reason_and_a_resume_requests_only_them(bank, batch_server, tmp_path, provider):
    server = batch_server(error_every=10)
    with pytest.raises(CommandError) as caught:
        _batch(server, provider, tmp_path / "out.json")
    message = str(caught.value)
    assert "left 7 of 72 requests without an answer" in message and "internal error" in message
    assert "--resume" in message
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED and run.answers.count() == 65 and not run.scores.exists()
    assert run.batch["unanswered"] == 7

    call_command("run_benchmark", "--resume", str(run.pk), "--skip-checks", "--verbosity", "0")  # one by one
    run.refresh_from_db()
    assert server.counts["requests"] == 7 and server.counts["batch_submissions"] == 1
    assert run.status == Run.Status.COMPLETED and Answer.objects.filter(run=run).count() == 72


def test_a_resume_with_batch_submits_only_the_missing_requests_in_a_new_batch(bank, batch_server, tmp_path):
    server = batch_server(error_every=10)
    with pytest.raises(CommandError):
        _batch(server, "anthropic", tmp_path / "out.json")
    run = Run.objects.get()
    first = run.batch["id"]
    server.batch_behaviour.error_every = 0
    call_command("run_benchmark", "--resume", str(run.pk), "--batch", "--batch-poll-seconds", "0.01", "--skip-checks",
                 "--verbosity", "0")
    run.refresh_from_db()
    assert server.counts["batch_submissions"] == 2 and run.batch["requests"] == 7 and run.batch["previous"] == [first]
    assert run.status == Run.Status.COMPLETED and run.answers.count() == 72


def test_a_batch_that_fails_as_a_whole_fails_the_run_with_the_providers_reason(bank, batch_server, tmp_path):
    server = batch_server(fail_validation=True)
    with pytest.raises(CommandError) as caught:
        _batch(server, "openai", tmp_path / "out.json")
    assert "failed: invalid_request: The batch input file is not valid. (line 1)" in str(caught.value)
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED and run.batch["state"] == "failed" and run.answers.count() == 0


def test_a_results_url_on_another_host_is_not_followed_with_the_key(bank, batch_server, tmp_path):
    server = batch_server(foreign_results_url="http://169.254.169.254")
    document = _batch(server, "anthropic", tmp_path / "out.json")
    assert document["parse"]["answered"] == 72 and server.counts["batch_results"] == 1


def test_a_provider_without_a_batch_api_is_refused_before_any_request(bank, llm_server, tmp_path):
    server = llm_server()
    args = ["run_benchmark", "--itembank", "test-bank", "--provider", "gemini", "--base-url", server.gemini_base_url,
            "--model", "gemini-2.5-flash", "--batch", "--skip-checks", "--verbosity", "0"]
    with pytest.raises(CommandError) as caught:
        call_command(*args)
    assert "--batch needs a provider with a batch API (anthropic, openai)" in str(caught.value)
    assert server.counts["requests"] == 0


def test_a_server_without_batch_routes_fails_the_run_with_its_answer(bank, llm_server, tmp_path):
    server = llm_server()  # OpenAI-compatible chat completions only (a vLLM, say): POST /v1/files is a 404
    with pytest.raises(CommandError) as caught:
        call_command(*_args(server, "openai", "--batch", "--batch-poll-seconds", "0.01"))
    assert "HTTP 404" in str(caught.value)
    assert Run.objects.get().status == Run.Status.FAILED


def test_run_execute_batch_raises_a_benchmark_error_naming_the_run(bank, batch_server):
    server = batch_server(fail_validation=True)
    run = _created_run(server, "openai")
    with pytest.raises(BenchmarkError, match=f"run {run.pk} "):
        run_execute_batch(run.pk, poll_seconds=0.01)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_process_killed_while_polling_is_continued_by_the_same_command_without_a_second_submission(
        tmp_path, bank_file, batch_server):
    """Real processes on a throw-away SQLite file (as tests/benchmark/test_killed_run.py): kill -9, then run again."""
    database = tmp_path / "batch.sqlite3"
    env = subprocess_env(f"sqlite:///{database}")
    migrated = manage(env, "migrate", "benchmark", "--skip-checks", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    server = batch_server(in_progress_polls=10**9)  # the provider is still working when the process dies
    command = ["run_benchmark", "--items", str(bank_file), "--provider", "openai", "--base-url", server.base_url,
               "--model", "killed-batch", "--batch", "--batch-poll-seconds", "0.05", "--skip-checks", "--verbosity", "0"]
    kill_when(start(env, *command), lambda: server.counts["batch_polls"] >= 2, waiting_for="two status polls")
    assert server.counts["batch_submissions"] == 1

    server.batch_behaviour.in_progress_polls = 0  # the batch ends while nobody is polling
    again = manage(env, *command)
    assert again.returncode == 0, again.stderr
    assert server.counts["batch_submissions"] == 1 and server.counts["file_uploads"] == 1
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT COUNT(*) FROM benchmark_run").fetchone()[0] == 1
        assert connection.execute("SELECT COUNT(*) FROM benchmark_answer").fetchone()[0] == 72
        assert connection.execute("SELECT status FROM benchmark_run").fetchone()[0] == "completed"



def _claimed_by_another(run, *, seconds_ago: float) -> None:
    """Another process claimed the run's submission ``seconds_ago`` and has not stored a batch id yet."""
    from datetime import timedelta

    from django.utils import timezone

    claimed_at = (timezone.now() - timedelta(seconds=seconds_ago)).isoformat()
    Run.objects.filter(pk=run.pk).update(batch={"use": True, "state": "submitting", "claimed_at": claimed_at,
                                                "before": {"use": True}})


def test_a_process_continuing_a_run_another_is_submitting_waits_for_that_batch_and_polls_it(
        bank, batch_server, monkeypatch):
    import benchmark.services as services

    server = batch_server(in_progress_polls=3)
    run = _created_run(server, "openai")
    with pytest.raises(Stop):  # the other process's batch, really submitted
        run_execute_batch(run.pk, poll_seconds=0.01, on_status=_stop_after_first_poll)
    theirs = Run.objects.get(pk=run.pk).batch
    _claimed_by_another(run, seconds_ago=1)  # ... but seen here before its id was stored
    waits, sleep = [], services._sleep_alive

    def wait(seconds, beat):
        if not waits:  # while this process waits, the other one stores its batch id
            Run.objects.filter(pk=run.pk).update(batch=theirs)
        waits.append(seconds)
        sleep(seconds, beat)

    monkeypatch.setattr(services, "_sleep_alive", wait)
    run_execute_batch(run.pk, poll_seconds=0.01)
    run.refresh_from_db()
    assert waits and server.counts["batch_submissions"] == 1  # polled theirs, never submitted its own
    assert run.status == Run.Status.COMPLETED and run.answers.count() == 72 and run.batch["id"] == theirs["id"]


def test_a_claim_left_by_a_process_that_died_while_submitting_is_taken_over(bank, batch_server, settings):
    settings.BENCHMARK_RUN_STALE_SECONDS = 300
    server = batch_server()
    run = _created_run(server, "openai")
    _claimed_by_another(run, seconds_ago=301)
    run_execute_batch(run.pk, poll_seconds=0.01)
    run.refresh_from_db()
    assert server.counts["batch_submissions"] == 1 and run.status == Run.Status.COMPLETED and run.answers.count() == 72
    assert run.batch["state"] == "ended" and "claimed_at" not in run.batch and run.batch["previous"] == []


def test_a_run_paused_while_waiting_for_another_process_submits_nothing(bank, batch_server, monkeypatch):
    import benchmark.services as services

    server = batch_server()
    run = _created_run(server, "openai")
    _claimed_by_another(run, seconds_ago=1)
    monkeypatch.setattr(services, "_sleep_alive",
                        lambda seconds, beat: Run.objects.filter(pk=run.pk).update(status=Run.Status.PAUSED))
    run_execute_batch(run.pk, poll_seconds=0.01)
    run.refresh_from_db()
    assert server.counts["batch_submissions"] == 0 and run.status == Run.Status.PAUSED
    assert run.batch["state"] == "submitting"  # still the other process's claim


def test_a_submission_that_fails_gives_the_claim_back(bank):
    server = BatchTestServer(ServerBehaviour(api_key="the-right-key"), BatchBehaviour()).start()
    try:
        run = _created_run(server, "openai")
        with pytest.raises(BenchmarkError):
            run_execute_batch(run.pk, api_key="a-wrong-key", poll_seconds=0.01)
    finally:
        server.stop()
    run.refresh_from_db()
    assert server.counts["batch_submissions"] == 0 and server.counts["401"] >= 1
    assert run.status == Run.Status.FAILED and run.batch == {"use": True}  # a resume submits again, at once


def test_a_run_left_submitting_whose_answers_are_all_cached_completes_without_a_batch(bank, batch_server, tmp_path):
    server = batch_server()
    first = _batch(server, "openai", tmp_path / "first.json")  # fills the completion cache
    assert server.counts["batch_submissions"] == 1
    run = _created_run(server, "openai")  # the same requests again: all in the cache
    _claimed_by_another(run, seconds_ago=3600)
    run_execute_batch(run.pk, poll_seconds=0.01)
    run.refresh_from_db()
    assert server.counts["batch_submissions"] == 1 and run.status == Run.Status.COMPLETED
    assert run.answers.count() == first["parse"]["answered"] == 72

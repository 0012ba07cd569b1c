"""run_benchmark end to end against the local OpenAI-compatible server: output, cache, resume, errors."""

import json

import pytest
from django.core.management import CommandError, call_command

from benchmark.models import Answer, Completion, Run
from benchmark.presets import persona_prompt, steering_prompt
from benchmark.providers.testserver import ServerBehaviour

pytestmark = pytest.mark.django_db


def _run(server, *extra, out=None, bank="test-bank", provider="openai"):
    base_url = server.base_url if provider == "openai" else server.anthropic_base_url
    args = ["run_benchmark", "--itembank", bank, "--provider", provider, "--base-url", base_url,
            "--model", "test-model", "--concurrency", "4", "--max-attempts", "6", "--skip-checks", "--verbosity", "0",
            *extra]
    if out:
        args += ["--out", str(out)]
    call_command(*args)
    return Run.objects.latest("id")


def test_it_writes_scores_parse_counts_and_the_six_answers_per_item(bank, llm_server, tmp_path):
    server = llm_server(garbage_every=10)
    out = tmp_path / "out.json"
    run = _run(server, out=out)
    document = json.loads(out.read_text())
    assert document["model"] == "test-model" and document["provider"] == "openai"
    assert document["settings"]["threshold"] == 0.3 and document["settings"]["mode"] == "positive"
    parse = document["parse"]
    assert parse["answered"] == 72 and parse["parsed"] + parse["failed"] == 72 and parse["failed"] >= 7
    assert set(document["scores"]) == {"pvq", "higher_pvq", "bfi"} and document["scores"]["pvq"]
    for entry in document["scores"]["pvq"].values():
        assert set(entry) == {"score", "mean", "sd", "n_items", "ci_low", "ci_high"}
    assert len(document["items"]) == 12
    first = document["items"][0]
    assert len(first["answers"]) == 6 and len(first["ratings"]) == 6
    assert run.status == Run.Status.COMPLETED and run.scores.exists()


def test_scores_in_the_output_are_recomputed_by_hand_from_the_stored_answers(bank, llm_server, tmp_path):
    out = tmp_path / "out.json"
    _run(llm_server(), out=out)
    document = json.loads(out.read_text())
    means = {item["item_id"]: item["mean"] for item in document["items"]}
    keyed: dict = {}
    for item in bank.items.all():
        for c in item.correlations.all():
            if c.rho is not None and c.rho >= 0.3 and c.p_value < 0.05:
                keyed.setdefault(c.family, {}).setdefault(c.dimension, []).append(item.item_id)
    for family, dimensions in keyed.items():
        family_items = {i for items in dimensions.values() for i in items}
        family_mean = sum(means[i] for i in family_items) / len(family_items)
        for dimension, items in dimensions.items():
            expected = sum(means[i] for i in items) / len(items) - family_mean
            assert document["scores"][family][dimension]["score"] == pytest.approx(expected)


def test_the_output_reports_prompt_consistency_recomputed_from_its_items(bank, llm_server, tmp_path):
    out = tmp_path / "out.json"
    _run(llm_server(garbage_every=7), out=out)
    document = json.loads(out.read_text())
    consistency = document["consistency"]
    complete = [item["ratings"] for item in document["items"] if None not in item["ratings"]]
    assert consistency["complete_items"] == len(complete)
    assert consistency["identical_share"] == pytest.approx(sum(len(set(r)) == 1 for r in complete) / len(complete))
    assert {"order_spearman", "mean_abs_shift", "template_profiles", "template_correlations"} <= set(consistency)


def test_a_second_run_is_answered_from_the_cache_with_no_requests(bank, llm_server):
    server = llm_server()
    first = _run(server)
    sent = server.counts["requests"]
    assert sent == 72
    second = _run(server)
    assert server.counts["requests"] == sent
    assert second.status == Run.Status.COMPLETED and second.answered == 72
    assert Completion.objects.count() == 72
    assert list(second.scores.values_list("dimension", "score")) == list(first.scores.values_list("dimension", "score"))


def test_a_killed_run_resumes_sending_only_the_missing_requests(bank, llm_server):
    server = llm_server(fail_after=25)
    with pytest.raises(CommandError, match=r"(?s)test-model.*HTTP 401.*key revoked.*--resume \d+"):
        _run(server)
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED and "key revoked" in run.error
    assert run.answers.count() == 25
    server.behaviour = ServerBehaviour()  # the key works again
    server.counts.clear()
    call_command("run_benchmark", "--resume", str(run.pk), "--skip-checks", "--verbosity", "0")
    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED and run.answers.count() == 72
    assert server.counts["requests"] == 72 - 25


def test_rate_limits_and_server_errors_do_not_lose_answers(bank, llm_server):
    server = llm_server(rate_limit_every=4, retry_after="0", error_every=7)
    run = _run(server, "--max-attempts", "30")
    assert run.status == Run.Status.COMPLETED and run.answered == 72
    assert server.counts["429"] and server.counts["500"]


def test_a_permanent_error_names_the_model_and_the_cause(bank, llm_server):
    server = llm_server(api_key="secret")
    with pytest.raises(CommandError, match=r"run \d+ \(test-model\) stopped: openai model 'test-model': HTTP 401"):
        _run(server)
    assert Run.objects.get().status == Run.Status.FAILED


def test_anthropic_runs_complete_through_the_messages_api(bank, llm_server):
    server = llm_server()
    run = _run(server, provider="anthropic")
    assert run.status == Run.Status.COMPLETED and server.counts["answered"] == 72


def test_persona_and_steering_presets_become_the_system_prompt(bank, llm_server):
    server = llm_server()
    persona = _run(server, "--persona", "gender-male")
    steer = _run(server, "--steer", "self_direction")
    assert persona.condition == "persona:gender-male" and persona.system_prompt == persona_prompt("gender-male")
    assert steer.condition == "steer:Self-Direction" and steer.system_prompt == steering_prompt("Self-Direction")
    body = Answer.objects.filter(run=steer).first().completion.request
    assert body["messages"][0] == {"role": "system", "content": steering_prompt("Self-Direction")}
    assert server.counts["requests"] == 144  # different prompts: nothing shared through the cache


def test_items_can_come_straight_from_a_file(db, bank_file, llm_server, tmp_path):
    server = llm_server()
    out = tmp_path / "out.json"
    call_command("run_benchmark", "--items", str(bank_file), "--provider", "openai", "--base-url", server.base_url,
                 "--model", "m", "--out", str(out), "--skip-checks", "--verbosity", "0")
    assert json.loads(out.read_text())["parse"]["answered"] == 72


def test_logprobs_add_an_expected_rating_score(bank, llm_server, tmp_path):
    out = tmp_path / "out.json"
    _run(llm_server(), "--logprobs", out=out)
    document = json.loads(out.read_text())
    assert document["logprob_scores"]["pvq"]
    assert Answer.objects.filter(expected_rating__isnull=False).count() == 72


@pytest.mark.parametrize(("args", "message"), [
    (["--itembank", "nope", "--provider", "openai", "--model", "m"], "no item bank named 'nope'"),
    (["--itembank", "test-bank", "--provider", "openai"], "missing --model"),
    (["--itembank", "test-bank", "--provider", "openai", "--model", "m", "--threshold", "2"], "threshold"),
    (["--resume", "999"], "no run with id 999"),
    (["--itembank", "test-bank", "--provider", "openai", "--model", "m", "--out", "/nonexistent-dir/out.json"],
     "--out /nonexistent-dir/out.json: directory /nonexistent-dir does not exist"),
])
def test_bad_arguments_get_a_clear_message(bank, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_benchmark", *args, "--skip-checks")


def test_the_output_always_has_the_three_families_even_when_a_bank_keys_no_item_to_one(db, tmp_path, llm_server):
    lines = [json.dumps({"item_id": f"i{k}", "source": "sharegpt", "title": None, "query": f"q{k}", "response": f"r{k}",
                         "correlations": [{"family": "pvq", "dimension": "Power", "rho": 0.5, "p_value": 0.01, "n": 40}]})
             for k in range(3)]
    path = tmp_path / "pvq-only.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.json"
    call_command("run_benchmark", "--items", str(path), "--provider", "openai", "--base-url", llm_server().base_url,
                 "--model", "m", "--out", str(out), "--skip-checks", "--verbosity", "0")
    scores = json.loads(out.read_text())["scores"]
    assert list(scores) == ["pvq", "higher_pvq", "bfi"]
    assert list(scores["pvq"]) == ["Power"] and scores["higher_pvq"] == {} and scores["bfi"] == {}

"""The scoring protocol: canonical, stable digest that changes with every component; on every run, in OUT.json."""

import hashlib
import json

import pytest
from django.core.management import call_command

from benchmark import protocol
from benchmark.models import Run
from benchmark.parsing import PARSER_VERSION
from benchmark.prompts import PROMPT_SET

PINNED = "21a8dab3df42bc237a6644db437e2dd2e23fde0066cfe7d16227e41be7c41a0f"
BASE = {
    "bank_name": "bank", "bank_version": "1",
    "selection": protocol.selection_rule(threshold=0.3, alpha=0.05, reason=protocol.REASON_NO_STORED_SELECTION),
    "mode": "positive", "temperature": 0.0, "max_tokens": 64, "provider_params": {}, "parser": PARSER_VERSION,
}


def test_the_digest_is_the_sha256_of_the_sorted_compact_json():
    fields = protocol.protocol_build(**BASE)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert protocol.protocol_digest(fields) == hashlib.sha256(text.encode()).hexdigest()
    assert fields["prompts"] == PROMPT_SET and fields["parser"] == "strict-1"


def test_the_digest_is_stable_across_key_order_and_number_spelling():
    first = protocol.protocol_build(**BASE)
    second = protocol.protocol_build(**{**BASE, "temperature": 0, "max_tokens": 64.0, "bank_version": 1,
                                        "provider_params": {}})
    reordered = dict(reversed(list(first.items())))
    assert protocol.protocol_digest(first) == protocol.protocol_digest(second) == protocol.protocol_digest(reordered)
    assert protocol.protocol_digest(first) == protocol.protocol_digest(json.loads(json.dumps(first)))


def test_the_digest_of_a_fixed_protocol_does_not_drift():
    # Pinned: a digest stored on a run must mean the same protocol in every later release.
    fields = protocol.protocol_build(**{**BASE, "parser": "strict-1", "prompts": "value-portrait-g2"})
    assert protocol.protocol_digest(fields) == PINNED


@pytest.mark.parametrize(("change", "value"), [
    ("bank_name", "other bank"),
    ("bank_version", "2"),
    ("selection", protocol.selection_rule(threshold=0.4, alpha=0.05)),
    ("selection", protocol.selection_rule(threshold=0.3, alpha=0.01)),
    ("selection", protocol.selection_rule(threshold=0.3, alpha=0.05, fdr=True)),
    ("selection", protocol.selection_from_bank({"threshold": 0.3, "alpha": 0.05, "fdr": False})),
    ("mode", "signed"),
    ("temperature", 0.7),
    ("max_tokens", 512),
    ("provider_params", {"top_p": 0.9}),
    ("parser", "strict-2"),
    ("prompts", "another-prompt-set"),
])
def test_the_digest_changes_when_any_component_changes(change, value):
    before = protocol.protocol_digest(protocol.protocol_build(**BASE))
    after = protocol.protocol_digest(protocol.protocol_build(**{**BASE, change: value}))
    assert before != after


def test_the_paper_protocol_is_recognised_and_summarised_without_an_endpoint():
    fields = protocol.protocol_build(**BASE)
    assert protocol.is_paper_protocol(fields)
    assert not protocol.is_paper_protocol(protocol.protocol_build(**{**BASE, "temperature": 1.0}))
    assert not protocol.is_paper_protocol(protocol.protocol_build(
        **{**BASE, "selection": protocol.selection_rule(threshold=0.3, alpha=0.05, fdr=True)}))
    summary = protocol.protocol_summary(fields)
    assert "bank v1" in summary and "temperature 0" in summary and "max 64 tokens" in summary and "parser strict-1" in summary


@pytest.mark.django_db
def test_every_run_carries_its_protocol_however_it_is_created(bank):
    from benchmark.models import LLM

    llm = LLM.objects.create(provider="openai", name="direct")
    run = Run.objects.create(bank=bank, llm=llm, provider="openai", model="direct",
                             settings={"threshold": 0.4, "temperature": 0.2, "max_tokens": 10})
    assert run.protocol_digest == protocol.protocol_digest(run.protocol)
    assert run.protocol["selection"] == protocol.selection_rule(threshold=0.4, alpha=0.05,
                                                                reason=protocol.REASON_NO_STORED_SELECTION)
    assert Run.objects.get(pk=run.pk).protocol_digest == run.protocol_digest


@pytest.mark.django_db
def test_out_json_has_the_protocol_and_its_digest(bank, llm_server, tmp_path):
    server = llm_server()
    out = tmp_path / "out.json"
    call_command("run_benchmark", "--itembank", "test-bank", "--provider", "openai", "--base-url", server.base_url,
                 "--model", "m", "--concurrency", "4", "--temperature", "0.5", "--max-tokens", "32",
                 "--out", str(out), "--verbosity", "0")
    run = Run.objects.latest("id")
    document = json.loads(out.read_text())["protocol"]
    digest = document.pop("digest")
    assert digest == run.protocol_digest == protocol.protocol_digest(document)
    assert document == {
        "version": 1, "itembank": {"name": "test-bank", "version": "1"},
        "selection": {"source": "rule", "threshold": 0.3, "alpha": 0.05, "fdr": False,
                      "reason": "bank has no stored selection"},
        "mode": "positive", "prompts": PROMPT_SET, "temperature": 0.5, "max_tokens": 32, "provider_params": {},
        "parser": PARSER_VERSION,
    }
    assert server.base_url not in json.dumps(document)  # the endpoint identifies the model, not the protocol


@pytest.mark.django_db
def test_score_answers_records_its_protocol(bank, tmp_path):
    items = list(bank.items.values_list("item_id", flat=True))
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"item_id": item, "prompt_index": index, "text": "Like me"}) + "\n"
                               for item in items for index in range(6)))
    out = tmp_path / "out.json"
    call_command("score_answers", "--answers", str(answers), "--itembank", "test-bank", "--model", "elsewhere",
                 "--threshold", "0.2", "--out", str(out), "--verbosity", "0")
    document = json.loads(out.read_text())["protocol"]
    assert document["selection"] == {"source": "rule", "threshold": 0.2, "alpha": 0.05, "fdr": False, "reason": "override"}
    assert document["temperature"] is None and document["max_tokens"] is None  # unknown for answers produced elsewhere
    assert document["digest"] == Run.objects.latest("id").protocol_digest


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_runs_their_protocol():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("benchmark", "0005_finish_reason")], [("benchmark", "0006_run_protocol_and_bank_selection")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    bank = old.get_model("benchmark", "ItemBank").objects.create(name="old-bank", version="3")
    llm = old.get_model("benchmark", "LLM").objects.create(provider="openai", name="m")
    OldRun = old.get_model("benchmark", "Run")
    run = OldRun.objects.create(bank=bank, llm=llm, provider="openai", model="m",
                                settings={"threshold": 0.35, "alpha": 0.05, "mode": "signed", "temperature": 0.0,
                                          "max_tokens": 64, "params": {"top_p": 1}})
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    migrated = Run.objects.get(pk=run.pk)
    assert migrated.protocol == protocol.protocol_build(
        bank_name="old-bank", bank_version="3",
        selection=protocol.selection_rule(threshold=0.35, alpha=0.05, reason=protocol.REASON_NO_STORED_SELECTION),
        mode="signed", temperature=0.0, max_tokens=64, provider_params={"top_p": 1}, parser=PARSER_VERSION)
    assert migrated.protocol_digest == protocol.protocol_digest(migrated.protocol)

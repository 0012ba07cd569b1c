"""The spine of the platform: participants complete the demo study → analyze → export_items →
import_itembank → run_benchmark scores a model served by a local OpenAI-compatible server.

Participants answer with a planted structure: a latent trait drives both their Benevolence
portraits (PVQ-21 items 12 and 18) and their item ratings, so Benevolence must be the dimension
the analysis selects items for; everything else they answer is noise.
"""

import io
import json
import random

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from benchmark.models import BankItem, ItemBank
from benchmark.providers.testserver import LLMTestServer, ServerBehaviour
from psychometrics.models import Analysis
from surveys import plan as plans
from surveys.instruments import BFI10, PVQ21
from surveys.models import Participant, Rating
from tests.surveys.helpers import arrive, current_page

PARTICIPANTS = 60
BENEVOLENCE_PORTRAITS = {12, 18}


def _clip(value: float, low: int, high: int) -> str:
    return str(int(min(high, max(low, round(value)))))


def _planted_answers(participant: Participant, latent: float, rng: random.Random) -> dict:
    page = current_page(participant)
    data = {"step": str(participant.step)}
    if page.kind == plans.CONSENT:
        data["consent"] = "yes"
    elif page.kind == plans.ABOUT:
        data.update(gender=rng.choice(["female", "male"]), age_band="25-34")
    elif page.kind == plans.ITEMS:
        data.update({f"item-{pk}": _clip(3.5 + 1.6 * latent + rng.gauss(0, 0.6), 1, 6) for pk in page.item_ids})
    elif page.kind == plans.PVQ21_PAGE:
        for q in PVQ21:
            number = q["question"]
            value = 3.5 + 1.6 * latent + rng.gauss(0, 0.4) if number in BENEVOLENCE_PORTRAITS else rng.uniform(1, 6)
            data[f"pvq-{number}"] = _clip(value, 1, 6)
    elif page.kind == plans.BFI10_PAGE:
        data.update({f"bfi-{q['question']}": str(rng.randint(1, 5)) for q in BFI10})
    for check in page.checks:
        data[f"check-{check.key}"] = str(check.expected)
    return data


@pytest.mark.django_db(transaction=True)
def test_a_completed_study_becomes_an_item_bank_that_scores_a_model(tmp_path):
    call_command("seed_demo", stdout=io.StringIO())
    rng = random.Random(2025)

    for i in range(PARTICIPANTS):
        client = Client()
        url, participant = arrive(client, "demo", pid=f"{0xabc000000000000000000000 + i:024x}")
        latent = rng.gauss(0, 1)
        while participant.status == Participant.Status.ACTIVE:
            response = client.post(url, _planted_answers(participant, latent, rng))
            assert response.status_code == 303, response.content.decode()[:1000]
            participant.refresh_from_db()
        assert participant.status == Participant.Status.COMPLETED

    n_items = Rating.objects.values("item").distinct().count()
    assert n_items > 0

    call_command("analyze", "demo", "--min-seconds", "0", stdout=io.StringIO())
    analysis = Analysis.objects.latest("id")
    assert analysis.status == Analysis.Status.SUCCEEDED

    bank_file = tmp_path / "demo-items.jsonl"
    call_command("export_items", "demo", "--out", str(bank_file), stdout=io.StringIO())
    lines = [json.loads(line) for line in bank_file.read_text().splitlines()]
    assert len(lines) == n_items
    benevolence = [
        c for line in lines for c in line["correlations"] if c["family"] == "pvq" and c["dimension"] == "Benevolence"
    ]
    assert len(benevolence) == n_items
    selected = [c for c in benevolence if c["rho"] is not None and c["rho"] >= 0.3 and c["p_value"] < 0.05]
    assert len(selected) >= n_items // 2, "the planted Benevolence signal was not recovered"

    call_command("import_itembank", str(bank_file), "--name", "demo-bank", stdout=io.StringIO())
    bank = ItemBank.objects.get(name="demo-bank")
    assert BankItem.objects.filter(bank=bank).count() == n_items

    out = tmp_path / "run.json"
    with LLMTestServer(ServerBehaviour()) as server:
        call_command(
            "run_benchmark", "--itembank", "demo-bank", "--provider", "openai", "--base-url", server.base_url,
            "--model", "local-test-model", "--concurrency", "8", "--out", str(out),
            stdout=io.StringIO(), stderr=io.StringIO(),
        )
        assert server.counts["answered"] == n_items * 6

    result = json.loads(out.read_text())
    assert result["model"] == "local-test-model"
    assert result["parse"]["answered"] == n_items * 6
    assert result["parse"]["parsed"] + result["parse"]["failed"] == n_items * 6
    score = result["scores"]["pvq"]["Benevolence"]
    assert score["n_items"] == len(selected)
    by_item = {item["item_id"]: item for item in result["items"]}
    ratings = [np.mean([a for a in by_item[c_item]["ratings"] if a is not None]) for c_item in
               [line["item_id"] for line in lines if any(
                   c["dimension"] == "Benevolence" and c["rho"] is not None and c["rho"] >= 0.3 and c["p_value"] < 0.05
                   for c in line["correlations"])]]
    assert score["mean"] == pytest.approx(np.mean(ratings), abs=1e-9)

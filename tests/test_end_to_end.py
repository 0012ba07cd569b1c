"""The spine of the platform: participants complete the demo study → analyze → export_items →
import_itembank → run_benchmark scores a model served by a local OpenAI-compatible server.

Participants answer with a planted structure: a latent trait drives both their Benevolence
portraits (PVQ-21 items 12 and 18) and their item ratings, so Benevolence must be the dimension
the analysis selects items for; everything else they answer is noise.
"""

import io
import json
import random
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.test import Client

from benchmark.models import BankItem, ItemBank
from benchmark.providers.testserver import LLMTestServer, ServerBehaviour
from psychometrics.models import Analysis
from surveys import plan as plans
from surveys.models import Participant, Rating
from tests.surveys.helpers import arrive, current_page

PARTICIPANTS = 60


def _clip(value: float, low: int, high: int) -> str:
    return str(int(min(high, max(low, round(value)))))


def _careful_respondents():
    """Real GSS 2012 PVQ-21 answers and norm-simulated BFI-10 answers (the screens' reference samples), with
    each respondent's standardised Benevolence score (MRAT-centred) as the latent that drives their ratings."""
    from psychometrics.stats.careless import reference_answers
    from psychometrics.stats.scoring import score_pvq21

    pvq = reference_answers("PVQ-21")
    benevolence = score_pvq21(pd.DataFrame(pvq, columns=range(1, 22)))["Benevolence"].to_numpy()
    latent = (benevolence - benevolence.mean()) / benevolence.std()
    return pvq, reference_answers("BFI-10"), latent


def _planted_answers(participant: Participant, respondent: tuple, rng: random.Random) -> dict:
    pvq, bfi, latent = respondent
    page = current_page(participant)
    data = {"step": str(participant.step)}
    if page.kind == plans.CONSENT:
        data["consent"] = "yes"
    elif page.kind == plans.ABOUT:
        data.update(gender=rng.choice(["female", "male"]), age_band="25-34")
    elif page.kind == plans.ITEMS:
        data.update({f"item-{pk}": _clip(3.5 + 1.6 * latent + rng.gauss(0, 0.6), 1, 6) for pk in page.item_ids})
    elif page.kind == plans.PVQ21_PAGE:
        data.update({f"pvq-{q}": str(int(pvq[q - 1])) for q in page.questions})
    elif page.kind == plans.BFI10_PAGE:
        data.update({f"bfi-{q}": str(int(bfi[q - 1])) for q in page.questions})
    for check in page.checks:
        data[f"check-{check.key}"] = str(check.expected)
    return data


@pytest.mark.django_db(transaction=True)
def test_a_completed_study_becomes_an_item_bank_that_scores_a_model(tmp_path):
    call_command("seed_demo", stdout=io.StringIO())
    rng = random.Random(2025)
    pvq_pool, bfi_pool, latent_pool = _careful_respondents()
    # Typical respondents: the first 60 GSS respondents whose answers are not straight lines.
    chosen = [i for i in range(len(pvq_pool)) if np.ptp(pvq_pool[i]) > 0][:PARTICIPANTS]

    for i, who in enumerate(chosen):
        client = Client()
        url, participant = arrive(client, "demo", pid=f"{0xabc000000000000000000000 + i:024x}")
        respondent = (pvq_pool[who], bfi_pool[who], latent_pool[who])
        while participant.status == Participant.Status.ACTIVE:
            response = client.post(url, _planted_answers(participant, respondent, rng))
            assert response.status_code == 303, response.content.decode()[:1000]
            participant.refresh_from_db()
        assert participant.status == Participant.Status.COMPLETED
        # A normal time for the demo study (a few minutes), instead of the test client's milliseconds.
        Participant.objects.filter(pk=participant.pk).update(
            arrived_at=participant.completed_at - timedelta(seconds=rng.gauss(240, 40))
        )

    n_items = Rating.objects.values("item").distinct().count()
    assert n_items > 0

    call_command("analyze", "demo", stdout=io.StringIO())  # the default rules: no --min-seconds needed
    analysis = Analysis.objects.latest("id")
    assert analysis.status == Analysis.Status.SUCCEEDED
    people = analysis.summary["participants"]
    assert people["kept"] >= 0.9 * PARTICIPANTS, people  # careful participants are kept

    bank_file = tmp_path / "demo-items.jsonl"
    call_command("export_items", "demo", "--out", str(bank_file), stdout=io.StringIO())
    header, *lines = [json.loads(line) for line in bank_file.read_text().splitlines()]
    assert header["selection"]["threshold"] == 0.3 and header["selection"]["fdr"] is False
    assert len(lines) == n_items
    benevolence = [
        c for line in lines for c in line["correlations"] if c["family"] == "pvq" and c["dimension"] == "Benevolence"
    ]
    assert len(benevolence) == n_items
    selected = [c for c in benevolence if c["rho"] is not None and c["rho"] >= 0.3 and c["p_value"] < 0.05]
    assert len(selected) >= n_items // 2, "the planted Benevolence signal was not recovered"

    call_command("import_itembank", str(bank_file), "--name", "demo-bank", "--raters-analysis", str(analysis.pk),
                 stdout=io.StringIO())
    bank = ItemBank.objects.get(name="demo-bank")
    assert BankItem.objects.filter(bank=bank).count() == n_items
    _check_the_raters_profile_is_stored_with_the_bank(bank, analysis)

    out = tmp_path / "run.json"
    with LLMTestServer(ServerBehaviour()) as server:
        call_command(
            "run_benchmark", "--itembank", "demo-bank", "--provider", "openai", "--base-url", server.base_url,
            # A 12-item pilot need not key every family (the BFI often only negatively): score the Schwartz values.
            "--model", "local-test-model", "--concurrency", "8", "--families", "pvq", "--out", str(out),
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


def _check_the_raters_profile_is_stored_with_the_bank(bank, analysis):
    """The kept participants' mean centred profile, by hand from their stored PVQ-21 answers, is the
    bank's raters' profile and the leaderboard's default target for it."""
    from psychometrics.models import ParticipantDecision
    from results.selectors import leaderboard
    from surveys.models import InstrumentAnswer

    kept = list(ParticipantDecision.objects.filter(analysis=analysis, kept=True).values_list("participant_id", flat=True))
    rows = InstrumentAnswer.objects.filter(participant_id__in=kept, instrument="pvq21").values_list(
        "participant_id", "question", "answer")
    answers = pd.DataFrame(list(rows), columns=["participant", "question", "answer"]).pivot(
        index="participant", columns="question", values="answer")
    benevolence = (answers[[12, 18]].mean(axis=1) - answers.mean(axis=1)).mean()
    board = leaderboard(bank=bank)
    assert board.target.key == "raters" and board.target.kind == "centred"
    assert board.target.values["Benevolence"] == pytest.approx(benevolence, abs=1e-6)
    assert board.target.source.endswith(f"analysis {analysis.pk}: {len(kept)} kept participants")

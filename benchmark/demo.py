"""Demo benchmark data for ``manage.py seed_demo``: a synthetic item bank and runs of synthetic models, scored
through the real path.

Nothing here is research data. The item bank is :func:`benchmark.synthetic.synthetic_items` (made-up texts
and correlations) imported with ``itembank_import`` like any bank file; each demo model is a deterministic
stand-in with a value profile that answers every (item, prompt) with one of the six phrases, written as an
ANSWERS.jsonl file and scored by ``run_import_answers`` (what ``score_answers --publish`` runs): the parser,
the bank's stored selection, the scores, their bootstrap intervals, the higher-order values and the
consistency across prompts are all computed, none is written here. Offline: no request leaves the process.

Models are named ``demo-…`` with provider ``demo`` and organisation "Synthetic demo model", so a visitor
never takes them for published results.
"""

import json
import tempfile
from pathlib import Path

import numpy as np
from django.db import transaction

from benchmark.models import LLM, ItemBank, Run
from benchmark.prompts import PHRASES, PROMPT_COUNT, RATINGS
from benchmark.protocol import PAPER_MAX_TOKENS, PAPER_TEMPERATURE
from benchmark.services import itembank_import, run_import_answers
from benchmark.synthetic import synthetic_items, write_itembank
from psychometrics.stats.dimensions import ALL_DIMENSIONS

DEMO_BANK_NAME = "Demo item bank (synthetic)"
DEMO_BANK_VERSION = "1"
DEMO_BANK_ITEMS = 240
DEMO_BANK_SEED = 16
DEMO_PROVIDER = "demo"
DEMO_ORGANISATION = "Synthetic demo model"
# Each demo model leans towards some values (a weight per dimension, 0 elsewhere); how strongly its answers
# follow the items' correlations, and how much each answer varies from prompt to prompt.
DEMO_MODELS = {
    "demo-universalist": {"weights": {"Universalism": 1.0, "Benevolence": 0.8, "Self-Direction": 0.5,
                                      "Self-Transcendence": 1.0, "Power": -0.8, "Self-Enhancement": -0.6},
                          "noise": 0.6},
    "demo-achiever": {"weights": {"Achievement": 1.0, "Power": 0.7, "Stimulation": 0.4, "Self-Enhancement": 1.0,
                                  "Tradition": -0.6, "Conservation": -0.4},
                      "noise": 0.8},
    "demo-traditionalist": {"weights": {"Tradition": 1.0, "Conformity": 0.9, "Security": 0.7, "Conservation": 1.0,
                                        "Stimulation": -0.7, "Openness to Change": -0.6},
                            "noise": 1.0},
}
STRENGTH = 6.0
# The demo answers stand for runs under the paper's protocol (temperature 0, its token limit), declared as a
# researcher declares how imported answers were generated (score_answers --temperature --max-tokens).
DEMO_GENERATION = {"temperature": PAPER_TEMPERATURE, "max_tokens": PAPER_MAX_TOKENS}


def demo_bank_records() -> list[dict]:
    """The synthetic items, renamed ``demo-NNNN`` so no id passes for an item of a real bank."""
    records = synthetic_items(DEMO_BANK_ITEMS, seed=DEMO_BANK_SEED)
    for index, record in enumerate(records):
        record["item_id"] = f"demo-{index:04d}"
        record["source"] = f"synthetic-{record['source']}"
    return records


def demo_answers(model: str, records: list[dict]) -> list[dict]:
    """The demo model's answer to every (item, prompt): the phrase of its rating, from its profile and noise."""
    spec = DEMO_MODELS[model]
    weights = np.array([spec["weights"].get(dimension, 0.0) for _, dimension in ALL_DIMENSIONS])
    rng = np.random.default_rng(sum(model.encode()))
    by_rating = {rating: phrase for phrase, rating in RATINGS.items()}
    answers = []
    for record in records:
        rho = np.array([c["rho"] for c in record["correlations"]])
        leaning = 3.5 + STRENGTH * float(rho @ weights) / max(float(np.abs(weights).sum()), 1.0) * 2
        for prompt_index in range(PROMPT_COUNT):
            rating = int(np.clip(np.rint(leaning + rng.normal(0, spec["noise"])), 1, len(PHRASES)))
            answers.append({"item_id": record["item_id"], "prompt_index": prompt_index, "text": by_rating[rating]})
    return answers


def _demo_bank(records: list[dict], folder: Path) -> ItemBank:
    bank = ItemBank.objects.filter(name=DEMO_BANK_NAME).first()
    if bank is not None:
        return bank
    path = folder / "demo-itembank.jsonl"
    # No header: the runs select items by the paper's rule (ρ ≥ 0.3, p < 0.05), the default selection.
    write_itembank(path, records)
    return itembank_import(
        path=path, name=DEMO_BANK_NAME, version=DEMO_BANK_VERSION,
        description="Synthetic items and correlations for the demo (benchmark.synthetic): not research data.",
    )


def _declare_generation(run: Run) -> None:
    """A demo run seeded before the demo declared its generation settings gets them, and its protocol anew."""
    if all(run.settings.get(key) == value for key, value in DEMO_GENERATION.items()):
        return
    run.settings = {**run.settings, **DEMO_GENERATION}
    run.protocol_digest = ""  # recomputed on save
    run.save(update_fields=["settings"])


@transaction.atomic
def seed_demo_benchmark() -> str:
    """Create the demo item bank and one scored, published baseline run per demo model. Idempotent."""
    records = demo_bank_records()
    created = 0
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        bank = _demo_bank(records, folder)
        for model in DEMO_MODELS:
            run = Run.objects.filter(bank=bank, provider=DEMO_PROVIDER, model=model, status=Run.Status.COMPLETED).first()
            if run is not None:
                _declare_generation(run)
                continue
            path = folder / f"{model}.jsonl"
            path.write_text("".join(json.dumps(a) + "\n" for a in demo_answers(model, records)), encoding="utf-8")
            run, _ = run_import_answers(bank=bank, path=path, model=model, provider=DEMO_PROVIDER, publish=True,
                                        settings=DEMO_GENERATION)
            if run.status != Run.Status.COMPLETED:
                raise RuntimeError(f"demo run {run.pk} of {model} is {run.status}: {run.error}")
            created += 1
    LLM.objects.filter(provider=DEMO_PROVIDER, name__in=list(DEMO_MODELS)).update(organization=DEMO_ORGANISATION)
    return (f"Demo benchmark: {len(DEMO_MODELS)} synthetic models ({created} new runs) scored from their answers on "
            f"item bank {DEMO_BANK_NAME!r} ({bank.items.count()} synthetic items).")

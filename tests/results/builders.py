"""Test data for the results app, built through the real services (import, scoring), not hand-made scores."""

import hashlib
from pathlib import Path

from benchmark.models import PROMPT_COUNT, Answer, HumanReference, Run
from benchmark.paper_data import ess_reference_rows
from benchmark.services import itembank_import, references_store, run_create, run_finalize
from benchmark.synthetic import synthetic_items, write_itembank


def imported_bank(tmp_path: Path, *, name: str = "test-bank", n_items: int = 120, seed: int = 1, is_private: bool = False):
    """An item bank imported from a synthetic JSONL file with ``import``'s own service."""
    path = write_itembank(tmp_path / f"{name}.jsonl", synthetic_items(n_items, seed=seed))
    return itembank_import(path=path, name=name, is_private=is_private)


def rating_for(model: str, condition: str, item_id: str, prompt_index: int, bias: dict[str, int] | None = None) -> int:
    """A deterministic 1-6 rating: a hash of (model, condition, item) plus an optional per-source shift."""
    digest = hashlib.sha256(f"{model}|{condition}|{item_id}".encode()).digest()
    base = 1 + digest[0] % 6
    shift = (bias or {}).get(item_id.split("-")[0], 0)
    return max(1, min(6, base + shift + (1 if prompt_index == 5 and digest[1] % 3 == 0 else 0)))


def completed_run(bank, model: str, *, persona: str | None = None, bias: dict[str, int] | None = None,
                  unparsed_every: int = 0, provider: str = "openai", base_url: str = "http://127.0.0.1:9/v1",
                  settings: dict | None = None) -> Run:
    """A run of ``model`` with an answer to every item × prompt, scored by ``run_finalize``."""
    run = run_create(bank=bank, provider=provider, model=model, base_url=base_url, persona=persona, settings=settings)
    answers = []
    for number, item in enumerate(bank.items.order_by("id")):
        for index in range(PROMPT_COUNT):
            rating = rating_for(model, run.condition, item.item_id, index, bias)
            unparsed = unparsed_every and (number * PROMPT_COUNT + index) % unparsed_every == 0
            answers.append(Answer(run=run, item=item, prompt_index=index, rating=None if unparsed else rating,
                                  raw_text="I cannot say." if unparsed else f"answer {rating}"))
    Answer.objects.bulk_create(answers)
    return run_finalize(run.pk)


def ess_references() -> list[HumanReference]:
    """The paper's ESS groups (Tables 9-12), stored with benchmark's own rows (idempotent)."""
    return references_store(ess_reference_rows())

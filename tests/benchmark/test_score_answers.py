"""score_answers: answers given elsewhere stored as an imported run, parsed and scored like a run's.

The Table 5 test builds, for two of the paper's models, an item bank and the six published raw
output files per model (``<model>_<v1…v3[_reversed]>_results.json``) whose answers — written in the
messy styles models use — average to the model's Table 5 row; the files go through
``convert_published`` and ``score_answers``, and the scores in OUT.json must equal the printed row.
"""

import csv
import json
import re

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from benchmark.convert_published import VARIANTS, convert
from benchmark.models import Answer, ItemBank, Run
from benchmark.prompts import PHRASES, RATINGS
from results.services import published_read

PHRASE_OF = {rating: phrase for phrase, rating in RATINGS.items()}
PVQ = ["Universalism", "Benevolence", "Conformity", "Tradition", "Security",
       "Power", "Achievement", "Hedonism", "Stimulation", "Self-Direction"]
ITEMS_PER_DIMENSION = 50  # 300 answers a dimension: any two-decimal mean is an exact rating total
# The styles answers come in; the last would be read as 1 by a longest-phrase parser.
STYLES = [
    "{Phrase}",
    "**{Phrase}**",
    "«{Phrase}»",
    "Answer: {phrase}",
    "<think>\nIs it very much like me, or not like me at all? Weighing it.\n</think>\n\n{Phrase}",
    "I would say this response is {phrase}, since it matches how I think.",
    "{Phrase}.\n\nExplanation: parts of the wording are not like me at all in tone.",
]
NEGATED = ["It doesn't sound like me", "This is nothing like me", "Not really like me", "Hardly like me"]


def _bank_records() -> list[dict]:
    records = []
    dimensions = [*PVQ, "Anchor"]  # "Anchor": items of the pvq family that set its baseline
    for number, dimension in enumerate(dimensions):
        for option in range(ITEMS_PER_DIMENSION):
            records.append({"item_id": f"{number}-{option}", "source": "dearabby", "title": None, "query": "q",
                            "response": "r", "correlations": [
                                {"family": "pvq", "dimension": dimension, "rho": 0.5, "p_value": 0.001, "n": 46}]})
    for option in range(len(NEGATED)):  # keyed to nothing: their unparsed answers count only in the parse rate
        records.append({"item_id": f"99-{option}", "source": "lmsys", "title": None, "query": "q", "response": "r",
                        "correlations": [{"family": "pvq", "dimension": "Power", "rho": 0.1, "p_value": 0.5, "n": 46}]})
    return records


def _ratings_with_total(total: int, count: int, rng) -> np.ndarray:
    base, extra = divmod(total, count)
    ratings = np.full(count, base)
    ratings[:extra] += 1
    assert ratings.min() >= 1 and ratings.max() <= 6
    return rng.permutation(ratings)


def _published_outputs(directory, model: str, row: dict[str, float], seed: int) -> None:
    """Six published-format files whose answers give ``row`` as the model's scores."""
    rng = np.random.default_rng(seed)
    n_answers = ITEMS_PER_DIMENSION * 6
    # Dimension means 3.5 + s_d and anchor mean 3.5 - sum(s): the family baseline is exactly 3.5.
    totals = [round(n_answers * (3.5 + row[d])) for d in PVQ] + [round(n_answers * (3.5 - sum(row.values())))]
    per_variant = {variant: [] for variant in VARIANTS}
    for number, total in enumerate(totals):
        ratings = _ratings_with_total(total, n_answers, rng).reshape(ITEMS_PER_DIMENSION, 6)
        for option in range(ITEMS_PER_DIMENSION):
            for variant, index in VARIANTS.items():
                phrase = PHRASE_OF[int(ratings[option, index])]
                style = STYLES[rng.integers(len(STYLES))]
                text = style.format(phrase=phrase, Phrase=phrase[0].upper() + phrase[1:])
                per_variant[variant].append({"portrait_id": number, "option_id": option, "raw_response": text})
    for option, text in enumerate(NEGATED):
        for variant in VARIANTS:
            per_variant[variant].append({"portrait_id": 99, "option_id": option, "raw_response": text})
    for variant, records in per_variant.items():
        (directory / f"{model}_{variant}_results.json").write_text(json.dumps(records), encoding="utf-8")


@pytest.fixture
def paper_bank(db, tmp_path):
    from benchmark.services import itembank_import
    from benchmark.synthetic import write_itembank

    return itembank_import(path=write_itembank(tmp_path / "paper.jsonl", _bank_records()), name="paper-bank")


@pytest.mark.django_db
@pytest.mark.parametrize(("model", "seed"), [("gpt-4o-2024-05-13", 1), ("claude-3-opus", 2)])
def test_published_raw_answers_reproduce_the_table_5_row(paper_bank, tmp_path, model, seed):
    table5 = published_read()
    row = table5[(table5["table"] == "5") & (table5["model"] == model)].set_index("dimension")["score"].to_dict()
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    _published_outputs(outputs, model, row, seed)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps(a) + "\n" for a in convert(outputs, model)), encoding="utf-8")
    out, parsed_out = tmp_path / "out.json", tmp_path / "parsed.csv"
    call_command("score_answers", answers=str(answers), itembank="paper-bank", model=model, out=str(out),
                 parsed_out=str(parsed_out), verbosity=0)

    report = json.loads(out.read_text())
    scores = {dimension: values["score"] for dimension, values in report["scores"]["pvq"].items()}
    assert {d: round(scores[d], 2) for d in PVQ} == pytest.approx(row, abs=1e-9)
    assert {d: scores[d] for d in PVQ} == pytest.approx(row, abs=1e-9)
    total = (11 * ITEMS_PER_DIMENSION + len(NEGATED)) * 6
    assert report["parse"] == {"answered": total, "parsed": total - len(NEGATED) * 6, "failed": len(NEGATED) * 6,
                               "rate": pytest.approx((total - 24) / total)}
    assert report["settings"]["threshold"] == 0.3 and report["settings"]["mode"] == "positive"
    assert report["consistency"]["items"] == 11 * ITEMS_PER_DIMENSION + len(NEGATED)
    run = Run.objects.get(pk=report["run_id"])
    assert run.source == Run.Source.IMPORTED and not run.is_published and run.provider == "imported"
    with parsed_out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == total
    negated = [r for r in rows if r["item_id"].startswith("99-")]
    assert {r["rating"] for r in negated} == {""} and all("stands before" in r["reason"] for r in negated)


def _write_answers(path, lines: list) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), "utf-8")
    return str(path)


@pytest.mark.django_db
@pytest.mark.parametrize(("bad", "message"), [
    ({"item_id": "nope", "prompt_index": 0, "text": "Like me"}, "line 2: unknown item_id 'nope'"),
    ({"item_id": "ITEM", "prompt_index": 6, "text": "Like me"}, "line 2: prompt_index must be an integer 0-5, got 6"),
    ({"item_id": "ITEM", "prompt_index": True, "text": "Like me"}, "line 2: prompt_index must be an integer 0-5"),
    ({"item_id": "ITEM", "prompt_index": 0, "text": "Like me"}, "line 2: duplicate answer for item 'ITEM' prompt 0 (first on line 1)"),
    ({"item_id": "ITEM", "prompt_index": 1}, "line 2: missing text"),
    ({"item_id": "ITEM", "prompt_index": 1, "text": "x", "finish_reason": 3}, "line 2: finish_reason must be a string or null"),
    ({"item_id": "ITEM", "prompt_index": 1, "text": "x", "score": 3}, "line 2: unknown key(s) score"),
    ("{not json", "line 2: invalid JSON"),
])
def test_a_bad_line_is_named_and_nothing_is_stored(bank, tmp_path, bad, message):
    item = bank.items.first().item_id
    bad = json.loads(json.dumps(bad).replace("ITEM", item)) if isinstance(bad, dict) else bad
    path = _write_answers(tmp_path / "answers.jsonl", [{"item_id": item, "prompt_index": 0, "text": "Like me"}, bad])
    with pytest.raises(CommandError, match="answers.jsonl " + re.escape(message.replace("ITEM", item))):
        call_command("score_answers", answers=path, itembank=bank.name, model="m", out=str(tmp_path / "o.json"), verbosity=0)
    assert not Run.objects.exists() and not Answer.objects.exists()


@pytest.mark.django_db
def test_a_bad_file_with_items_imports_no_bank_either(bank_file, tmp_path):
    path = _write_answers(tmp_path / "answers.jsonl", [{"item_id": "nope", "prompt_index": 0, "text": "Like me"}])
    with pytest.raises(CommandError, match=r"answers.jsonl line 1: unknown item_id"):
        call_command("score_answers", answers=path, items=str(bank_file), model="m", out=str(tmp_path / "o.json"), verbosity=0)
    assert not ItemBank.objects.exists()


def _full_answers(bank, style=lambda rating: PHRASE_OF[rating]):
    lines = []
    for number, item in enumerate(bank.items.order_by("id")):
        for index in range(6):
            rating = 1 + (number + (index % 3)) % 6
            lines.append({"item_id": item.item_id, "prompt_index": index, "text": style(rating), "finish_reason": "stop"})
    return lines


@pytest.mark.django_db
def test_publish_shows_the_run_with_its_consistency_on_the_model_page_and_in_the_api(bank, tmp_path, client):
    path = _write_answers(tmp_path / "answers.jsonl", _full_answers(bank))
    out = tmp_path / "out.json"
    call_command("score_answers", answers=path, itembank=bank.name, model="imported-model", provider="vllm-local",
                 out=str(out), publish=True, threshold=0.2, mode="signed", verbosity=0)
    report = json.loads(out.read_text())
    run = Run.objects.get(pk=report["run_id"])
    assert run.is_published and run.status == Run.Status.COMPLETED and run.provider == "vllm-local"
    assert run.settings["threshold"] == 0.2 and run.settings["mode"] == "signed"
    # Ratings repeat with period 3 over prompts: prompts k and k+3 agree, so the option order does not matter.
    assert report["consistency"]["order_spearman"]["rho"] == pytest.approx(1.0)
    assert report["consistency"]["identical_share"] == 0.0
    detail = client.get(f"/api/v1/runs/{run.pk}/").json()
    assert detail["consistency"]["order_spearman"]["rho"] == pytest.approx(1.0)
    page = client.get(f"/results/models/{run.llm_id}/?run={run.pk}").content.decode()
    assert 'id="consistency"' in page and "Same rating, all six prompts" in page and "0% of 12 items" in page


@pytest.mark.django_db
def test_an_imported_run_below_the_minimum_parse_rate_fails_without_scores(bank, tmp_path):
    path = _write_answers(tmp_path / "answers.jsonl", _full_answers(bank, style=lambda rating: "I cannot say."))
    with pytest.raises(CommandError, match="is failed"):
        call_command("score_answers", answers=path, itembank=bank.name, model="m", out=str(tmp_path / "o.json"), verbosity=0)
    run = Run.objects.get()
    assert run.status == Run.Status.FAILED and not run.scores.exists()


def test_the_converter_maps_variants_to_prompt_indices_as_prompts_py_orders_them():
    assert VARIANTS == {"v1": 0, "v2": 1, "v3": 2, "v1_reversed": 3, "v2_reversed": 4, "v3_reversed": 5}
    assert PHRASES[0] == "very much like me"  # index 0-2: the paper's order


@pytest.mark.django_db
def test_declared_generation_settings_are_stored_in_the_protocol(bank, tmp_path):
    from benchmark.protocol import PAPER_MAX_TOKENS, PAPER_TEMPERATURE, is_paper_protocol

    path = _write_answers(tmp_path / "answers.jsonl", _full_answers(bank))
    out = tmp_path / "out.json"
    call_command("score_answers", "--temperature", "0", "--max-tokens", "64", answers=path, itembank=bank.name,
                 model="m", out=str(out), verbosity=0)
    run = Run.objects.get(pk=json.loads(out.read_text())["run_id"])
    assert (run.protocol["temperature"], run.protocol["max_tokens"]) == (PAPER_TEMPERATURE, PAPER_MAX_TOKENS)
    assert run.settings["temperature"] == 0 and run.settings["max_tokens"] == 64
    assert is_paper_protocol(run.protocol)
    assert json.loads(out.read_text())["protocol"]["temperature"] == 0.0


@pytest.mark.django_db
def test_undeclared_generation_settings_stay_unknown(bank, tmp_path):
    from benchmark.protocol import is_paper_protocol

    path = _write_answers(tmp_path / "answers.jsonl", _full_answers(bank))
    call_command("score_answers", answers=path, itembank=bank.name, model="m", out=str(tmp_path / "o.json"), verbosity=0)
    run = Run.objects.get()
    assert run.protocol["temperature"] is None and run.protocol["max_tokens"] is None
    assert "temperature" not in run.settings and "max_tokens" not in run.settings
    assert not is_paper_protocol(run.protocol)


@pytest.mark.django_db
def test_a_declared_temperature_alone_leaves_the_token_limit_unknown(bank, tmp_path):
    path = _write_answers(tmp_path / "answers.jsonl", _full_answers(bank))
    call_command("score_answers", "--temperature", "0.7", answers=path, itembank=bank.name, model="m",
                 out=str(tmp_path / "o.json"), verbosity=0)
    run = Run.objects.get()
    assert (run.protocol["temperature"], run.protocol["max_tokens"]) == (0.7, None)


@pytest.mark.django_db
@pytest.mark.parametrize(("flags", "message"), [
    (["--temperature", "-0.5"], "setting 'temperature': must be a number ≥ 0 or null (the model's default), got -0.5"),
    (["--temperature", "nan"], "setting 'temperature': must be a number ≥ 0 or null (the model's default), got nan"),
    (["--max-tokens", "0"], "setting 'max_tokens': must be a whole number between 1 and 1000000, got 0"),
    (["--max-tokens", "2000000"], "setting 'max_tokens': must be a whole number between 1 and 1000000, got 2000000"),
    (["--temperature", "warm"], "argument --temperature: invalid float value: 'warm'"),
    (["--max-tokens", "64.5"], "argument --max-tokens: invalid int value: '64.5'"),
])
def test_a_bad_generation_setting_is_named_and_nothing_is_stored(bank, tmp_path, flags, message):
    path = _write_answers(tmp_path / "answers.jsonl", _full_answers(bank))
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("score_answers", *flags, answers=path, itembank=bank.name, model="m", out=str(tmp_path / "o.json"),
                     verbosity=0)
    assert not Run.objects.exists() and not Answer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("settings", "message"), [
    ({"temperature": "0"}, "setting 'temperature': must be a number ≥ 0 or null (the model's default), got '0'"),
    ({"temperature": True}, "setting 'temperature': must be a number ≥ 0 or null (the model's default), got True"),
    ({"max_tokens": 64.0}, "setting 'max_tokens': must be a whole number between 1 and 1000000, got 64.0"),
])
def test_run_import_answers_validates_generation_settings_like_a_run(bank, tmp_path, settings, message):
    from benchmark.services import BenchmarkError, run_import_answers

    path = _write_answers(tmp_path / "answers.jsonl", _full_answers(bank))
    with pytest.raises(BenchmarkError, match=re.escape(message)):
        run_import_answers(bank=bank, path=path, model="m", settings=settings)
    assert not Run.objects.exists()

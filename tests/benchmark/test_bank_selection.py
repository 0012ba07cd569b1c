"""An item bank carries its analysis's selection: analyze --fdr → export_items → import_itembank → run_benchmark
scores exactly the FDR-selected items; files without a selection still import and score by the default rule."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from benchmark.itembank_format import ItemBankFormatError, read_itembank_file
from benchmark.models import ItemBank, ItemCorrelation, Run
from benchmark.selectors import run_selection
from psychometrics.models import Analysis
from tests.psychometrics.conftest import completed_study  # noqa: F401 — the fixture: a small completed study

pytestmark = pytest.mark.django_db


def _run(server, bank: str, out, *extra) -> tuple[Run, dict]:
    call_command("run_benchmark", "--itembank", bank, "--provider", "openai", "--base-url", server.base_url,
                 "--model", "m", "--concurrency", "4", "--out", str(out), "--verbosity", "0", *extra)
    return Run.objects.latest("id"), json.loads(out.read_text())


def _pairs(frame) -> set[tuple[str, str, int]]:
    return {(row.item_id, row.dimension, int(row.sign)) for row in frame.itertuples()}


@pytest.mark.usefixtures("completed_study")
def test_a_bank_exported_after_analyze_fdr_is_scored_on_exactly_the_fdr_selected_items(llm_server, tmp_path):
    call_command("analyze", "values", "--fdr", stdout=StringIO(), stderr=StringIO())
    analysis = Analysis.objects.latest("id")
    assert analysis.use_fdr
    rows = list(analysis.correlations.select_related("item"))
    fdr_selected = {(row.item.item_id, row.dimension, row.direction) for row in rows if row.selected}
    raw_rule = {(row.item.item_id, row.dimension) for row in rows
                if row.rho is not None and abs(row.rho) >= 0.3 and row.p_value < 0.05}
    # The study must make the difference visible: some pairs pass p < .05 but not the BH-adjusted test.
    assert fdr_selected and {(i, d) for i, d, _ in fdr_selected} < raw_rule

    bank_file = tmp_path / "values.jsonl"
    call_command("export_items", "values", "--out", str(bank_file), stdout=StringIO(), stderr=StringIO())
    header = json.loads(bank_file.read_text().splitlines()[0])
    assert header["selection"] == {"threshold": 0.3, "alpha": 0.05, "fdr": True, "correlation": "spearman", "keyed": "abs"}
    call_command("import_itembank", str(bank_file), "--name", "values-fdr", stdout=StringIO())
    bank = ItemBank.objects.get(name="values-fdr")
    assert bank.selection_rules["fdr"] is True
    stored = ItemCorrelation.objects.filter(item__bank=bank)
    assert {(c.item.item_id, c.dimension) for c in stored.filter(selected=True)} == {(i, d) for i, d, _ in fdr_selected}
    adjusted = {(row.item.item_id, row.dimension): row.p_adjusted for row in rows}
    assert all(c.p_adjusted == pytest.approx(adjusted[(c.item.item_id, c.dimension)], abs=1e-12)
               for c in stored.select_related("item") if c.p_adjusted is not None)

    server = llm_server()
    # The small study keys no BFI item after FDR: such a family stops a run before any request
    # (test_fail_safe.py), so these runs score the two families it keys.
    families = ("--families", "pvq,higher_pvq")
    assert not any(row.selected for row in rows if row.family == "bfi")
    run, document = _run(server, "values-fdr", tmp_path / "signed.json", "--mode", "signed", *families)
    assert _pairs(run_selection(run)) == fdr_selected
    assert document["protocol"]["selection"] == {"source": "bank", "rules": bank.selection_rules}
    scored = {(family, dimension): entry["n_items"] for family, dims in document["scores"].items()
              for dimension, entry in dims.items()}
    expected: dict = {}
    for row in rows:
        if row.selected:
            expected[(row.family, row.dimension)] = expected.get((row.family, row.dimension), 0) + 1
    assert {key: n for key, n in scored.items() if n} == expected

    run, document = _run(server, "values-fdr", tmp_path / "positive.json", *families)  # the default mode: positively keyed only
    assert _pairs(run_selection(run)) == {pair for pair in fdr_selected if pair[2] == 1}
    assert run.protocol_digest != Run.objects.filter(settings__mode="signed").get().protocol_digest


@pytest.mark.usefixtures("completed_study")
def test_threshold_alpha_or_fdr_override_the_banks_selection_and_say_so(llm_server, tmp_path):
    call_command("analyze", "values", "--fdr", stdout=StringIO(), stderr=StringIO())
    bank_file = tmp_path / "values.jsonl"
    call_command("export_items", "values", "--out", str(bank_file), stdout=StringIO(), stderr=StringIO())
    call_command("import_itembank", str(bank_file), "--name", "values-fdr", stdout=StringIO())
    rows = list(Analysis.objects.latest("id").correlations.select_related("item"))
    server = llm_server()
    run, document = _run(server, "values-fdr", tmp_path / "rule.json", "--alpha", "0.05")
    assert document["protocol"]["selection"] == {"source": "rule", "threshold": 0.3, "alpha": 0.05, "fdr": False,
                                                 "reason": "override"}
    by_rule = {(row.item.item_id, row.dimension) for row in rows
               if row.rho is not None and row.rho >= 0.3 and row.p_value < 0.05}
    assert {(i, d) for i, d, _ in _pairs(run_selection(run))} == by_rule
    # BH-adjusted, the small study keys no BFI item (such a family stops a run before any request).
    run, document = _run(server, "values-fdr", tmp_path / "fdr.json", "--fdr", "--families", "pvq,higher_pvq")
    # BH over the bank's tests is the analysis's BH over the study's tests: the same pairs.
    assert {(i, d) for i, d, _ in _pairs(run_selection(run))} == {
        (row.item.item_id, row.dimension) for row in rows if row.selected and row.rho > 0}
    assert document["protocol"]["selection"]["fdr"] is True and document["protocol"]["selection"]["source"] == "rule"


def test_an_older_bank_file_without_a_selection_imports_and_scores_the_default_rule(bank_file, llm_server, tmp_path):
    from benchmark import scoring
    from benchmark.selectors import bank_correlations

    assert "itembank_format" not in bank_file.read_text().splitlines()[0]
    call_command("import_itembank", str(bank_file), "--name", "old", stdout=StringIO())
    bank = ItemBank.objects.get(name="old")
    assert bank.selection_rules is None
    assert set(ItemCorrelation.objects.filter(item__bank=bank).values_list("selected", "p_adjusted")) == {(None, None)}
    run, document = _run(llm_server(), "old", tmp_path / "out.json")
    assert document["protocol"]["selection"] == {"source": "rule", "threshold": 0.3, "alpha": 0.05, "fdr": False,
                                                 "reason": "bank has no stored selection"}
    assert _pairs(run_selection(run)) == _pairs(scoring.select_items(bank_correlations(bank)))


def _write(path, *records) -> str:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


HEADER = {"itembank_format": 2, "selection": {"threshold": 0.3, "alpha": 0.05, "fdr": True}}


def _item(item_id="a", **correlation):
    return {"item_id": item_id, "query": "q", "response": "r",
            "correlations": [{"family": "pvq", "dimension": "Power", "rho": 0.5, "p_value": 0.01, "n": 40, **correlation}]}


def test_a_header_and_selected_flags_are_read(tmp_path):
    parsed = read_itembank_file(_write(tmp_path / "b.jsonl", HEADER, _item(selected=True, p_adjusted=0.03),
                                       _item("b", selected=False, p_adjusted=None)))
    assert parsed.selection_rules == {"threshold": 0.3, "alpha": 0.05, "fdr": True}
    assert [(c.selected, c.p_adjusted) for item in parsed.items for c in item.correlations] == [(True, 0.03), (False, None)]


@pytest.mark.parametrize(("records", "message"), [
    ((HEADER, _item()), "line 2: correlations[0].selected is missing; the header declares a selection"),
    ((_item(selected=True),), "line 1: correlations[0].selected is given but the file has no header line"),
    ((_item(), HEADER), "line 2: the header ('itembank_format') must be the first line"),
    (({**HEADER, "itembank_format": 3}, _item(selected=True)), "line 1: 'itembank_format' must be 2, got 3"),
    (({"itembank_format": 2, "selection": {"threshold": 2, "alpha": 0.05, "fdr": False}}, _item(selected=True)),
     "line 1: selection.threshold must be between 0 and 1, got 2"),
    (({"itembank_format": 2, "selection": {"threshold": 0.3, "alpha": 0.05}}, _item(selected=True)),
     "line 1: selection.fdr must be true or false, got None"),
    ((HEADER, _item(selected="yes")), "line 2: correlations[0].selected must be true or false, got 'yes'"),
    ((HEADER, _item(selected=True, p_adjusted=1.5)), "line 2: correlations[0].p_adjusted must be between 0 and 1"),
])
def test_a_bad_selection_is_reported_with_its_line_and_nothing_is_imported(tmp_path, records, message):
    path = _write(tmp_path / "bad.jsonl", *records)
    with pytest.raises(ItemBankFormatError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        read_itembank_file(path)
    with pytest.raises(CommandError):
        call_command("import_itembank", path, "--name", "bad", stdout=StringIO())
    assert not ItemBank.objects.filter(name="bad").exists()


def test_bank_correlations_are_read_once_per_bank_row_and_each_caller_gets_its_own_copy(bank, bank_file):
    from benchmark.selectors import bank_correlations
    from benchmark.services import itembank_import

    first = bank_correlations(bank)
    expected = sorted(ItemCorrelation.objects.filter(item__bank=bank).values_list("item__item_id", "dimension", "rho"))
    assert sorted(zip(first["item_id"], first["dimension"], first["rho"], strict=True)) == expected
    first.loc[:, "rho"] = 0.0  # a caller changing its frame changes nobody else's
    assert sorted(zip(*(bank_correlations(bank)[c] for c in ("item_id", "dimension", "rho")), strict=True)) == expected
    # A replaced bank is a new row: its correlations are read again, not the old bank's.
    lines = bank_file.read_text().splitlines()
    bank_file.write_text("\n".join(lines[:3]) + "\n")
    replaced = itembank_import(path=bank_file, name=bank.name, replace=True)
    assert set(bank_correlations(replaced)["item_id"]) == set(replaced.items.values_list("item_id", flat=True))
    assert len(bank_correlations(replaced)) < len(expected)

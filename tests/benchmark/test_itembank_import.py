import json

import pytest
from django.core.management import CommandError, call_command

from benchmark.models import BankItem, ItemBank, ItemCorrelation

pytestmark = pytest.mark.django_db

GOOD = {"item_id": "x1", "source": "dearabby", "title": "Dear Abby", "query": "q", "response": "r",
        "correlations": [{"family": "pvq", "dimension": "Self_Direction", "rho": 0.41, "p_value": 0.004, "n": 46},
                         {"family": "bfi", "dimension": "openness", "rho": None, "p_value": None, "n": 46}]}


def _write(tmp_path, lines):
    path = tmp_path / "bank.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


def test_it_imports_items_with_canonical_dimension_names(tmp_path):
    untitled = {**GOOD, "item_id": "x2", "title": None, "correlations": []}
    call_command("import_itembank", str(_write(tmp_path, [GOOD, untitled])), "--name", "bank1", "--skip-checks")
    bank = ItemBank.objects.get(name="bank1")
    assert list(bank.items.values_list("item_id", "title")) == [("x1", "Dear Abby"), ("x2", "")]
    assert set(ItemCorrelation.objects.values_list("family", "dimension", "rho")) == {
        ("pvq", "Self-Direction", 0.41), ("bfi", "Openness", None)}


@pytest.mark.parametrize(("bad", "message"), [
    ("{not json", r"line 2 column 2: invalid JSON"),
    ({**GOOD, "item_id": "x1"}, r"line 2: item_id 'x1' already used on line 1"),
    ({**GOOD, "item_id": "x3", "query": ""}, r"line 2: 'query' must be a non-empty string"),
    ({**GOOD, "item_id": "x3", "correlations": [{"family": "pvq", "dimension": "Power", "rho": 1.7, "p_value": 0.1, "n": 4}]},
     r"line 2: correlations\[0\].rho must be between -1 and 1, got 1.7"),
    ({**GOOD, "item_id": "x3", "correlations": [{"family": "bfi", "dimension": "Power", "rho": 0.1, "p_value": 0.1, "n": 4}]},
     r"line 2: correlations\[0\]: dimension 'Power' belongs to family 'pvq', not 'bfi'"),
    ({**GOOD, "item_id": "x3", "correlations": [{"family": "pvq", "dimension": "Power", "rho": 0.1, "p_value": "low", "n": 4}]},
     r"line 2: correlations\[0\].p_value must be a number or null"),
    ([1, 2], r"line 2: expected a JSON object"),
    ({**GOOD, "item_id": "x3", "response": "fine\u0000"}, r"line 2: 'response' contains a NUL"),
    ({**GOOD, "item_id": "x3", "source": "s" * 65}, r"line 2: 'source' is longer than 64 characters"),
])
def test_a_malformed_line_is_reported_with_its_number_and_nothing_is_imported(tmp_path, bad, message):
    path = _write(tmp_path, [GOOD, bad])
    with pytest.raises(CommandError, match=message):
        call_command("import_itembank", str(path), "--name", "bank1", "--skip-checks")
    assert not ItemBank.objects.exists() and not BankItem.objects.exists()


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(CommandError, match="no items"):
        call_command("import_itembank", str(path), "--name", "bank1", "--skip-checks")


def test_an_existing_name_needs_replace(tmp_path):
    path = _write(tmp_path, [GOOD])
    call_command("import_itembank", str(path), "--name", "bank1", "--skip-checks")
    with pytest.raises(CommandError, match="already exists"):
        call_command("import_itembank", str(path), "--name", "bank1", "--skip-checks")
    call_command("import_itembank", str(path), "--name", "bank1", "--replace", "--skip-checks")
    assert ItemBank.objects.get().items.count() == 1


def test_a_record_written_by_psychometrics_export_items_is_read_back_unchanged():
    import json

    from benchmark.itembank_format import parse_item
    from psychometrics.itembank import item_bank_jsonl_lines, item_bank_record

    record = item_bank_record(
        {"item_id": "dearabby-7", "source": "dearabby", "title": "Dear Abby", "query": "q", "response": "r"},
        [{"family": "pvq", "dimension": "Self-Direction", "rho": 0.41, "p_value": 0.003, "p_adjusted": 0.02, "n": 46,
          "selected": True},
         {"family": "bfi", "dimension": "Openness", "rho": float("nan"), "p_value": None, "p_adjusted": None, "n": 46,
          "selected": False}],
        corrected=True,
    )
    item = parse_item(json.loads(next(item_bank_jsonl_lines([record]))))
    assert (item.item_id, item.title, item.query, item.response) == ("dearabby-7", "Dear Abby", "q", "r")
    assert [(c.family, c.dimension, c.rho, c.p_value, c.n, c.p_adjusted, c.selected) for c in item.correlations] == [
        ("pvq", "Self-Direction", 0.41, 0.003, 46, 0.02, True), ("bfi", "Openness", None, None, 46, None, False),
    ]


@pytest.mark.parametrize(("name", "message"), [("", "name: This field cannot be blank"),
                                                ("x" * 120, "name: Ensure this value has at most 100 characters")])
def test_a_bad_bank_name_is_a_clear_command_error_and_nothing_is_imported(bank_file, name, message):
    from django.core.management import CommandError, call_command

    from benchmark.models import ItemBank

    with pytest.raises(CommandError, match=f"invalid item bank: {message}"):
        call_command("import_itembank", str(bank_file), "--name", name, "--skip-checks")
    assert not ItemBank.objects.exists()


def test_a_file_with_a_long_name_can_be_run_directly(tmp_path, bank_file):
    from benchmark.services import itembank_for_file

    long_path = tmp_path / ("a-very-long-file-name-" * 6 + ".jsonl")
    long_path.write_bytes(bank_file.read_bytes())
    assert itembank_for_file(path=long_path).items.count() == 12

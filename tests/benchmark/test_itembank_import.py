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

"""import_items: CSV, JSON and JSONL; every bad row named by line and column; all or nothing."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from surveys.models import Item, ItemGroup
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory

ROWS = [
    {"item_id": "q1-r1", "group": "A", "source": "reddit", "title": "AITA for leaving early?", "query": "I left the party early.", "response": "You did nothing wrong."},
    {"item_id": "q1-r2", "group": "A", "source": "reddit", "title": "AITA for leaving early?", "query": "I left the party early.", "response": "A short goodbye would have helped."},
    {"item_id": "q2-r1", "group": "B", "source": "sharegpt", "title": "", "query": "How do I save money?", "response": "Cook at home,\nand track spending."},
]


def csv_text(rows):
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["item_id", "group", "source", "title", "query", "response"])
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def study(db):
    return StudyFactory(slug="imp")


@pytest.mark.parametrize("suffix, text", [
    ("csv", csv_text(ROWS)),
    ("json", json.dumps(ROWS, indent=2)),
    ("jsonl", "\n".join(json.dumps(r) for r in ROWS) + "\n"),
])
def test_it_imports_every_format(study, tmp_path, suffix, text):
    path = tmp_path / f"items.{suffix}"
    path.write_text(text)
    call_command("import_items", "imp", str(path))
    assert sorted(Item.objects.filter(study=study).values_list("item_id", "group__name")) == [
        ("q1-r1", "A"), ("q1-r2", "A"), ("q2-r1", "B")]
    assert Item.objects.get(item_id="q2-r1").response == "Cook at home,\nand track spending."


@pytest.mark.parametrize("suffix, text, message", [
    ("csv", csv_text(ROWS[:1] + [{**ROWS[1], "response": ""}] + ROWS[2:]), "line 3, column 'response': empty value"),
    # The second CSV record spans two lines, so the bad third record starts on line 5.
    ("csv", csv_text(ROWS[2:] + ROWS[:1] + [{**ROWS[1], "query": " "}]), "line 5, column 'query': empty value"),
    ("jsonl", "\n".join(json.dumps(r) for r in ROWS[:2]) + "\n{\"item_id\": 3,}\n", "line 3, column 15: invalid JSON"),
    ("jsonl", "\n".join(json.dumps(r) for r in [ROWS[0], {**ROWS[1], "item_id": ROWS[0]["item_id"]}]), "line 2, column 'item_id': 'q1-r1' appears again (first on line 1)"),
    ("json", json.dumps(ROWS[:2] + [{**ROWS[2], "group": ["B"]}], indent=2), "line 18, column 'group': expected text"),
    ("json", json.dumps(ROWS[:1] + [{**ROWS[1], "respones": "x"}], indent=1), "column 'respones': unknown column"),
    ("csv", "item_id,group,query\nx,A,q\n", "line 1: missing column 'response'"),
    # csv's field size limit is 131072 characters; the header row used to escape as a raw csv.Error.
    ("csv", "item_id,group,source,title,query,response" + "x" * 200_000 + "\nx,A,,,q,r\n", "line 1 (header): field larger than field limit"),
    ("csv", "item_id,group,source,title,query,response\nx,A,,,q," + "r" * 200_000 + "\n", "line 2: field larger than field limit"),
    # PostgreSQL text cannot hold NUL: refused at the edge on every database.
    ("jsonl", json.dumps({**ROWS[0], "query": "why\u0000"}), "line 1, column 'query': contains a NUL (0x00) character"),
])
def test_a_bad_row_is_reported_with_its_line_and_nothing_is_imported(study, tmp_path, suffix, text, message):
    path = tmp_path / f"items.{suffix}"
    path.write_text(text)
    with pytest.raises(CommandError) as error:
        call_command("import_items", "imp", str(path))
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert not Item.objects.exists() and not ItemGroup.objects.exists()


def test_an_item_id_already_in_the_study_is_refused(study, tmp_path):
    ItemFactory(group=ItemGroupFactory(study=study, name="A"), item_id="q1-r2")
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS))
    with pytest.raises(CommandError, match="line 2, column 'item_id': 'q1-r2' already exists"):
        call_command("import_items", "imp", str(path))
    assert Item.objects.count() == 1


def test_dry_run_imports_nothing(study, tmp_path, capsys):
    path = tmp_path / "items.csv"
    path.write_text(csv_text(ROWS))
    call_command("import_items", "imp", str(path), "--dry-run")
    assert "3 rows are valid" in capsys.readouterr().out
    assert not Item.objects.exists()


def test_an_unknown_extension_asks_for_a_format(study, tmp_path):
    path = tmp_path / "items.txt"
    path.write_text(csv_text(ROWS))
    with pytest.raises(CommandError, match="cannot tell the format"):
        call_command("import_items", "imp", str(path))
    call_command("import_items", "imp", str(path), "--format", "csv")
    assert Item.objects.count() == 3


def test_the_admin_imports_the_same_files_and_shows_errors(study):
    admin = get_user_model().objects.create_superuser("boss", "b@example.org", "pw")
    client = Client()
    client.force_login(admin)
    url = f"/admin/surveys/study/{study.pk}/import-items/"
    bad = SimpleUploadedFile("bad.csv", csv_text([{**ROWS[0], "group": ""}]).encode())
    response = client.post(url, {"file": bad})
    assert b"line 2, column &#x27;group&#x27;: empty value" in response.content
    assert not Item.objects.exists()
    good = SimpleUploadedFile("good.jsonl", "\n".join(json.dumps(r) for r in ROWS).encode())
    assert client.post(url, {"file": good}).status_code == 302
    assert Item.objects.count() == 3

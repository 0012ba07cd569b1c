"""Property tests of every importer: malformed, truncated, huge, wrong-encoding, duplicate-id files.

Each importer either imports the file or raises its documented error naming the file; on an error
nothing is stored. Files are valid examples mutated by hypothesis (or random bytes).
"""

import csv
import io
import json
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.itembank_format import ItemBankFormatError
from benchmark.models import BankItem, HumanReference, ItemBank
from benchmark.services import BenchmarkError, ReferenceFormatError, itembank_import, references_import
from benchmark.synthetic import synthetic_items
from psychometrics.csv_inputs import InputFileError, read_ratings_csv, read_traits_csv
from surveys.importing import ItemImportError, import_file
from surveys.models import Item, ItemGroup
from tests.factories import StudyFactory

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


VALID_ITEMS = _csv(
    ["item_id", "group", "source", "title", "query", "response"],
    [[f"it-{n}", f"G{n % 2}", "src", "", f"Query {n // 3} — naïve?", f"Response {n}"] for n in range(6)],
)
VALID_BANK = "".join(json.dumps(record) + "\n" for record in synthetic_items(4, seed=1)).encode("utf-8")
VALID_RATINGS = _csv(["participant_id", "item_id", "rating"], [[f"P{p}", f"it-{i}", (p + i) % 6 + 1] for p in range(4) for i in range(3)])
VALID_TRAITS = _csv(["participant_id", "Benevolence", "Power"], [[f"P{p}", 3.5 + p / 10, 2.25] for p in range(4)])
VALID_REFERENCES = _csv(
    ["reference", "family", "dimension", "value"], [["ess-all", "pvq", d, 3.1] for d in ("Benevolence", "Power", "Security")]
)


@st.composite
def damaged(draw, valid: bytes) -> bytes:
    """``valid`` with one kind of damage a real file has, or random bytes."""
    lines = valid.splitlines(keepends=True)
    kind = draw(st.sampled_from(["bytes", "insert", "truncate", "duplicate", "huge", "encoding", "drop_header", "empty"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if kind == "insert":
        at = draw(st.integers(0, len(valid)))
        junk = draw(st.sampled_from([b"\xff", b"\x00", b'"', b",", b"\n", b"\r", b"{", b"\xc3", b"\xef\xbb\xbf", b"NaN", b"inf"]))
        return valid[:at] + junk + valid[at:]
    if kind == "truncate":
        return valid[: draw(st.integers(0, len(valid)))]
    if kind == "duplicate":
        index = draw(st.integers(1, len(lines) - 1))
        return b"".join(lines + [lines[index]])
    if kind == "huge":
        index = draw(st.integers(0, len(lines) - 1))
        return b"".join(lines[:index]) + b"x" * 300_000 + b"".join(lines[index:])
    if kind == "encoding":
        return valid.decode("utf-8").encode(draw(st.sampled_from(["utf-16", "latin-1", "cp1252"])), errors="replace")
    if kind == "drop_header":
        return b"".join(lines[1:])
    return b""


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rolled_back(function):
    """Run ``function`` in a transaction that is always rolled back, so examples do not see each other."""
    with transaction.atomic():
        try:
            return function()
        finally:
            transaction.set_rollback(True)


@FUZZ
@given(data=damaged(VALID_ITEMS), fmt=st.sampled_from(["csv", "jsonl", "json"]))
def test_item_import_takes_a_whole_file_or_nothing(data, fmt):
    def attempt():
        study = StudyFactory(slug="fuzz")
        try:
            result = import_file(study=study, data=data, filename=f"items.{fmt}", fmt=fmt)
        except ItemImportError as error:
            assert f"items.{fmt}" in str(error)
            assert not Item.objects.filter(study=study).exists()
            assert not ItemGroup.objects.filter(study=study).exists()
            return
        assert Item.objects.filter(study=study).count() == result.items_created > 0

    rolled_back(attempt)


@FUZZ
@given(data=damaged(VALID_BANK))
def test_item_bank_import_takes_a_whole_file_or_nothing(data, tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("bank"), "bank.jsonl", data)

    def attempt():
        items_before = BankItem.objects.count()
        try:
            bank = itembank_import(path=path, name="fuzz-bank")
        except (ItemBankFormatError, BenchmarkError) as error:
            assert str(path) in str(error)
            assert not ItemBank.objects.filter(name="fuzz-bank").exists()
            assert BankItem.objects.count() == items_before
            return
        assert bank.items.count() > 0

    rolled_back(attempt)


@FUZZ
@given(data=damaged(VALID_REFERENCES))
def test_human_reference_import_takes_a_whole_file_or_nothing(data, tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("refs"), "references.csv", data)

    def attempt():
        before = HumanReference.objects.count()
        try:
            references = references_import(path=path)
        except ReferenceFormatError as error:
            assert str(path) in str(error)
            assert HumanReference.objects.count() == before
            return
        assert references

    rolled_back(attempt)


@FUZZ
@given(data=damaged(VALID_RATINGS))
def test_the_ratings_csv_reader_reads_or_names_the_file(data, tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("ratings"), "ratings.csv", data)
    try:
        frame = read_ratings_csv(path)
    except InputFileError as error:
        assert str(error).startswith(str(path))
        return
    assert list(frame.columns) == ["participant_id", "item_id", "rating"] and len(frame) > 0


@FUZZ
@given(data=damaged(VALID_TRAITS))
def test_the_traits_csv_reader_reads_or_names_the_file(data, tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("traits"), "traits.csv", data)
    try:
        frame = read_traits_csv(path)
    except InputFileError as error:
        assert str(error).startswith(str(path))
        return
    assert len(frame) > 0


def test_the_unfuzzed_examples_are_valid(tmp_path):
    """The property tests above start from files every importer accepts."""
    assert import_file(study=StudyFactory(slug="ok"), data=VALID_ITEMS, filename="items.csv").items_created == 6
    assert itembank_import(path=_write(tmp_path, "b.jsonl", VALID_BANK), name="ok").items.count() == 4
    assert len(references_import(path=_write(tmp_path, "r.csv", VALID_REFERENCES))) == 1
    assert len(read_ratings_csv(_write(tmp_path, "ra.csv", VALID_RATINGS))) == 12
    assert len(read_traits_csv(_write(tmp_path, "t.csv", VALID_TRAITS))) == 4


HUGE_FIELD = b"x" * 200_000


def test_an_item_file_with_a_huge_header_field_gets_a_clear_error():
    with pytest.raises(ItemImportError, match="items.csv: line 1"):
        import_file(study=StudyFactory(slug="huge"), data=HUGE_FIELD + b"\n" + VALID_ITEMS, filename="items.csv")


def test_an_item_file_with_a_huge_field_in_a_row_gets_a_clear_error():
    with pytest.raises(ItemImportError, match=r"items.csv: line 8: field larger than field limit"):
        import_file(study=StudyFactory(slug="huge"), data=VALID_ITEMS + b"it-9,G0,,," + HUGE_FIELD + b",r\n", filename="items.csv")


def test_a_reference_file_with_a_huge_field_gets_a_clear_error(tmp_path):
    path = _write(tmp_path, "references.csv", VALID_REFERENCES + b"ess-all,pvq,Power," + HUGE_FIELD + b"\n")
    with pytest.raises(ReferenceFormatError, match="references.csv"):
        references_import(path=path)


def test_a_reference_file_that_is_not_utf8_gets_a_clear_error(tmp_path):
    path = _write(tmp_path, "references.csv", VALID_REFERENCES.replace(b"ess-all", "ess-français".encode("latin-1")))
    with pytest.raises(ReferenceFormatError, match="references.csv"):
        references_import(path=path)

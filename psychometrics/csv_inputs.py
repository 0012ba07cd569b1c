"""Reading the rating and trait CSV files of ``manage.py correlate``, checked once at the edge.

Every problem is an ``InputFileError`` naming the file, line, column and value, so a researcher
can fix the file. Line numbers count the header as line 1.

Large files take a vectorised path (``_fast_cells``: one pyarrow parse, checks on whole columns);
whenever that path meets anything unusual — quotes, NUL or stray carriage-return bytes, a line
with the wrong number of fields, text that is not UTF-8, a blank id, a duplicate, a value that is
not a finite number — it steps aside and the line-by-line reader reads the file, so every error
message (file, line, column, value) comes from one place and both paths return the same frame
(``tests/psychometrics/test_csv_fast_path.py`` compares them on generated files).

Both paths return pyarrow tables (``read_ratings_table``, ``read_traits_table``), which
``manage.py correlate`` uses as they are; ``read_ratings_csv`` and ``read_traits_csv`` turn them
into DataFrames. pandas is imported only there, so ``correlate`` starts without it.
"""

from __future__ import annotations

import codecs
import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from psychometrics import arrow
from psychometrics.stats.annotation import canonical_names

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

RATINGS_COLUMNS = ("participant_id", "item_id", "rating")
PARTICIPANT_COLUMN = "participant_id"


class InputFileError(ValueError):
    """A problem in an input file, with where it is."""

    def __init__(self, path, message: str, *, line: int | None = None, column: str | None = None):
        self.path, self.line, self.column = str(path), line, column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


def _open(path: Path):
    """The file opened in binary for ``_lines``, after file-level checks."""
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not a CSV file")
    return path.open("rb")


def _lines(path: Path, handle):
    """Decoded text lines, so an encoding error is reported on its own line (a byte-order mark is allowed)."""
    for number, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InputFileError(path, f"is not UTF-8 text (byte {raw[error.start]:#04x})", line=number) from None
        yield line


def _header(path: Path, reader) -> list[str]:
    """The header line: named, distinct columns."""
    try:
        header = next(reader)
    except StopIteration:
        raise InputFileError(path, "the file is empty; expected a header line") from None
    except csv.Error as error:
        raise InputFileError(path, f"is not a readable CSV file ({error})", line=1) from None
    header = [name.strip() for name in header]
    for position, name in enumerate(header, start=1):
        if not name:
            raise InputFileError(path, f"column {position} has no name", line=1)
        if header.index(name) != position - 1:
            raise InputFileError(path, f"the column {name!r} appears twice", line=1)
    return header


def _records(path: Path, reader, header: list[str]):
    """(line number, {column: stripped value}) for every non-blank line after the header."""
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) < len(header):
                raise InputFileError(
                    path, f"no value (the line has {len(row)} fields, the header {len(header)})",
                    line=reader.line_num, column=header[len(row)],
                )
            if len(row) > len(header):
                raise InputFileError(
                    path, f"{row[len(header)].strip()!r} is beyond the last column (the line has {len(row)} fields, "
                    f"the header {len(header)})", line=reader.line_num,
                )
            yield reader.line_num, dict(zip(header, (cell.strip() for cell in row), strict=True))
    except csv.Error as error:
        raise InputFileError(path, f"is not a readable CSV file ({error})", line=reader.line_num) from None


def _number(path: Path, line: int, column: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputFileError(path, f"{value!r} is not a number", line=line, column=column) from None
    if not math.isfinite(number):
        raise InputFileError(path, f"{value!r} is not a finite number", line=line, column=column)
    return number


def _fast_cells(path: Path) -> tuple[list[str], pa.Table] | None:
    """(header, the non-blank lines' stripped cells as strings) read by pyarrow's CSV reader, or None.

    None means "read it line by line": the file has quotes, NUL bytes or carriage returns other than
    CRLF line ends, is not UTF-8, or pyarrow finds a line whose number of fields differs from the
    header's. Empty lines and lines of blank cells are skipped, as by the exact reader. Header
    errors are raised here exactly as the exact reader raises them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    with _open(path) as handle:
        data = handle.read()
    if not data or b'"' in data or b"\x00" in data or data.count(b"\r") != data.count(b"\r\n"):
        return None
    # Checked as bytes: a decoded copy of the whole file (tens of MB) is made only to check non-ASCII UTF-8.
    ascii_only = data.isascii()
    if not ascii_only:
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    first_end = data.find(b"\n", start)
    header_line = data[start:] if first_end < 0 else data[start : first_end + 1]
    header = _header(path, csv.reader([header_line.decode("utf-8")], strict=True))
    if first_end < 0 or len(data) - first_end - 1 == data.count(b"\n", first_end + 1) + data.count(b"\r", first_end + 1):
        return header, pa.table({c: arrow.strings([]) for c in header})  # nothing but line ends after the header
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(memoryview(data)[first_end + 1 :])),  # the body, not copied
            read_options=pacsv.ReadOptions(column_names=header, encoding="utf8"),
            parse_options=pacsv.ParseOptions(quote_char=False, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not ascii_only or any(ch in data for ch in (b" ", b"\t", b"\r")):
        table = pa.table({c: pc.utf8_trim_whitespace(table[c]) for c in header})
    blank = None
    for column in header:
        empty = pc.equal(table[column], arrow.text(""))
        blank = empty if blank is None else pc.and_(blank, empty)
    if _any(blank):
        table = table.filter(pc.invert(blank))
    table = table.combine_chunks()
    return header, pa.table({c: table[c].chunk(0) if table[c].num_chunks else arrow.strings([]) for c in header})


def _finite_floats(strings: pa.Array) -> np.ndarray | None:
    """The strings as floats (blank = NaN), or None if one is not a finite number as Python reads it.

    pyarrow's conversion is correctly rounded, like Python's ``float``; what it does not accept
    (e.g. ``1_000``) goes to the exact reader, which decides with ``float``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    blank = pc.equal(strings, arrow.text(""))
    try:
        numbers = pc.cast(pc.if_else(blank, arrow.null_text(), strings), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    numbers = arrow.to_numpy(numbers.fill_null(arrow.numbers(np.array([np.nan]))[0]))
    if not np.isfinite(numbers[~arrow.to_numpy(blank)]).all():
        return None
    return numbers


def string_codes(strings: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(code of each string, the distinct strings in order of first appearance): ``strings[k] == distinct[codes[k]]``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(strings, pa.ChunkedArray):
        strings = strings.combine_chunks()
    encoded = pc.dictionary_encode(strings)
    return arrow.to_numpy(encoded.indices).astype(np.int64), encoded.dictionary


def _repeats_pair(first: pa.Array, second: pa.Array) -> bool:
    """Whether some (first, second) pair of strings appears twice."""
    first_codes, first_distinct = string_codes(first)
    second_codes, second_distinct = string_codes(second)
    keys = np.sort(first_codes * len(second_distinct) + second_codes)
    return bool((keys[1:] == keys[:-1]).any())


def _any(mask) -> bool:
    import pyarrow.compute as pc

    return bool(pc.any(mask).as_py())


def _ratings_fast(path: Path) -> pa.Table | None:
    """``read_ratings_table`` by whole columns, or None when the exact reader must read (or explain) the file."""
    import pyarrow as pa
    import pyarrow.compute as pc

    read = _fast_cells(path)
    if read is None:
        return None
    header, cells = read
    if [c for c in RATINGS_COLUMNS if c not in header]:
        return None
    participant, item, rating = (cells[c] for c in RATINGS_COLUMNS)
    if _any(pc.equal(participant, arrow.text(""))) or _any(pc.equal(item, arrow.text(""))):
        return None
    rated = pc.not_equal(rating, arrow.text(""))
    participant, item, rating = (pc.filter(column, rated) for column in (participant, item, rating))
    if not len(participant) or _repeats_pair(participant, item):
        return None
    numbers = _finite_floats(rating)
    if numbers is None:
        return None
    return pa.table({"participant_id": participant, "item_id": item, "rating": arrow.numbers(numbers)})


def read_ratings_table(path) -> pa.Table:
    """Long ratings ``participant_id,item_id,rating`` (extra columns ignored) as a pyarrow table.

    Only rated lines, in file order: ids as strings, ratings as finite floats. Each participant
    rates an item at most once; ratings must be numbers (blank = not rated).
    """
    path = Path(path)
    fast = _ratings_fast(path)
    return fast if fast is not None else _ratings_exact(path)


def read_ratings_csv(path) -> pd.DataFrame:
    """``read_ratings_table`` as a DataFrame ``participant_id, item_id, rating``."""
    table = read_ratings_table(path)
    return _frame({c: table[c] for c in RATINGS_COLUMNS})


def _frame(columns: dict, index=None) -> pd.DataFrame:
    """A DataFrame of arrow columns: strings as pandas' ``str`` dtype, numbers as float64."""
    import pandas as pd
    import pyarrow as pa

    def series(column):
        column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_string(column.type):
            return pd.Series(pd.arrays.ArrowStringArray(column).astype("str"))
        return pd.Series(column.to_numpy(zero_copy_only=False), dtype=float)

    frame = pd.DataFrame({name: series(column) for name, column in columns.items()})
    if index is not None:
        frame.index = pd.Index(series(index).tolist(), name=PARTICIPANT_COLUMN)
    return frame


def _ratings_exact(path: Path) -> pa.Table:
    """``read_ratings_csv`` line by line: the reader of record, whose errors name line and column."""
    with _open(path) as handle:
        reader = csv.reader(_lines(path, handle), strict=True)
        header = _header(path, reader)
        missing = [c for c in RATINGS_COLUMNS if c not in header]
        if missing:
            raise InputFileError(path, f"missing column {missing[0]!r}; the header is {','.join(header)}", line=1)
        records = _rating_records(path, _records(path, reader, header))
    if not records:
        raise InputFileError(path, "contains no ratings")
    import pyarrow as pa

    participant, item, rating = zip(*records, strict=True)
    return pa.table({
        "participant_id": arrow.strings(participant), "item_id": arrow.strings(item),
        "rating": arrow.numbers(np.array(rating, dtype=float)),
    })


def _rating_records(path: Path, rows) -> list[tuple[str, str, float]]:
    records = []
    first_seen: dict[tuple[str, str], int] = {}
    for line, row in rows:
        participant, item, rating = (row[c] for c in RATINGS_COLUMNS)
        for column, value in (("participant_id", participant), ("item_id", item)):
            if not value:
                raise InputFileError(path, "is empty", line=line, column=column)
        if not rating:
            continue
        key = (participant, item)
        if key in first_seen:
            raise InputFileError(
                path, f"participant {participant!r} rated item {item!r} again (first on line {first_seen[key]})", line=line
            )
        first_seen[key] = line
        records.append((participant, item, _number(path, line, "rating", rating)))
    return records


def read_traits_table(path) -> pa.Table:
    """Trait scores: ``participant_id`` plus one numeric column per dimension (blank = missing).

    Returns a pyarrow table: ``participant_id`` (strings, distinct) and the dimension columns as
    floats (NaN = missing) under their canonical names, in file order.
    """
    path = Path(path)
    fast = _traits_fast(path)
    return fast if fast is not None else _traits_exact(path)


def read_traits_csv(path) -> pd.DataFrame:
    """``read_traits_table`` as a DataFrame indexed by participant id, canonical dimension names as columns."""
    table = read_traits_table(path)
    return _frame({c: table[c] for c in table.column_names if c != PARTICIPANT_COLUMN}, index=table[PARTICIPANT_COLUMN])


def _traits_table(participants, dimensions: list[str], columns: list) -> pa.Table:
    import pyarrow as pa

    names, _ = canonical_names(dimensions)
    if not isinstance(participants, pa.Array | pa.ChunkedArray):
        participants = arrow.strings(participants)
    return pa.table({PARTICIPANT_COLUMN: participants,
                     **{name: arrow.numbers(np.asarray(column, dtype=float)) for name, column in zip(names, columns, strict=True)}})


def _traits_exact(path: Path) -> pa.Table:
    """``read_traits_csv`` line by line: the reader of record, whose errors name line and column."""
    with _open(path) as handle:
        reader = csv.reader(_lines(path, handle), strict=True)
        header = _header(path, reader)
        if PARTICIPANT_COLUMN not in header:
            raise InputFileError(path, f"missing column {PARTICIPANT_COLUMN!r}; the header is {','.join(header)}", line=1)
        dimensions = [c for c in header if c != PARTICIPANT_COLUMN]
        if not dimensions:
            raise InputFileError(path, "has no trait columns besides participant_id", line=1)
        try:
            canonical_names(dimensions)
        except ValueError as error:
            raise InputFileError(path, str(error), line=1) from None
        index, records = [], []
        first_seen: dict[str, int] = {}
        for line, row in _records(path, reader, header):
            participant = row[PARTICIPANT_COLUMN]
            if not participant:
                raise InputFileError(path, "is empty", line=line, column=PARTICIPANT_COLUMN)
            if participant in first_seen:
                raise InputFileError(
                    path, f"participant {participant!r} appears again (first on line {first_seen[participant]})", line=line
                )
            first_seen[participant] = line
            index.append(participant)
            records.append([_number(path, line, c, row[c]) if row[c] else math.nan for c in dimensions])
    if not records:
        raise InputFileError(path, "contains no participants")
    return _traits_table(index, dimensions, [list(column) for column in zip(*records, strict=True)])


def _traits_fast(path: Path) -> pa.Table | None:
    """``read_traits_table`` by whole columns, or None when the exact reader must read (or explain) the file."""
    import pyarrow.compute as pc

    read = _fast_cells(path)
    if read is None:
        return None
    header, cells = read
    dimensions = [c for c in header if c != PARTICIPANT_COLUMN]
    if PARTICIPANT_COLUMN not in header or not dimensions or not len(cells):
        return None
    try:
        canonical_names(dimensions)
    except ValueError:
        return None
    participants = cells[PARTICIPANT_COLUMN]
    if _any(pc.equal(participants, arrow.text(""))) or len(string_codes(participants)[1]) != len(participants):
        return None
    columns = []
    for column in dimensions:
        numbers = _finite_floats(cells[column])
        if numbers is None:
            return None
        columns.append(numbers)
    return _traits_table(participants, dimensions, columns)


def read_questionnaire_csv(path, *, name: str, questions: int, scale: tuple[int, int], allow_missing: bool) -> pd.DataFrame:
    """Wide questionnaire answers ``participant_id,q1,...,qN`` for ``manage.py screen``.

    Every answer is a whole number in ``scale``; a blank answer is an error unless ``allow_missing``
    (then it is NaN). Returns a DataFrame indexed by participant id with columns 1..N (floats).
    """
    import pandas as pd

    path = Path(path)
    expected = [PARTICIPANT_COLUMN, *(f"q{q}" for q in range(1, questions + 1))]
    low, high = scale
    with _open(path) as handle:
        reader = csv.reader(_lines(path, handle), strict=True)
        header = _header(path, reader)
        missing = [c for c in expected if c not in header]
        if missing:
            raise InputFileError(
                path, f"missing column {missing[0]!r}; a {name} file has columns {','.join(expected[:3])},…,q{questions}",
                line=1,
            )
        extra = [c for c in header if c not in expected]
        if extra:
            raise InputFileError(path, f"unexpected column {extra[0]!r}; a {name} file has q1…q{questions}", line=1)
        index, records = [], []
        first_seen: dict[str, int] = {}
        for line, row in _records(path, reader, header):
            participant = row[PARTICIPANT_COLUMN]
            if not participant:
                raise InputFileError(path, "is empty", line=line, column=PARTICIPANT_COLUMN)
            if participant in first_seen:
                raise InputFileError(
                    path, f"participant {participant!r} appears again (first on line {first_seen[participant]})", line=line
                )
            first_seen[participant] = line
            answers = []
            for column in expected[1:]:
                value = row[column]
                if not value:
                    if not allow_missing:
                        raise InputFileError(
                            path, "is blank (every answer is needed; --allow-missing screens on what was answered)",
                            line=line, column=column,
                        )
                    answers.append(math.nan)
                    continue
                number = _number(path, line, column, value)
                if number != int(number) or not low <= number <= high:
                    raise InputFileError(
                        path, f"{value!r} is not an answer; {name} answers are whole numbers {low}-{high}",
                        line=line, column=column,
                    )
                answers.append(number)
            index.append(participant)
            records.append(answers)
    if not records:
        raise InputFileError(path, "contains no participants")
    return pd.DataFrame(records, index=pd.Index(index, name=PARTICIPANT_COLUMN), columns=range(1, questions + 1))

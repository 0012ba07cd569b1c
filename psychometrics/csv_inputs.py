"""Reading the rating and trait CSV files of ``manage.py correlate``, checked once at the edge.

Every problem is an ``InputFileError`` naming the file, line, column and value, so a researcher
can fix the file. Line numbers count the header as line 1.
"""

import csv
import math
from pathlib import Path

import pandas as pd

from psychometrics.stats.annotation import canonical_traits

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


def read_ratings_csv(path) -> pd.DataFrame:
    """Long ratings ``participant_id,item_id,rating`` (extra columns ignored) as a DataFrame.

    Each participant rates an item at most once; ratings must be numbers (blank = not rated).
    """
    path = Path(path)
    with _open(path) as handle:
        reader = csv.reader(_lines(path, handle), strict=True)
        header = _header(path, reader)
        missing = [c for c in RATINGS_COLUMNS if c not in header]
        if missing:
            raise InputFileError(path, f"missing column {missing[0]!r}; the header is {','.join(header)}", line=1)
        records = _rating_records(path, _records(path, reader, header))
    if not records:
        raise InputFileError(path, "contains no ratings")
    return pd.DataFrame.from_records(records, columns=list(RATINGS_COLUMNS))


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


def read_traits_csv(path) -> pd.DataFrame:
    """Trait scores: ``participant_id`` plus one numeric column per dimension (blank = missing).

    Returns a DataFrame indexed by participant id with canonical dimension names as columns.
    """
    path = Path(path)
    with _open(path) as handle:
        reader = csv.reader(_lines(path, handle), strict=True)
        header = _header(path, reader)
        if PARTICIPANT_COLUMN not in header:
            raise InputFileError(path, f"missing column {PARTICIPANT_COLUMN!r}; the header is {','.join(header)}", line=1)
        dimensions = [c for c in header if c != PARTICIPANT_COLUMN]
        if not dimensions:
            raise InputFileError(path, "has no trait columns besides participant_id", line=1)
        try:
            canonical_traits(pd.DataFrame(columns=dimensions))
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
    traits = pd.DataFrame(records, index=pd.Index(index, name=PARTICIPANT_COLUMN), columns=dimensions)
    return canonical_traits(traits)[0]


def read_questionnaire_csv(path, *, name: str, questions: int, scale: tuple[int, int], allow_missing: bool) -> pd.DataFrame:
    """Wide questionnaire answers ``participant_id,q1,...,qN`` for ``manage.py screen``.

    Every answer is a whole number in ``scale``; a blank answer is an error unless ``allow_missing``
    (then it is NaN). Returns a DataFrame indexed by participant id with columns 1..N (floats).
    """
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

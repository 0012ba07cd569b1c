"""Writing large CSV files by whole columns (pyarrow), with the text Python itself would write.

``manage.py correlate`` writes 380,000 rows for a large study; pandas' writer (and Python's ``repr``
per float) took longer than the statistics. Here every cell is made by pyarrow compute kernels
and the file is written from one buffer.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from psychometrics import arrow

if TYPE_CHECKING:
    import pyarrow as pa


def float_texts(values: np.ndarray) -> pa.Array:
    """Each float as ``repr`` writes it (the shortest text that reads back exactly), NaN as "".

    pyarrow casts floats to their shortest round-trip digits, the digits ``repr`` chooses, but in
    another notation for whole numbers ("1" for "1.0"), below 1e-4 ("0.00001" for "1e-05") and
    from about 1e10 ("1.6142388688603409e+10"); those cells (whole numbers, |x| < 1e-4 or
    |x| >= 1e9: few among correlations and p-values) and the non-finite ones are written by ``repr``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.ascontiguousarray(values, dtype=float)
    texts = pc.cast(arrow.numbers(values), pa.string())
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        by_repr = ~np.isfinite(values) | (values == np.trunc(values)) | (magnitude < 1e-4) | (magnitude >= 1e9)
    if by_repr.any():
        replacements = ["" if math.isnan(value) else repr(value) for value in values[by_repr].tolist()]
        texts = pc.replace_with_mask(texts, arrow.numbers(by_repr), arrow.strings(replacements))
    return texts


def csv_cell(text: str) -> str:
    """A text cell as Python's csv module writes it (QUOTE_MINIMAL): quoted when it holds , " or LF (and CR, which
    the csv module with LF line ends would leave bare)."""
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_body(columns: list[pa.Array]) -> bytes:
    """The lines (each ending in LF) of a table whose cells are already CSV text, one string array per column."""
    return bytes(_csv_lines(columns))


def _csv_lines(columns: list[pa.Array]) -> memoryview:
    """``csv_body`` as a view of pyarrow's buffer: written out without copying it (tens of MB) twice."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not columns or not len(columns[0]):
        return memoryview(b"")
    columns = [column.cast(pa.large_string()) for column in columns]  # 64-bit offsets: files past 2 GB
    newline, nothing, comma = (arrow.text(t).cast(pa.large_string()) for t in ("\n", "", ","))
    last = pc.binary_join_element_wise(columns[-1], newline, nothing)
    lines = pc.binary_join_element_wise(*columns[:-1], last, comma) if len(columns) > 1 else last
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[start:end]


def write_atomically(out: Path, header: list[str], columns: list[pa.Array]) -> None:
    """Write OUT (header, then the rows) through a temporary file in the same folder: a failure leaves no partial file."""
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write((",".join(csv_cell(name) for name in header) + "\n").encode())
            stream.write(_csv_lines(columns))
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

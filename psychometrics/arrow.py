"""pyarrow arrays from numpy arrays and Python strings without importing pandas.

``pa.array`` asks pandas whether its argument is a pandas object, importing pandas (about 0.3 s)
on first use; ``manage.py correlate`` never needs pandas, so it builds its arrays from buffers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

_TYPES = {np.dtype("float64"): "float64", np.dtype("int64"): "int64", np.dtype("int32"): "int32", np.dtype("int8"): "int8"}


def numbers(values: np.ndarray) -> pa.Array:
    """A 1-d numpy array of float64, int64, int32, int8 or bool as an arrow array (no nulls; NaN stays NaN)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-d array, got shape {values.shape}")
    if values.dtype == np.bool_:
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])
    if values.dtype not in _TYPES:
        raise ValueError(f"unsupported dtype {values.dtype}")
    return pa.Array.from_buffers(getattr(pa, _TYPES[values.dtype])(), len(values), [None, pa.py_buffer(values)])


def strings(texts: list[str]) -> pa.Array:
    """Python strings as an arrow string array."""
    import pyarrow as pa

    encoded = [text.encode("utf-8") for text in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    array = pa.Array.from_buffers(pa.large_string(), len(encoded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])
    return array.cast(pa.string())


def text(value: str) -> pa.Scalar:
    """A string scalar for compute kernels (``pc.equal(column, "")`` would build it with ``pa.scalar``)."""
    return strings([value])[0]


def null_text() -> pa.Scalar:
    import pyarrow as pa

    return pa.nulls(1, pa.string())[0]


def int32(value: int) -> pa.Scalar:
    return numbers(np.array([value], dtype=np.int32))[0]


def to_numpy(array) -> np.ndarray:
    """A numeric or boolean arrow array (or one-chunk-or-more chunked array) without nulls as numpy (``to_numpy`` imports pandas)."""
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError("the array has nulls")
    start, stop = array.offset, array.offset + len(array)
    if pa.types.is_boolean(array.type):
        bits = np.unpackbits(np.frombuffer(array.buffers()[1], dtype=np.uint8), bitorder="little")
        return bits[start:stop].astype(bool)
    return np.frombuffer(array.buffers()[1], dtype=array.type.to_pandas_dtype())[start:stop]

"""The vectorised CSV path of ``correlate`` returns exactly what the line-by-line reader returns,
and leaves every file it cannot read cleanly to that reader (so errors name line and column)."""

import random

import numpy as np
import pandas as pd
import pytest

from psychometrics import csv_inputs
from psychometrics.csv_inputs import InputFileError, read_ratings_csv, read_traits_csv

CELLS = ["1", "2", " 3 ", "6", "4.5", "", "x", "nan", "inf", "1_0", "1e0", "\u00a05", "-0", "2.50"]


def _random_ratings(rng: random.Random) -> str:
    lines = ["participant_id,item_id,rating"]
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        if kind < 0.05:
            lines.append("")
        elif kind < 0.08:
            lines.append(",,")
        elif kind < 0.10:
            lines.append("p1,i1")  # too few fields
        elif kind < 0.12:
            lines.append('"p,2",i1,3')
        else:
            lines.append(f"{rng.choice(['p1', 'p2', 'p3', '', ' p4'])},{rng.choice(['i1', 'i2', 'é'])},{rng.choice(CELLS)}")
    return "\r\n".join(lines) if rng.random() < 0.2 else "\n".join(lines) + rng.choice(["", "\n"])


def _assert_tables_equal(fast, exact):
    """Same columns, types and values (NaN equal to NaN)."""
    assert fast.schema == exact.schema
    for name in exact.column_names:
        if exact.schema.field(name).type == "double":
            np.testing.assert_array_equal(fast[name].to_numpy(), exact[name].to_numpy())
        else:
            assert fast[name].to_pylist() == exact[name].to_pylist()


def _outcome(reader, path):
    try:
        return reader(path)
    except InputFileError as error:
        return str(error)


@pytest.mark.parametrize("seed", range(300))
def test_fast_ratings_equal_the_exact_reader_on_random_files(tmp_path, seed):
    path = tmp_path / "ratings.csv"
    path.write_text(_random_ratings(random.Random(seed)), encoding="utf-8-sig" if seed % 4 == 0 else "utf-8")  # some with a BOM
    fast = csv_inputs._ratings_fast(path) if path.read_bytes() else None
    exact = _outcome(csv_inputs._ratings_exact, path)
    if fast is not None:
        _assert_tables_equal(fast, exact)
    public = _outcome(read_ratings_csv, path)
    if isinstance(exact, str):
        assert public == exact
    else:
        assert public.to_dict("list") == exact.to_pydict()
        pd.testing.assert_frame_equal(public, csv_inputs._frame({c: exact[c] for c in exact.column_names}))


@pytest.mark.parametrize("seed", range(100))
def test_fast_traits_equal_the_exact_reader_on_random_files(tmp_path, seed):
    rng = random.Random(seed)
    lines = ["participant_id,Power, Achievement "]
    for number in range(rng.randint(0, 8)):
        lines.append(f"{rng.choice(['p' + str(number), 'p0', ''])},{rng.choice(CELLS)},{rng.choice(CELLS)}")
    path = tmp_path / "traits.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast = csv_inputs._traits_fast(path)
    exact = _outcome(csv_inputs._traits_exact, path)
    if fast is not None:
        _assert_tables_equal(fast, exact)
    public = _outcome(read_traits_csv, path)
    if isinstance(exact, str):
        assert public == exact
    else:
        table = exact.to_pydict()
        assert public.index.tolist() == table.pop("participant_id") and list(public.columns) == list(table)
        np.testing.assert_array_equal(public.to_numpy(), np.array(list(table.values()), dtype=float).T.reshape(public.shape))

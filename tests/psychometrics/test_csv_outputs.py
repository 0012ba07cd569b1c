"""The vectorised writer of ``correlate`` writes what Python and pandas would, and the standalone
``manage.py correlate`` (no django.setup(), no pandas) writes what ``call_command`` writes."""

import csv
import io
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from psychometrics import arrow
from psychometrics.csv_outputs import csv_body, csv_cell, float_texts
from psychometrics.stats.annotation import annotate_items

ROOT = Path(__file__).resolve().parents[2]
TRICKY = [np.nan, 0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 1e-300, -1e-300, 5e-324, 2.2250738585072014e-308, 1e-4, -1e-4,
          9.999999999999999e-05, 1.0000000000000002e-04, 1e-5, 2.5e-7, 0.1 + 0.2, 1 / 3, 1e9, 999999999.9999999,
          1e9 + 0.5, 1e15, 1e16, 1.7976931348623157e308, np.inf, -np.inf, 0.9999999999999999, -0.9999999999999999]


def _repr(value: float) -> str:
    return "" if np.isnan(value) else repr(value)


def test_float_texts_are_repr_exactly_on_tricky_and_random_floats():
    rng = np.random.default_rng(3)
    values = np.concatenate([
        TRICKY, rng.random(5_000) * 2 - 1, rng.random(2_000) ** 12,
        rng.normal(size=5_000) * 10.0 ** rng.uniform(-320, 308, 5_000), rng.integers(-50, 50, 200) / 8,
    ])
    assert float_texts(values).to_pylist() == [_repr(v) for v in values.tolist()]
    assert all(float(text) == v for text, v in zip(float_texts(values).to_pylist(), values.tolist(), strict=True) if text)


def test_cells_and_lines_are_what_the_csv_module_writes():
    cells = ["plain", "a,b", 'say "hi"', "two\nlines", "é", "", " padded "]
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    for cell in cells:
        writer.writerow([cell, "x"])
    body = csv_body([arrow.strings([csv_cell(c) for c in cells]), arrow.strings(["x"] * len(cells))])
    assert body.decode() == expected.getvalue()
    assert csv_body([arrow.strings([])]) == b""
    # A carriage return is quoted too (the csv module with LF line ends leaves it bare, which readers split on).
    assert csv_cell("cr\rhere") == '"cr\rhere"'



def test_arrow_arrays_from_buffers_round_trip_without_pandas_semantics_changing():
    values = np.array([1.5, np.nan, -0.0, 3.0])
    assert np.array_equal(arrow.to_numpy(arrow.numbers(values)[1:]), values[1:], equal_nan=True)
    flags = np.array([True, False, True, True, False, False, True, False, True])
    assert arrow.to_numpy(arrow.numbers(flags)[3:]).tolist() == flags[3:].tolist()
    assert arrow.to_numpy(arrow.numbers(np.arange(5, dtype=np.int64))).tolist() == [0, 1, 2, 3, 4]
    assert arrow.strings(["a", "é", "", "ß,x"]).to_pylist() == ["a", "é", "", "ß,x"]
    with pytest.raises(ValueError, match="nulls"):
        arrow.to_numpy(_with_null())


def _with_null():
    import pyarrow.compute as pc

    return pc.if_else(arrow.numbers(np.array([True, False])), arrow.numbers(np.array([1.0, 2.0])), arrow.null_text().cast("double"))


def _study(folder: Path):
    """Ties, missing ratings and scores, an unrated rater, ids a CSV must quote, a constant item."""
    rng = np.random.default_rng(5)
    raters = [f"r{k}" for k in range(30)]
    items = ["plain", "with,comma", 'with "quote"', "const", "é-item"]
    rows = [(r, i, float(rng.integers(1, 4)) if i != "const" else 3.0) for r in raters for i in items if rng.random() > 0.1]
    ratings = pd.DataFrame(rows, columns=["participant_id", "item_id", "rating"])
    ratings.loc[len(ratings)] = ["nobody", "plain", 2.0]
    traits = pd.DataFrame(rng.integers(0, 4, (len(raters), 3)).astype(float), columns=["Power", "honesty", "Openness"])
    traits = traits.mask(rng.random(traits.shape) < 0.05)
    traits.insert(0, "participant_id", raters)
    ratings.to_csv(folder / "ratings.csv", index=False)
    traits.to_csv(folder / "traits.csv", index=False)
    return ratings, traits.set_index("participant_id")


def test_the_standalone_command_writes_what_pandas_wrote_and_never_imports_pandas(tmp_path):
    ratings, traits = _study(tmp_path)
    arguments = ["--ratings", str(tmp_path / "ratings.csv"), "--traits", str(tmp_path / "traits.csv")]
    call_command("correlate", *arguments, "--out", str(tmp_path / "called.csv"), stdout=StringIO(), stderr=StringIO())

    script = ("import runpy, sys; sys.argv = ['manage.py', 'correlate', *sys.argv[1:]]; "
              "runpy.run_path('manage.py', run_name='__main__'); "
              "print('loaded:', sorted(m for m in ('pandas', 'config', 'surveys.models') if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run([sys.executable, "-c", script, *arguments, "--out", str(tmp_path / "standalone.csv")],  # noqa: S603
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert "loaded: []" in done.stdout
    assert "1 participants in" in done.stderr  # "nobody" has no trait row

    written = (tmp_path / "standalone.csv").read_bytes()
    assert written == (tmp_path / "called.csv").read_bytes()
    # The reference: the statistics of annotate_items written by pandas as the command did before.
    reference = annotate_items(ratings.astype({"rating": float}), traits)
    expected = reference[["item_id", "family", "dimension", "rho", "p_value", "n", "selected"]].astype({"n": "int64", "selected": "int64"})
    assert written.decode() == expected.to_csv(index=False, na_rep="", lineterminator="\n")
    assert b'"with,comma"' in written and b'"with ""quote"""' in written

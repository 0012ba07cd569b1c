"""Vectorised Spearman correlations vs a per-pair ``scipy.stats.spearmanr`` loop.

20,000 items x 19 dimensions, as a large study would have: items in groups of 20, each group
rated by its own 46 raters (a few ratings missing), every rater with 19 trait scores. The
baseline loops over item x dimension pairs calling ``scipy.stats.spearmanr`` on the raters with
both values; it is timed on a random sample of pairs and extrapolated to all 380,000 (the output
says so). Both are timed in this run; the goal is a ratio of at least 50.

A second, smaller case is data collected elsewhere with many raters per item (2,000 raters
rating 50 items, 1% of ratings and scores missing). Here every pair needs its own ranking, so no
method beats the plain loop by much; it checks that the work stays close to the loop's instead of
growing with raters squared (an earlier comparison-matrix version took about a minute and 900 MB).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from psychometrics.stats.correlation import spearman_long

ITEMS = 20_000
DIMENSIONS = 19
GROUP_SIZE = 20
RATERS_PER_GROUP = 46
MISSING = 0.01
BASELINE_SAMPLE = 3_000
GOAL = 50
WHOLE_REPEATS = 5
MANY_RATERS, MANY_RATERS_ITEMS = 2_000, 50


def _study(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    groups = ITEMS // GROUP_SIZE
    raters = groups * RATERS_PER_GROUP
    participant = np.repeat(np.arange(raters), GROUP_SIZE)
    item = (participant // RATERS_PER_GROUP) * GROUP_SIZE + np.tile(np.arange(GROUP_SIZE), raters)
    ratings = pd.DataFrame({"participant_id": participant, "item_id": item, "rating": rng.integers(1, 7, participant.size)})
    ratings = ratings[rng.random(len(ratings)) >= MISSING]
    traits = pd.DataFrame(rng.normal(size=(raters, DIMENSIONS)).round(2), columns=[f"D{k}" for k in range(DIMENSIONS)])
    return ratings, traits


def _baseline(by_item: dict, traits: pd.DataFrame, pairs: list[tuple[int, int]]) -> float:
    """Seconds per pair for the obvious loop: take the pair's raters, call spearmanr."""
    trait_values = traits.to_numpy()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item, dimension in pairs:
            frame = by_item[item]
            y = trait_values[frame["participant_id"].to_numpy(), dimension]
            keep = ~np.isnan(y)
            stats.spearmanr(frame["rating"].to_numpy()[keep], y[keep])
    return (time.perf_counter() - start) / len(pairs)


def main() -> None:
    ratings, traits = _study()
    print(f"{ITEMS:,} items x {DIMENSIONS} dimensions, {len(ratings):,} ratings by {len(traits):,} raters", flush=True)

    start = time.perf_counter()
    result = spearman_long(ratings, traits, items=list(range(ITEMS)))
    vectorised = time.perf_counter() - start
    print(f"vectorised spearman_long: {vectorised:.2f} s for {len(result):,} pairs", flush=True)

    rng = np.random.default_rng(1)
    pairs = [(int(i), int(d)) for i, d in zip(rng.integers(0, ITEMS, BASELINE_SAMPLE), rng.integers(0, DIMENSIONS, BASELINE_SAMPLE), strict=True)]
    by_item = dict(iter(ratings.groupby("item_id")))
    per_pair = _baseline(by_item, traits, pairs)
    loop = per_pair * ITEMS * DIMENSIONS
    print(
        f"per-pair scipy.stats.spearmanr loop: {per_pair * 1e6:.0f} us per pair, timed on {BASELINE_SAMPLE:,} random pairs "
        f"and extrapolated to {ITEMS * DIMENSIONS:,} pairs: {loop:.1f} s",
        flush=True,
    )

    # The two must agree on the sampled pairs before a speed-up means anything.
    table = result.set_index(["item_id", "dimension"])
    worst = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for item, dimension in pairs[:300]:
            frame = by_item[item]
            expected = stats.spearmanr(frame["rating"], traits.to_numpy()[frame["participant_id"], dimension]).statistic
            worst = max(worst, abs(table.loc[(item, f"D{dimension}"), "rho"] - expected))
    print(f"largest |rho difference| on 300 checked pairs: {worst:.1e}")

    ratio = loop / vectorised
    print(f"ratio: {ratio:.0f}x faster than the per-pair loop (goal >= {GOAL}x){'' if ratio >= GOAL else '  BELOW GOAL'}")
    _whole_command(ratings, traits, loop)
    _many_raters()


def _whole_command(ratings: pd.DataFrame, traits: pd.DataFrame, loop: float) -> None:
    """``manage.py correlate`` as a researcher runs it (start-up, reading, statistics, writing) vs the same loop."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        ratings.to_csv(folder / "ratings.csv", index=False)
        traits.rename_axis("participant_id").reset_index().to_csv(folder / "traits.csv", index=False)
        command = [sys.executable, "manage.py", "correlate", "--ratings", str(folder / "ratings.csv"),
                   "--traits", str(folder / "traits.csv"), "--out", str(folder / "out.csv")]
        times = []
        for _ in range(WHOLE_REPEATS):  # the median of a few runs: one process start on a shared machine is noisy
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env={**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": ""})  # noqa: S603 (our own command)
            times.append(time.perf_counter() - start)
        whole = statistics.median(times)
    ratio = loop / whole
    print(f"whole `manage.py correlate` process: {whole:.2f} s (median of {WHOLE_REPEATS} runs: "
          f"{', '.join(f'{t:.2f}' for t in times)}), {ratio:.0f}x the per-pair loop "
          f"(goal >= {GOAL}x){'' if ratio >= GOAL else '  BELOW GOAL'}")


def _many_raters() -> None:
    rng = np.random.default_rng(2)
    ratings = pd.DataFrame(rng.integers(1, 7, (MANY_RATERS, MANY_RATERS_ITEMS)).astype(float))
    ratings = ratings.mask(rng.random(ratings.shape) < MISSING)
    traits = pd.DataFrame(rng.normal(size=(MANY_RATERS, DIMENSIONS)).round(2), columns=[f"D{k}" for k in range(DIMENSIONS)])
    traits = traits.mask(rng.random(traits.shape) < MISSING)
    long = ratings.stack().rename("rating").rename_axis(["participant_id", "item_id"]).reset_index()

    start = time.perf_counter()
    spearman_long(long, traits)
    vectorised = time.perf_counter() - start
    by_item = dict(iter(long.groupby("item_id")))
    pairs = [(item, dimension) for item in range(MANY_RATERS_ITEMS) for dimension in range(DIMENSIONS)]
    loop = _baseline(by_item, traits, pairs) * len(pairs)
    print(
        f"many raters ({MANY_RATERS:,} per item, {MANY_RATERS_ITEMS} items x {DIMENSIONS} dimensions): vectorised "
        f"{vectorised:.2f} s, per-pair loop {loop:.2f} s, ratio {loop / vectorised:.1f}x (no goal: checks the work stays linear)"
    )


if __name__ == "__main__":
    main()

"""Measure the default screens on real and simulated respondents: ``python -m psychometrics.reference.calibrate``.

Prints, for the default rule set (attention checks and completion time aside), the share of
ordinary respondents excluded and the share of simulated careless respondents flagged:

- real PVQ-21 respondents (GSS 2012, the shipped reference sample): screened as they are, and
  held out (the outlier model's reference is the other half, so the sample is not its own anchor);
- BFI-10 respondents simulated from published norms with another seed than the reference;
- careless patterns mixed into those samples (10 %) and screened alone: uniformly random,
  straight-line (one answer throughout), alternating (low/high), midpoint-heavy (mostly the middle);
- participants who answered both questionnaires.

The test ``tests/psychometrics/test_screening_calibration.py`` asserts the same figures.
"""

import argparse
from unittest import mock

import numpy as np
import pandas as pd

from psychometrics.reference.simulate_bfi10 import simulate
from psychometrics.stats import careless
from psychometrics.stats.filtering import DATA_QUALITY_REASONS, FilterRules, participant_decisions

PVQ = ("PVQ-21", 21, (1, 6))
BFI = ("BFI-10", 10, (1, 5))
PATTERNS = ("random", "straight-line", "alternating", "midpoint-heavy")


def careless_answers(pattern: str, n: int, questions: int, scale: tuple[int, int], rng) -> np.ndarray:
    low, high = scale
    if pattern == "random":
        return rng.integers(low, high + 1, (n, questions))
    if pattern == "straight-line":
        return np.repeat(rng.integers(low, high + 1, (n, 1)), questions, axis=1)
    if pattern == "alternating":
        start = rng.integers(0, 2, (n, 1))
        pair = np.where((np.arange(questions) + start) % 2 == 0, low, high)
        jitter = rng.integers(0, 2, (n, questions)) * np.where(pair == low, 1, -1)  # e.g. 1/6 or 2/5
        return pair + jitter
    if pattern == "midpoint-heavy":
        middle = [(low + high) // 2, (low + high + 1) // 2]
        answers = rng.choice(middle, (n, questions))
        others = rng.random((n, questions)) < 0.2
        return np.where(others, rng.integers(low, high + 1, (n, questions)), answers)
    raise ValueError(pattern)


def flagged(pvq: np.ndarray | None, bfi: np.ndarray | None, rules: FilterRules | None = None) -> np.ndarray:
    """Whether each row is excluded by the data-quality rules (rows line up across pvq and bfi)."""
    n = len(pvq) if pvq is not None else len(bfi)
    ids = [f"p{i}" for i in range(n)]

    def frame(values, questions):
        if values is None:
            return pd.DataFrame(columns=range(1, questions + 1), dtype=float)
        return pd.DataFrame(values.astype(float), index=ids, columns=range(1, questions + 1))

    participants = pd.DataFrame(
        {"participant": ids, "ended_by_failed_checks": False, "failed_checks": 0, "completion_seconds": np.nan}
    )
    decisions = participant_decisions(participants, frame(pvq, 21), frame(bfi, 10), rules or FilterRules())
    return decisions["reasons"].map(lambda codes: bool(DATA_QUALITY_REASONS & set(codes))).to_numpy()


def measure(repeats: int = 3, seed: int = 12) -> dict[str, float]:
    """The calibration figures (shares, 0-1), averaged over ``repeats`` random draws."""
    rng = np.random.default_rng(seed)
    gss = careless.reference_answers("PVQ-21")
    real_reference = careless.reference_answers
    figures: dict[str, list[float]] = {}

    def add(key, value):
        figures.setdefault(key, []).append(float(value))

    add("pvq21 real excluded (calibration sample)", flagged(gss, None).mean())
    for repeat in range(repeats):
        order = rng.permutation(len(gss))
        anchor, held_out = gss[order[: len(gss) // 2]], gss[order[len(gss) // 2 :]]
        with mock.patch.object(
            careless, "reference_answers",
            lambda name, a=anchor, real=real_reference: a if name == "PVQ-21" else real(name),
        ):
            add("pvq21 real excluded (held out)", flagged(held_out, None).mean())
        bfi_real = simulate(1000, seed=1000 + repeat).drop(columns="participant_id").to_numpy()
        add("bfi10 simulated excluded", flagged(None, bfi_real).mean())
        both = min(len(gss), len(bfi_real))
        add("both real excluded", flagged(gss[:both], bfi_real[:both]).mean())
        for pattern in PATTERNS:
            for name, questions, scale, real in (("pvq21", 21, (1, 6), gss), ("bfi10", 10, (1, 5), bfi_real)):
                fake = careless_answers(pattern, len(real) // 9, questions, scale, rng)  # 10 % of the mixed sample
                mixed = np.vstack([real, fake])
                flags = flagged(mixed, None) if name == "pvq21" else flagged(None, mixed)
                add(f"{name} {pattern} flagged (10 % mixed in)", flags[len(real):].mean())
                add(f"{name} real excluded with 10 % {pattern}", flags[: len(real)].mean())
                alone = careless_answers(pattern, 300, questions, scale, rng)
                add(f"{name} {pattern} flagged (screened alone)", (flagged(alone, None) if name == "pvq21" else flagged(None, alone)).mean())
            fake_pvq = careless_answers(pattern, both // 9, 21, (1, 6), rng)
            fake_bfi = careless_answers(pattern, both // 9, 10, (1, 5), rng)
            flags = flagged(np.vstack([gss[:both], fake_pvq]), np.vstack([bfi_real[:both], fake_bfi]))
            add(f"both {pattern} flagged (10 % mixed in)", flags[both:].mean())
    return {key: float(np.mean(values)) for key, values in figures.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="random draws to average (default 3)")
    args = parser.parse_args(argv)
    for key, value in measure(args.repeats).items():
        print(f"{key:<55} {value:7.1%}")


if __name__ == "__main__":
    main()

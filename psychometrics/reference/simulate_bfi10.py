"""Simulate BFI-10 respondents from published norms: the reference sample of the BFI-10 outlier screen.

No public BFI-10 sample is available to ship, so the reference is simulated (fixed seed; the CSV
next to this file is its output: ``python -m psychometrics.reference.simulate_bfi10``).

Model (documented in docs/psychometrics.md, "Screening"): five correlated latent traits plus an
acquiescence factor; each item is ``loading * trait (sign by keying) + 0.3 * acquiescence + noise``,
cut into the five answer categories so that each item has the target mean and SD.

- Item means and SDs: approximate values of the size published for adult English- and
  German-language samples (Rammstedt & John, 2007, Journal of Research in Personality 41, 203-212;
  Rammstedt, Kemper, Klein, Beierlein & Kovaleva, 2013, methoden, daten, analysen 7, 233-249):
  means 2.4-4.1 on 1-5, SDs 0.9-1.2.
- Correlation of each trait's two keyed items (after reversing, before acquiescence, which lowers it by .09): E .55, A .25, C .40, N .45, O .30
  (the two-item scales' reliabilities reported there are of this size; Agreeableness is the weakest).
- Trait intercorrelations of the size in van der Linden, te Nijenhuis & Bakker (2010, meta-analysis):
  E-A .15, E-C .15, E-N -.25, E-O .25, A-C .25, A-N -.25, A-O .10, C-N -.30, C-O .10, N-O -.10.
- Acquiescence loading .3 on every raw item (Rammstedt & Farmer, 2013, report acquiescence of this
  size in BFI-10 data), which makes reversed pairs correlate less negatively in raw answers.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

SEED = 20070101
N = 2000
OUT = Path(__file__).with_name("bfi10_simulated.csv")

TRAITS = ("E", "A", "C", "N", "O")
# Rammstedt & John (2007) order: (trait, reversed)
ITEMS = (("E", True), ("A", False), ("C", True), ("N", True), ("O", True),
         ("E", False), ("A", True), ("C", False), ("N", False), ("O", False))
MEANS = (2.9, 3.6, 2.4, 3.2, 2.6, 3.4, 2.8, 4.1, 2.9, 3.7)
SDS = (1.1, 1.0, 1.1, 1.1, 1.2, 1.1, 1.0, 0.9, 1.1, 1.0)
PAIR_R = {"E": 0.55, "A": 0.25, "C": 0.40, "N": 0.45, "O": 0.30}
TRAIT_R = {
    ("E", "A"): 0.15, ("E", "C"): 0.15, ("E", "N"): -0.25, ("E", "O"): 0.25, ("A", "C"): 0.25,
    ("A", "N"): -0.25, ("A", "O"): 0.10, ("C", "N"): -0.30, ("C", "O"): 0.10, ("N", "O"): -0.10,
}
ACQUIESCENCE = 0.3


def simulate(n: int = N, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    corr = np.eye(5)
    for (a, b), r in TRAIT_R.items():
        i, j = TRAITS.index(a), TRAITS.index(b)
        corr[i, j] = corr[j, i] = r
    traits = rng.multivariate_normal(np.zeros(5), corr, size=n)
    acquiescence = rng.standard_normal(n)
    answers = {}
    for q, ((trait, reversed_), mean, sd) in enumerate(zip(ITEMS, MEANS, SDS, strict=True), start=1):
        loading = np.sqrt(PAIR_R[trait])  # two items with this loading correlate PAIR_R (keyed)
        sign = -1.0 if reversed_ else 1.0
        latent = sign * loading * traits[:, TRAITS.index(trait)] + ACQUIESCENCE * acquiescence
        latent += np.sqrt(max(1 - loading**2 - ACQUIESCENCE**2, 0.05)) * rng.standard_normal(n)
        latent = (latent - latent.mean()) / latent.std()
        # Thresholds of a discretised normal with the target mean and SD on the 1-5 scale.
        cuts = (np.array([1.5, 2.5, 3.5, 4.5]) - mean) / sd
        answers[f"q{q}"] = 1 + np.searchsorted(cuts, latent)
    frame = pd.DataFrame(answers)
    frame.insert(0, "participant_id", [f"sim{i + 1:04d}" for i in range(n)])
    return frame


if __name__ == "__main__":
    frame = simulate()
    frame.to_csv(OUT, index=False)
    means = frame.iloc[:, 1:].mean().round(2).tolist()
    print(f"wrote {OUT} ({len(frame)} respondents); item means {means}")
    keyed = frame.iloc[:, 1:].to_numpy(float).copy()
    for q, (_, reversed_) in enumerate(ITEMS):
        if reversed_:
            keyed[:, q] = 6 - keyed[:, q]
    pairs = [stats.pearsonr(keyed[:, i], keyed[:, i + 5])[0] for i in range(5)]
    print("keyed pair correlations", np.round(pairs, 2).tolist())

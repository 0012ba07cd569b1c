"""Careless-responding indices of questionnaire answers: longstring, Mahalanobis distance, and the
outlier score the default screen uses.

All functions take wide answer tables (one row per participant, one column per question, NaN for no
answer) and return one value per participant. See docs/psychometrics.md, "Screening", for the
calibration of each cut-off on real respondents and simulated careless patterns.
"""

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"
REFERENCE_FILES = {"PVQ-21": "pvq21_gss2012_us.csv", "BFI-10": "bfi10_simulated.csv"}
# Added to every category count: an answer no reference respondent gave still has a finite probability.
SMOOTHING = 0.5
SAMPLE_CORR_SHARE = 1.0
CV_FOLDS = 5
MIN_SAMPLE_FOR_SHIFT = 30
SHIFT_CAP = 1.0


def longstring(answers: pd.DataFrame) -> pd.Series:
    """The longest run of identical consecutive answers of each participant (Johnson, 2005).

    A missing answer ends a run. A participant with no answers gets NaN.
    """
    values = answers.to_numpy(float)
    best = np.where(np.isnan(values[:, 0]), 0, 1) if values.shape[1] else np.zeros(len(values))
    run = best.copy()
    for j in range(1, values.shape[1]):
        same = values[:, j] == values[:, j - 1]  # False where either is NaN
        run = np.where(same, run + 1, np.where(np.isnan(values[:, j]), 0, 1))
        best = np.maximum(best, run)
    result = pd.Series(best.astype(float), index=answers.index, name="longstring")
    return result.where(answers.notna().any(axis=1))


def mahalanobis_squared(answers: pd.DataFrame) -> pd.Series:
    """In-sample squared Mahalanobis distance of each complete answer vector (Meade & Craig, 2012).

    Mean and covariance (ddof 1) are estimated from the participants who answered every question;
    the others get NaN, as everyone does when there are too few complete answers (fewer than the
    number of questions + 2) for a covariance matrix. A singular covariance (a question everyone
    answered alike) uses the pseudo-inverse.
    """
    values = answers.to_numpy(float)
    complete = ~np.isnan(values).any(axis=1)
    result = np.full(len(values), np.nan)
    x = values[complete]
    if len(x) >= values.shape[1] + 2:
        centred = x - x.mean(axis=0)
        precision = np.linalg.pinv(np.cov(x, rowvar=False))
        result[complete] = np.einsum("ij,jk,ik->i", centred, precision, centred)
    return pd.Series(result, index=answers.index, name="mahalanobis")


@cache
def reference_answers(instrument: str) -> np.ndarray:
    """The reference respondents of an instrument as an int array (respondents x questions).

    PVQ-21: 1,255 real US adults (GSS 2012, see psychometrics/reference/README.md); BFI-10: 2,000
    respondents simulated from published norms (psychometrics/reference/simulate_bfi10.py).
    """
    frame = pd.read_csv(REFERENCE_DIR / REFERENCE_FILES[instrument])
    return frame.drop(columns="participant_id").to_numpy(int)


class CopulaModel:
    """A Gaussian copula with the sample's own answer frequencies as margins.

    Each question's answer categories get their smoothed relative frequencies ``P_j(k)`` and normal
    scores ``z_j(k) = Phi^-1(F_j(k) - P_j(k)/2)`` (the category's mid-probability); the correlation
    matrix ``R`` of the normal scores carries the questionnaire's structure. The outlier score of an
    answer vector is its negative log-likelihood under the model,

        -sum_j log P_j(x_j) + (z' R^-1 z - z' z) / 2,

    i.e. a Mahalanobis distance on normal scores (the copula part) plus how rare each chosen answer
    is (the margins). Uniformly random answers are unlikely on both counts.
    """

    def __init__(
        self, answers: np.ndarray, *, scale: tuple[int, int], weights: np.ndarray | None = None,
        corr_weights: np.ndarray | None = None,
    ):
        low, high = scale
        n_categories = high - low + 1
        codes = answers.astype(int) - low
        weights = np.ones(len(codes)) if weights is None else weights
        counts = np.stack(
            [np.bincount(codes[:, j], weights=weights, minlength=n_categories) for j in range(codes.shape[1])]
        )
        prob = (counts + SMOOTHING) / (counts + SMOOTHING).sum(axis=1, keepdims=True)
        self.low = low
        self.log_prob = np.log(prob)
        from scipy import stats  # imported here: scipy.stats costs ~1 s at start-up of every command

        self.normal_scores = stats.norm.ppf(np.cumsum(prob, axis=1) - prob / 2)
        z = self._scores(codes)
        corr_weights = weights if corr_weights is None else corr_weights
        keep = corr_weights > 0
        corr = _weighted_corr(z[keep], corr_weights[keep]) if keep.sum() > 2 else np.eye(codes.shape[1])
        corr = np.nan_to_num(corr, nan=0.0)
        np.fill_diagonal(corr, 1.0)
        self.precision_minus_identity = np.linalg.pinv(corr) - np.eye(codes.shape[1])

    def _scores(self, codes: np.ndarray) -> np.ndarray:
        return np.take_along_axis(self.normal_scores, codes.T, axis=1).T

    def score(self, answers: np.ndarray) -> np.ndarray:
        codes = answers.astype(int) - self.low
        z = self._scores(codes)
        log_margins = np.take_along_axis(self.log_prob, codes.T, axis=1).T.sum(axis=1)
        return -log_margins + 0.5 * np.einsum("ij,jk,ik->i", z, self.precision_minus_identity, z)


def _weighted_corr(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    cov = np.cov(x, rowvar=False, aweights=weights)
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.outer(sd, sd)


def _held_out_reference_scores(reference: np.ndarray, sample: np.ndarray, *, scale, weight: float) -> np.ndarray:
    """Each reference respondent's score under a model fitted without them (``CV_FOLDS``-fold).

    In-sample scores are optimistic (the model has seen the answers), so a cut-off taken from them
    would flag new ordinary respondents more often than ``rate``.
    """
    folds = np.arange(len(reference)) % CV_FOLDS
    scores = np.empty(len(reference))
    for fold in range(CV_FOLDS):
        train = np.vstack([reference[folds != fold], sample])
        weights = np.ones(len(train))
        weights[(folds != fold).sum():] = weight
        model = CopulaModel(train, scale=scale, corr_weights=weights)
        scores[folds == fold] = model.score(reference[folds == fold])
    return np.sort(scores)


def structure_ratio(sample: np.ndarray, reference: np.ndarray) -> float:
    """How much of the reference's inter-item structure the sample has: mean |r| between questions in
    the sample over the same in the reference, 0-1. A real population keeps the questionnaire's
    structure (near 1); careless answers have none (near 0)."""

    def mean_abs_corr(values):
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(values, rowvar=False)
        off = corr[~np.eye(len(corr), dtype=bool)]
        return float(np.nanmean(np.abs(off))) if np.isfinite(off).any() else 0.0

    return float(np.clip(mean_abs_corr(sample) / mean_abs_corr(reference), 0.0, 1.0))


def population_shift(sample_scores: np.ndarray, reference_scores: np.ndarray, structure: float) -> float:
    """How much less typical the sample's median respondent is than the reference's (see above).

    Capped at the reference's upper-quartile spread times ``structure`` squared, so a sample of mostly
    careless answers (no structure) cannot move the cut-off; zero for samples smaller than
    ``MIN_SAMPLE_FOR_SHIFT`` or more typical than the reference.
    """
    if len(sample_scores) < MIN_SAMPLE_FOR_SHIFT:
        return 0.0
    median = np.median(reference_scores)
    cap = SHIFT_CAP * structure**2 * (np.quantile(reference_scores, 0.75) - median)
    return float(np.clip(np.median(sample_scores) - median, 0.0, cap))


def _score_pass(sample, reference, scale, rates) -> tuple[np.ndarray, np.ndarray]:
    """Scores and flags of the sample under a model of the reference pooled with the sample."""
    train = sample
    pooled = np.vstack([reference, train])
    weights = np.ones(len(pooled))
    # The sample's weight in the correlations is capped at the reference's: a coherent careless
    # pattern (e.g. alternating answers) in a sample must not become the questionnaire's structure.
    weight = min(1.0, SAMPLE_CORR_SHARE * len(reference) / max(len(train), 1))
    weights[len(reference):] = weight
    model = CopulaModel(pooled, scale=scale, corr_weights=weights)
    reference_scores = _held_out_reference_scores(reference, train, scale=scale, weight=weight)
    scores = model.score(sample) if len(sample) else np.zeros(0)
    # The (1 - rate) quantile of the reference scores, per participant (linear interpolation, as np.quantile),
    # moved up by the sample's typical distance from the reference (a population with another response
    # style), capped so that a sample of careless answers cannot move the cut-off past itself.
    structure = structure_ratio(sample, reference) if len(sample) > 2 else 0.0
    cut = np.quantile(reference_scores, np.clip(1 - rates, 0, 1)) + population_shift(scores, reference_scores, structure)
    return scores, scores > cut


def outlier_scores(
    answers: pd.DataFrame, *, instrument: str, scale: tuple[int, int], rate: pd.Series | float
) -> tuple[pd.Series, pd.Series]:
    """Outlier score of each complete answer vector and whether it passes the cut-off.

    The model (``CopulaModel``) is fitted on the sample pooled with the instrument's reference
    respondents, so it follows the sample's own population when the sample is large and stays
    anchored to real answers when the sample is small or full of careless answers. A participant
    is flagged when their score exceeds the ``1 - rate`` quantile of the reference respondents'
    scores under the same model: ``rate`` is the share of ordinary respondents the screen may
    flag (a number, or a per-participant Series, e.g. split across two questionnaires).

    Incomplete answer vectors get NaN and are never flagged.

    Returns
    -------
    (Series, Series)
        The scores (``outlier_score``) and the flags (bool), indexed like ``answers``.
    """
    values = answers.to_numpy(float)
    complete = ~np.isnan(values).any(axis=1)
    reference = reference_answers(instrument)
    sample = values[complete].astype(int)
    rates = (rate if isinstance(rate, pd.Series) else pd.Series(rate, index=answers.index)).to_numpy(float)
    # (A second pass fitted without the first pass's flagged answers changed the measured rates by
    # less than a percentage point, so there is one.)
    sample_scores, sample_flags = _score_pass(sample, reference, scale, rates[complete])
    scores = np.full(len(values), np.nan)
    scores[complete] = sample_scores
    flags = np.zeros(len(values), dtype=bool)
    flags[complete] = sample_flags
    return (
        pd.Series(scores, index=answers.index, name="outlier_score"),
        pd.Series(flags, index=answers.index, name="outlier"),
    )

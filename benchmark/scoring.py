"""Scoring a model's answers: per-item means, item selection, per-dimension scores, reliability.

Pure pandas/numpy, no Django. The pipeline of the paper (§3.4.1):

1. ``item_means``: each item's rating averaged over the six prompts (unparsed answers left out).
2. ``select_items``: items keyed to a dimension are those with ρ ≥ threshold (``positive``, the
   paper's tables) or |ρ| ≥ threshold (``signed``, negatively keyed items reverse-scored 7 − x),
   both with p < alpha (or the Benjamini-Hochberg adjusted p with ``fdr``); ``select_stored`` takes
   the selection an item bank carries instead; ``apply_selection`` picks one from a run's protocol.
3. ``score_dimensions``: a dimension's ``mean`` is the mean of its items' means; its ``score`` is
   that mean minus the mean over all items keyed to any dimension of the same family (Schwartz's
   centring for scale use), each item entering the baseline with the same (reverse-)scored value
   it has in the dimensions (in ``signed`` mode: the mean of its keyed values, see ``_baseline_coefficients``). ``ci_low``/``ci_high`` are a two-stage percentile bootstrap: the
   dimension's and the family's other items are resampled, and each item's prompts, and the score (baseline
   included) is recomputed in every replicate (seeded, so reproducible). Fewer than
   ``MIN_ITEMS_FOR_INTERVAL`` keyed items give no interval.
"""

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from benchmark.protocol import DEFAULT_ALPHA, DEFAULT_THRESHOLD, SELECTION_FROM_BANK
from psychometrics.stats.reliability import cronbach_alpha
from psychometrics.stats.selection import benjamini_hochberg

MODES = ("positive", "signed")
DEFAULT_BOOTSTRAP = 2000
DEFAULT_SEED = 20250101
REVERSE_BASE = 7  # a rating x reverse-scored on the 1-6 scale is 7 - x

SCORE_COLUMNS = ["family", "dimension", "score", "mean", "sd", "n_items", "ci_low", "ci_high"]
# Below this many keyed items a bootstrap interval is meaningless (one item: zero width).
MIN_ITEMS_FOR_INTERVAL = 3
NO_INTERVAL_REASON = f"no interval: fewer than {MIN_ITEMS_FOR_INTERVAL} keyed items"
# Remembered bootstrap counts (_stratified_counts), least recently used dropped beyond this many bytes.
COUNTS_MEMORY_BYTES = 256 * 2**20
_COUNTS: OrderedDict = OrderedDict()
_COUNTS_LOCK = threading.Lock()
SELECTION_COLUMNS = ["item_id", "family", "dimension", "rho", "p_value", "sign"]


def _require_columns(df: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [column for column in columns if column not in df.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {', '.join(missing)}")


def item_means(answers: pd.DataFrame) -> pd.DataFrame:
    """Mean parsed rating of each item over its prompts.

    Parameters
    ----------
    answers : DataFrame with columns ``item_id``, ``prompt_index``, ``rating`` (NaN/None = unparsed).

    Returns
    -------
    DataFrame with columns ``item_id``, ``mean``, ``n_parsed``, ``n_answers``; items whose answers
    all failed to parse have ``mean`` NaN.

    Examples
    --------
    >>> answers = pd.DataFrame({"item_id": ["a", "a", "b"], "prompt_index": [0, 1, 0], "rating": [6, 4, None]})
    >>> item_means(answers)["mean"].tolist()
    [5.0, nan]
    """
    _require_columns(answers, ["item_id", "prompt_index", "rating"], "answers")
    ratings = pd.to_numeric(answers["rating"], errors="coerce")
    frame = pd.DataFrame({"item_id": answers["item_id"].astype(str), "rating": ratings})
    grouped = frame.groupby("item_id", sort=True)["rating"]
    result = pd.DataFrame({"mean": grouped.mean(), "n_parsed": grouped.count(), "n_answers": grouped.size()})
    return result.reset_index()[["item_id", "mean", "n_parsed", "n_answers"]]


def select_items(
    correlations: pd.DataFrame,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    mode: str = "positive",
    fdr: bool = False,
) -> pd.DataFrame:
    """Items keyed to each dimension, with their sign (+1, or -1 for reverse-keyed items in ``signed`` mode).

    Parameters
    ----------
    correlations : DataFrame with columns ``item_id``, ``family``, ``dimension``, ``rho``, ``p_value``.
    threshold : minimum ρ (``positive``) or |ρ| (``signed``).
    alpha : p must be strictly below ``alpha``.
    mode : ``"positive"`` (the paper's tables) or ``"signed"``.
    fdr : compare the Benjamini-Hochberg (1995) adjusted p-values, over every non-null p of
        ``correlations`` (a bank's every item × dimension test, as ``analyze --fdr`` adjusts a
        study's), with ``alpha`` instead of the raw ones.
    """
    _require_columns(correlations, ["item_id", "family", "dimension", "rho", "p_value"], "correlations")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    rho = pd.to_numeric(correlations["rho"], errors="coerce")
    p_value = pd.to_numeric(correlations["p_value"], errors="coerce")
    if fdr:
        p_value = pd.Series(benjamini_hochberg(p_value.to_numpy(float)), index=p_value.index)
    strength = rho if mode == "positive" else rho.abs()
    keep = (strength >= threshold) & (p_value < alpha)
    selected = correlations.loc[keep, ["item_id", "family", "dimension"]].copy()
    selected["item_id"] = selected["item_id"].astype(str)
    selected["rho"] = rho[keep].to_numpy()
    selected["p_value"] = p_value[keep].to_numpy()
    selected["sign"] = np.where(selected["rho"].to_numpy() < 0, -1, 1)
    return selected[SELECTION_COLUMNS].reset_index(drop=True)


def select_stored(correlations: pd.DataFrame, *, mode: str = "positive") -> pd.DataFrame:
    """The selection an item bank carries (its ``selected`` flags), read in ``mode``.

    An analysis selects an item for a dimension when |ρ| passes its rule, so its selection holds
    negatively keyed pairs too: ``positive`` mode keeps the selected pairs with ρ > 0 (for the
    default rule exactly what :func:`select_items` keeps), ``signed`` keeps every selected pair,
    the negative ones reverse-scored (sign −1).

    Parameters
    ----------
    correlations : DataFrame with columns ``item_id``, ``family``, ``dimension``, ``rho``, ``p_value``, ``selected``.

    Returns
    -------
    DataFrame with the columns of :func:`select_items`.
    """
    _require_columns(correlations, ["item_id", "family", "dimension", "rho", "p_value", "selected"], "correlations")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    rho = pd.to_numeric(correlations["rho"], errors="coerce")
    keep = (correlations["selected"].astype("boolean").fillna(False).to_numpy(bool)) & rho.notna().to_numpy()
    if mode == "positive":
        keep &= (rho > 0).to_numpy()
    selected = correlations.loc[keep, ["item_id", "family", "dimension"]].copy()
    selected["item_id"] = selected["item_id"].astype(str)
    selected["rho"] = rho[keep].to_numpy()
    selected["p_value"] = pd.to_numeric(correlations["p_value"], errors="coerce")[keep].to_numpy()
    selected["sign"] = np.where(selected["rho"].to_numpy() < 0, -1, 1)
    return selected[SELECTION_COLUMNS].reset_index(drop=True)


def apply_selection(correlations: pd.DataFrame, selection: dict, *, mode: str = "positive") -> pd.DataFrame:
    """The items a protocol's ``selection`` (:mod:`benchmark.protocol`) keys to each dimension, in ``mode``."""
    if selection.get("source") == SELECTION_FROM_BANK:
        return select_stored(correlations, mode=mode)
    return select_items(correlations, threshold=float(selection.get("threshold", DEFAULT_THRESHOLD)),
                        alpha=float(selection.get("alpha", DEFAULT_ALPHA)), mode=mode, fdr=bool(selection.get("fdr")))


def unkeyed_families(correlations: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """Families the correlations measure but no item of which is keyed under the selection rule.

    Parameters
    ----------
    correlations : the input of :func:`select_items` (``item_id, family, dimension, rho, p_value``).
    selection : its output.

    Returns
    -------
    DataFrame ``family, n_correlations, item_id, dimension, rho, p_value``: one row per family with
    no keyed item, in order of first appearance, with its strongest correlation (largest |ρ|; NaN
    when every ρ is missing) so a message can say how far the bank is from the rule.

    Examples
    --------
    >>> corr = pd.DataFrame({"item_id": ["a", "a"], "family": ["pvq", "bfi"], "dimension": ["Benevolence", "Openness"],
    ...                      "rho": [0.5, 0.1], "p_value": [0.001, 0.4]})
    >>> unkeyed_families(corr, select_items(corr))["family"].tolist()
    ['bfi']
    """
    _require_columns(correlations, ["item_id", "family", "dimension", "rho", "p_value"], "correlations")
    _require_columns(selection, ["family"], "selection")
    columns = ["family", "n_correlations", "item_id", "dimension", "rho", "p_value"]
    keyed = set(selection["family"])
    rows = []
    for family, group in correlations.groupby("family", sort=False):
        if family in keyed:
            continue
        strength = pd.to_numeric(group["rho"], errors="coerce").abs()
        if strength.notna().any():
            best = group.loc[strength.idxmax()]
            rows.append((family, len(group), str(best["item_id"]), best["dimension"], float(best["rho"]),
                         float(best["p_value"]) if pd.notna(best["p_value"]) else np.nan))
        else:
            rows.append((family, len(group), None, None, np.nan, np.nan))
    return pd.DataFrame(rows, columns=columns)


def _prompt_resampled_means(answers: pd.DataFrame | None, item_ids: list[str], n_boot: int, rng) -> np.ndarray:
    """(n_boot, items) item means with each item's parsed prompt answers resampled with replacement.

    Without ``answers`` (item means only), the item means themselves, repeated.
    """
    if answers is None:
        return None
    ratings = pd.to_numeric(answers["rating"], errors="coerce")
    parsed = pd.DataFrame({"item_id": answers["item_id"].astype(str), "rating": ratings}).dropna()
    by_item = {item: group.to_numpy(float) for item, group in parsed.groupby("item_id")["rating"]}
    result = np.empty((n_boot, len(item_ids)))
    for j, item in enumerate(item_ids):
        values = by_item[item]
        picks = rng.integers(0, len(values), size=(n_boot, len(values)))
        result[:, j] = values[picks].mean(axis=1)
    return result


def _family_bootstrap(
    keyed: pd.DataFrame, family: str, answers: pd.DataFrame | None, n_boot: int, seed: int
) -> tuple[list[str], np.ndarray]:
    """A family's distinct keyed item ids and their replicate raw means (n_boot, items).

    With ``answers``, each item's prompt answers are resampled with replacement in every replicate
    (the second stage of a two-stage bootstrap, Davison & Hinkley 1997, §2.4; Field & Welsh 2007);
    without, the item means are repeated.
    """
    rng = np.random.default_rng(seed)
    distinct = keyed[keyed["family"] == family].drop_duplicates("item_id")
    item_ids = distinct["item_id"].astype(str).tolist()
    raw = _prompt_resampled_means(answers, item_ids, n_boot, rng)
    if raw is None:
        raw = np.broadcast_to(distinct["raw"].to_numpy(float), (n_boot, len(item_ids)))
    return item_ids, raw


def _baseline_coefficients(keyed: pd.DataFrame, family: str, item_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(a, b)`` per item such that the item's value in the family baseline is ``a + b * raw``.

    An item keyed to ``k`` dimensions of the family, ``n`` of them negatively, enters the baseline with
    the mean of the values it has in those dimensions: ``((k - n) * x + n * (7 - x)) / k``, so
    ``a = 7n / k`` and ``b = (k - 2n) / k``. With positive keys only this is the raw mean ``x``
    (the paper's baseline); in ``signed`` mode a reverse-keyed item enters as ``7 - x``, as in its
    dimension, so that centring removes scale use from the same values the dimensions average.
    """
    mine = keyed[keyed["family"] == family]
    k = mine.groupby("item_id")["sign"].size().reindex(item_ids).to_numpy(float)
    n = mine.assign(negative=mine["sign"] < 0).groupby("item_id")["negative"].sum().reindex(item_ids).to_numpy(float)
    return REVERSE_BASE * n / k, (k - 2 * n) / k


def _stratified_counts(in_dimension: np.ndarray, n_boot: int, seed) -> np.ndarray:
    """Bootstrap counts (n_boot, items): the dimension's items and the family's other items are
    resampled separately, each stratum keeping its size (the design: a dimension has its items).

    Drawn from ``np.random.default_rng(seed)``. The draws depend only on the strata, ``n_boot`` and
    ``seed``, not on any rating, so they are remembered (:data:`_COUNTS`): a run's scores, its scores by
    prompt template and its report draw the same counts once, and :func:`warm_bootstrap` draws them
    while the run's requests are out. Read-only arrays; equal to drawing them again.
    """
    key = (n_boot, repr(seed), np.packbits(in_dimension).tobytes(), len(in_dimension))
    with _COUNTS_LOCK:
        counts = _COUNTS.get(key)
        if counts is not None:
            _COUNTS.move_to_end(key)
            return counts
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_boot, len(in_dimension)), dtype=int)
    for stratum in (in_dimension, ~in_dimension):
        size = int(stratum.sum())
        if size:
            counts[:, stratum] = rng.multinomial(size, np.full(size, 1 / size), size=n_boot)
    counts.flags.writeable = False
    with _COUNTS_LOCK:
        _COUNTS[key] = counts
        while sum(value.nbytes for value in _COUNTS.values()) > COUNTS_MEMORY_BYTES and len(_COUNTS) > 1:
            _COUNTS.popitem(last=False)
    return counts


def warm_bootstrap(selection: pd.DataFrame, *, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = DEFAULT_SEED) -> None:
    """Draw the bootstrap counts :func:`score_dimensions` will use for ``selection`` when every keyed item has an
    answer (run_execute calls this in a thread while requests are out, so scoring at the end need not draw them)."""
    if selection.empty:
        return
    means = pd.DataFrame({"item_id": selection["item_id"].astype(str).unique(), "mean": 1.0})
    score_dimensions(means, selection, n_boot=n_boot, seed=seed)


def score_dimensions(
    means: pd.DataFrame,
    selection: pd.DataFrame,
    *,
    answers: pd.DataFrame | None = None,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per-dimension value-orientation scores.

    For a dimension *d* of family *f* with keyed item means :math:`x_i` (reverse-keyed items
    :math:`7 - x_i`), ``mean`` = :math:`\\bar{x}_d`, ``score`` = :math:`\\bar{x}_d - \\bar{x}_f`
    where :math:`\\bar{x}_f` is the mean over every distinct item keyed to any dimension of *f* of
    that item's keyed value (Schwartz, 1992; Value Portrait §3.4.1): its raw mean rating in
    ``positive`` mode; in ``signed`` mode the mean of the values it has in *f*'s dimensions (7 − x
    where reverse-keyed), so the baseline is computed on the same reverse-scored values as the
    dimensions. ``sd`` is the SD (ddof=1) of the keyed item
    means.

    The interval is a percentile bootstrap in which the dimension's items and the family's other
    keyed items are resampled with replacement (separately, so each keeps its size) and, when
    ``answers`` (item_id, rating per prompt) are given, each item's prompt answers too; the
    dimension mean *and* the family baseline are recomputed in every replicate (the baseline
    contains the same items). A dimension with fewer than ``MIN_ITEMS_FOR_INTERVAL`` keyed items has no
    interval (NaN; ``NO_INTERVAL_REASON`` says why).

    Parameters
    ----------
    means : output of :func:`item_means` (``item_id``, ``mean``).
    selection : output of :func:`select_items`.
    answers : optional, the answers :func:`item_means` was computed from (prompt-level bootstrap).

    Returns
    -------
    DataFrame with columns ``family, dimension, score, mean, sd, n_items, ci_low, ci_high``, one row
    per (family, dimension) present in ``selection``, in order of first appearance; a dimension none
    of whose items has a parsed answer has ``n_items`` 0 and NaN statistics.
    """
    _require_columns(means, ["item_id", "mean"], "means")
    _require_columns(selection, ["item_id", "family", "dimension", "sign"], "selection")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if selection.empty:  # no keyed item: nothing to score (and empty columns have no numeric dtype to compute with)
        return pd.DataFrame(columns=SCORE_COLUMNS).astype({"n_items": int})
    item_mean = means.assign(item_id=means["item_id"].astype(str)).set_index("item_id")["mean"]
    keyed = selection.assign(item_id=selection["item_id"].astype(str))
    keyed = keyed.assign(raw=keyed["item_id"].map(item_mean))
    keyed = keyed.assign(value=np.where(keyed["sign"] < 0, REVERSE_BASE - keyed["raw"], keyed["raw"]))
    keyed = keyed.dropna(subset=["raw"])
    # Each item's value in its family's baseline: the mean of its keyed values in that family's dimensions.
    family_mean = keyed.groupby(["family", "item_id"])["value"].mean().groupby("family").mean()
    tail = (1 - confidence) / 2 * 100
    replicates: dict[str, tuple] = {}

    rows = []
    for (family, dimension), _ in selection.groupby(["family", "dimension"], sort=False):
        mine = keyed[(keyed["family"] == family) & (keyed["dimension"] == dimension)]
        values = mine["value"].to_numpy(float)
        if len(values) == 0:
            rows.append((family, dimension, np.nan, np.nan, np.nan, 0, np.nan, np.nan))
            continue
        baseline = family_mean[family]
        mean = values.mean()
        sd = values.std(ddof=1) if len(values) > 1 else np.nan
        ci_low = ci_high = np.nan
        if len(values) >= MIN_ITEMS_FOR_INTERVAL:
            if family not in replicates:  # per family: its dimensions share the items, replicates and baseline
                item_ids, raw = _family_bootstrap(keyed, family, answers, n_boot, seed)
                replicates[family] = item_ids, raw, *_baseline_coefficients(keyed, family, item_ids)
            item_ids, raw, intercept, slope = replicates[family]
            position = {item: j for j, item in enumerate(item_ids)}
            columns = [position[item] for item in mine["item_id"]]
            in_dimension = np.zeros(len(item_ids), dtype=bool)
            in_dimension[columns] = True
            counts = _stratified_counts(in_dimension, n_boot, [seed, len(rows)])
            signs = mine["sign"].to_numpy()
            dim_values = np.where(signs < 0, REVERSE_BASE - raw[:, columns], raw[:, columns])
            dim_counts = counts[:, columns]
            dim_mean = (dim_values * dim_counts).sum(axis=1) / len(columns)
            base = ((intercept + slope * raw) * counts).sum(axis=1) / len(item_ids)
            ci_low, ci_high = np.percentile(dim_mean - base, [tail, 100 - tail])
        rows.append((family, dimension, mean - baseline, mean, sd, len(values), ci_low, ci_high))
    return pd.DataFrame(rows, columns=SCORE_COLUMNS).astype({"n_items": int})


def reliability_across_models(model_item_means: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """Cronbach's α per dimension over the items' mean ratings across models (the paper's Table 4).

    Parameters
    ----------
    model_item_means : long DataFrame with columns ``model``, ``item_id``, ``mean``.
    selection : output of :func:`select_items`; reverse-keyed items enter as 7 − x.

    Returns
    -------
    DataFrame with columns ``family, dimension, alpha, n_items, n_models``; ``alpha`` is NaN when a
    dimension has fewer than two items or fewer than two models with complete answers. α itself is
    ``psychometrics.stats.reliability.cronbach_alpha`` (listwise deletion, ddof=1).
    """
    _require_columns(model_item_means, ["model", "item_id", "mean"], "model_item_means")
    wide = model_item_means.assign(item_id=model_item_means["item_id"].astype(str)).pivot_table(
        index="model", columns="item_id", values="mean", aggfunc="mean"
    )
    rows = []
    for (family, dimension), group in selection.groupby(["family", "dimension"], sort=False):
        items = [item for item in group["item_id"].astype(str) if item in wide.columns]
        signs = group.set_index(group["item_id"].astype(str))["sign"]
        matrix = wide[items].copy()
        for item in items:
            if signs[item] < 0:
                matrix[item] = REVERSE_BASE - matrix[item]
        complete = matrix.dropna(axis=0, how="any")
        try:
            alpha = cronbach_alpha(matrix)
        except ValueError:
            alpha = float("nan")
        rows.append((family, dimension, alpha, len(items), len(complete)))
    return pd.DataFrame(rows, columns=["family", "dimension", "alpha", "n_items", "n_models"])

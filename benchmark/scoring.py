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
   it has in the dimensions (in ``signed`` mode: the mean of its keyed values, see ``_family_replicates``). ``ci_low``/``ci_high`` are a two-stage percentile bootstrap: the
   dimension's and the family's other items are resampled, and each item's prompts, and the score (baseline
   included) is recomputed in every replicate (seeded, so reproducible). Fewer than
   ``MIN_ITEMS_FOR_INTERVAL`` keyed items give no interval.
"""

import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import pandas as pd

from benchmark import keying
from benchmark.protocol import DEFAULT_ALPHA, DEFAULT_THRESHOLD, SELECTION_FROM_BANK
from psychometrics.stats.reliability import cronbach_alpha

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
    keep, p_value = keying.rule_keyed(pd.to_numeric(correlations["rho"], errors="coerce").to_numpy(float),
                                      pd.to_numeric(correlations["p_value"], errors="coerce").to_numpy(float),
                                      threshold=threshold, alpha=alpha, mode=mode, fdr=fdr)
    return _selected(correlations, keep, p_value)


def _selected(correlations: pd.DataFrame, keep: np.ndarray, p_value: np.ndarray) -> pd.DataFrame:
    """The :data:`SELECTION_COLUMNS` frame of the ``keep`` rows of ``correlations``, with the p-values given."""
    selected = correlations.loc[keep, ["item_id", "family", "dimension"]].copy()
    selected["item_id"] = selected["item_id"].astype(str)
    selected["rho"] = pd.to_numeric(correlations["rho"], errors="coerce").to_numpy(float)[keep]
    selected["p_value"] = p_value[keep]
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
    keep = keying.stored_keyed(pd.to_numeric(correlations["rho"], errors="coerce").to_numpy(float),
                               correlations["selected"].to_numpy(object), mode=mode)
    return _selected(correlations, keep, pd.to_numeric(correlations["p_value"], errors="coerce").to_numpy(float))


def apply_selection(correlations: pd.DataFrame, selection: dict, *, mode: str = "positive") -> pd.DataFrame:
    """The items a protocol's ``selection`` (:mod:`benchmark.protocol`) keys to each dimension, in ``mode``."""
    if selection.get("source") == SELECTION_FROM_BANK:
        return select_stored(correlations, mode=mode)
    return select_items(correlations, mode=mode, **keying.rule_of(selection))


def _ratings_by_item(answers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each item's parsed ratings in the order of ``answers``: the values its prompt bootstrap resamples."""
    ratings = pd.to_numeric(answers["rating"], errors="coerce").to_numpy(float, na_value=np.nan)
    parsed = ~np.isnan(ratings)
    item, item_ids = pd.factorize(answers["item_id"].astype(str).to_numpy()[parsed])
    order = np.argsort(item, kind="stable")  # stable: an item's ratings keep their order
    ends = np.cumsum(np.bincount(item, minlength=len(item_ids)))
    return dict(zip(item_ids, np.split(ratings[parsed][order], ends)[:-1], strict=True))


def _row_means(values: np.ndarray, out: np.ndarray) -> None:
    """Write ``values.mean(axis=1)`` into ``out``, bit for bit, faster on the few columns of one item's resampled prompts.

    NumPy's pairwise summation adds fewer than eight terms left to right, as the column-by-column sum
    does here without numpy's slow reduction over a short axis.
    """
    if not 2 <= values.shape[1] < 8:
        out[:] = values.mean(axis=1)
        return
    total = values[:, 0] + values[:, 1]
    for column in values.T[2:]:
        total += column
    np.divide(total, values.shape[1], out=out)


def _prompt_resampled_means(by_item: dict[str, np.ndarray], item_ids, n_boot: int, rng) -> np.ndarray:
    """(n_boot, items) item means with each item's parsed prompt answers (``by_item``) resampled with replacement."""
    result = np.empty((n_boot, len(item_ids)))
    for j, item in enumerate(item_ids):
        values = by_item[item]
        picks = rng.integers(0, len(values), size=(n_boot, len(values)))
        _row_means(values[picks], out=result[:, j])
    return result


class _Keys(NamedTuple):
    """A selection's rows as integer codes: each row's dimension, family and (family, item) pair, -1 where the
    row has none (a missing family or dimension, left out as a pandas groupby leaves it out)."""

    dimensions: list[tuple]  # (family, dimension) in order of first appearance: the rows of score_dimensions
    dimension: np.ndarray
    family: np.ndarray
    dimension_family: np.ndarray  # each dimension's family code
    pair: np.ndarray
    pair_family: np.ndarray  # each pair's family code
    item_id: np.ndarray
    sign: np.ndarray


def _pair_codes(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the rows' (first, second) code pairs in order of first appearance (-1 where either code is -1),
    and each pair's first row."""
    both = np.flatnonzero((first >= 0) & (second >= 0))
    codes = np.full(len(first), -1)
    codes[both] = pd.factorize(first[both] * (second.max(initial=0) + 1) + second[both])[0]
    return codes, both[np.unique(codes[both], return_index=True)[1]]


def _selection_keys(selection: pd.DataFrame) -> _Keys:
    """The integer codes of ``selection`` (:class:`_Keys`), by pandas factorize: equal keys, one code."""
    item_id = selection["item_id"].astype(str).to_numpy()
    family = pd.factorize(selection["family"])[0]
    dimension, first_row = _pair_codes(family, pd.factorize(selection["dimension"])[0])
    pair, first_pair_row = _pair_codes(family, pd.factorize(item_id)[0])
    dimensions = list(zip(selection["family"].to_numpy()[first_row].tolist(),
                          selection["dimension"].to_numpy()[first_row].tolist(), strict=True))
    return _Keys(dimensions, dimension, family, family[first_row], pair, family[first_pair_row],
                 item_id, selection["sign"].to_numpy())


def _sum_by(codes: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """(size, k): the sum of each column of ``weights`` (rows, k) over the rows of each code 0 … size − 1."""
    return np.stack([np.bincount(codes, weights=column, minlength=size) for column in weights.T], axis=1)


def _point_estimates(keys: _Keys, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each dimension's mean, SD (ddof=1), item count and score (mean − family baseline), as (dimensions, k)
    arrays, for each column of ``raw`` (rows, k): the selection rows' item means, NaN where an item has none.

    The formulas of :func:`score_dimensions`, for every column at once (a run's item means, or one set per
    prompt template): an item enters the baseline with the mean of its keyed values in the family.
    """
    value = np.where(keys.sign[:, None] < 0, REVERSE_BASE - raw, raw)
    parsed = ~np.isnan(value)
    filled = np.where(parsed, value, 0.0)
    size = len(keys.dimensions)
    with np.errstate(invalid="ignore", divide="ignore"):  # a dimension without a parsed item: NaN
        mine = keys.dimension >= 0
        code = keys.dimension[mine]
        n = _sum_by(code, parsed[mine], size)
        mean = _sum_by(code, filled[mine], size) / n
        squares = _sum_by(code, np.where(parsed[mine], (value[mine] - mean[code]) ** 2, 0.0), size)
        sd = np.where(n > 1, np.sqrt(squares / (n - 1)), np.nan)
        mine = keys.pair >= 0
        pair_mean = _sum_by(keys.pair[mine], filled[mine], len(keys.pair_family)) / _sum_by(
            keys.pair[mine], parsed[mine], len(keys.pair_family))
        has_mean = ~np.isnan(pair_mean)
        families = keys.family.max(initial=-1) + 1
        baseline = _sum_by(keys.pair_family, np.where(has_mean, pair_mean, 0.0), families) / _sum_by(
            keys.pair_family, has_mean, families)
    return mean, sd, n.astype(int), mean - baseline[keys.dimension_family]


def _family_replicates(keys: _Keys, raw: np.ndarray, family: int, by_item: dict | None, n_boot: int, seed: int):
    """A family's bootstrap material: its selection rows with a parsed item, each row's position among the
    family's distinct items, the items' replicate raw means (n_boot, items) and their replicate values in the
    family baseline.

    With ``by_item``, each item's prompt answers are resampled with replacement in every replicate (the second
    stage of a two-stage bootstrap, Davison & Hinkley 1997, §2.4; Field & Welsh 2007); without, the item means
    are repeated. An item keyed to ``k`` dimensions of the family, ``n`` of them negatively, enters the baseline
    with the mean of its values in those dimensions, ``((k - n) * x + n * (7 - x)) / k = a + b * x`` with
    ``a = 7n / k`` and ``b = (k - 2n) / k``: the raw mean ``x`` with positive keys only (the paper's baseline);
    in ``signed`` mode a reverse-keyed item enters as ``7 - x``, as in its dimension, so that centring removes
    scale use from the same values the dimensions average.
    """
    rows = np.flatnonzero((keys.family == family) & ~np.isnan(raw))
    position, item_ids = pd.factorize(keys.item_id[rows])
    if by_item is None:
        first = np.unique(position, return_index=True)[1]
        replicates = np.broadcast_to(raw[rows][first], (n_boot, len(item_ids)))
    else:
        replicates = _prompt_resampled_means(by_item, item_ids, n_boot, np.random.default_rng(seed))
    k = np.bincount(position, minlength=len(item_ids)).astype(float)
    n = np.bincount(position, weights=(keys.sign[rows] < 0).astype(float), minlength=len(item_ids))
    if not n.any():  # positive keys only: a = 0 and b = 1, so 0 + 1 * x is the raw mean itself, bit for bit
        return rows, position, replicates, replicates
    intercept, slope = REVERSE_BASE * n / k, (k - 2 * n) / k
    return rows, position, replicates, intercept + slope * replicates


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
    keys = _selection_keys(selection)
    raw = pd.Series(keys.item_id).map(item_mean).to_numpy(float)
    mean, sd, n_items, score = (column[:, 0] for column in _point_estimates(keys, raw[:, None]))
    by_item = None if answers is None else _ratings_by_item(answers)
    tail = (1 - confidence) / 2 * 100
    with_interval = np.flatnonzero(n_items >= MIN_ITEMS_FOR_INTERVAL)
    spread = np.empty((len(keys.dimensions), n_boot))  # each replicate's dimension mean minus its baseline
    for family in np.unique(keys.dimension_family[with_interval]):  # its dimensions share items and replicates
        rows, position, raw_replicates, base_replicates = _family_replicates(keys, raw, family, by_item, n_boot, seed)
        for index in with_interval[keys.dimension_family[with_interval] == family]:
            mine = keys.dimension[rows] == index
            columns = position[mine]
            in_dimension = np.zeros(raw_replicates.shape[1], dtype=bool)
            in_dimension[columns] = True
            counts = _stratified_counts(in_dimension, n_boot, [seed, int(index)])
            dim_raw = raw_replicates[:, columns]
            dim_values = np.where(keys.sign[rows][mine] < 0, REVERSE_BASE - dim_raw, dim_raw)
            dim_mean = (dim_values * counts[:, columns]).sum(axis=1) / len(columns)
            base = (base_replicates * counts).sum(axis=1) / raw_replicates.shape[1]
            spread[index] = dim_mean - base
    ci_low, ci_high = np.full(len(keys.dimensions), np.nan), np.full(len(keys.dimensions), np.nan)
    if len(with_interval):
        ci_low[with_interval], ci_high[with_interval] = np.percentile(spread[with_interval], [tail, 100 - tail], axis=1)
    statistics = np.column_stack([score, mean, sd, n_items, ci_low, ci_high]).tolist()
    rows = [(*key, *values) for key, values in zip(keys.dimensions, statistics, strict=True)]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS).astype({"n_items": int})


def dimension_point_scores(means: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """The ``score`` of :func:`score_dimensions` for several sets of item means at once, without intervals.

    Parameters
    ----------
    means : DataFrame indexed by item id, one column per set of item means (NaN or absent: no parsed
        answer), e.g. one set per prompt template.
    selection : output of :func:`select_items`.

    Returns
    -------
    DataFrame with columns ``family``, ``dimension`` and each column of ``means``: the rows of
    :func:`score_dimensions` in its order, column *c* the scores it gives for the item means ``means[c]``.

    Examples
    --------
    >>> selection = pd.DataFrame({"item_id": ["a", "b", "c"], "family": "pvq", "dimension": ["Power", "Power", "Hedonism"],
    ...                           "sign": 1})
    >>> means = pd.DataFrame({"first": [5.0, 3.0, 1.0], "second": [2.0, 2.0, 5.0]}, index=["a", "b", "c"])
    >>> dimension_point_scores(means, selection)[["first", "second"]].to_numpy().tolist()
    [[1.0, -1.0], [-2.0, 2.0]]
    """
    _require_columns(selection, ["item_id", "family", "dimension", "sign"], "selection")
    columns = ["family", "dimension", *means.columns]
    if selection.empty:
        return pd.DataFrame(columns=columns)
    keys = _selection_keys(selection)
    raw = means.set_axis(means.index.astype(str)).reindex(keys.item_id).to_numpy(float, na_value=np.nan)
    score = _point_estimates(keys, raw)[3]
    frame = pd.DataFrame(keys.dimensions, columns=["family", "dimension"])
    return pd.concat([frame, pd.DataFrame(score, columns=means.columns)], axis=1)


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

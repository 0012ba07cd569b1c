"""Spearman correlations of every item with every dimension, vectorised.

Participants rate the items of their item group, so items fall into blocks that share (nearly)
the same raters. Each block is handled by a few array operations for all its items and all
dimensions at once; a Python loop runs over blocks, never over item x dimension pairs.

Missing answers are handled exactly: for each item x dimension pair only the raters with both a
rating and a score count, and ranks are taken within those raters. Within a block of ``m``
raters the rank of rater ``b`` among the raters ``M`` kept for a pair is

    rank(b) = sum over a in M of ( [x_a < x_b] + 0.5 [x_a == x_b] ) + 0.5,

the average rank for ties, computed for every pair with one batched matrix product of the
comparison matrices and the masks. Spearman's rho is Pearson's r of these ranks; as the mean of
ranks 1..n is (n + 1) / 2, ``rho = (S_xy - c) / sqrt((S_xx - c)(S_yy - c))`` with
``c = n ((n + 1) / 2)^2``. Ranks are multiples of 0.5, so every sum is exact in floating point.
"""

import numpy as np
import pandas as pd
from scipy.special import stdtr

CORRELATION_COLUMNS = ["item_id", "dimension", "rho", "p_value", "n"]
LONG_RATING_COLUMNS = ["participant_id", "item_id", "rating"]

# Items whose rater sets overlap this much share a block (union at most 1.25 x the larger set).
BLOCK_OVERLAP = 1.25
# Largest comparison tensor of one block (items x raters x raters, in numbers), about 32 MB.
BLOCK_CELLS = 4_000_000


def spearman_p_value(rho: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-value of Spearman's rho as ``scipy.stats.spearmanr`` computes it.

    ``t = rho * sqrt((n - 2) / ((1 + rho)(1 - rho)))`` on ``n - 2`` degrees of freedom;
    ``|rho| = 1`` gives p = 0, ``n <= 2`` or NaN rho gives NaN.
    """
    rho = np.asarray(rho, dtype=float)
    dof = np.asarray(n, dtype=float) - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * np.sqrt((dof / ((rho + 1.0) * (1.0 - rho))).clip(0))
        p = 2 * stdtr(dof, -np.abs(t))
    return np.where((dof > 0) & ~np.isnan(rho), np.minimum(p, 1.0), np.nan)


def _comparisons(values: np.ndarray) -> np.ndarray:
    """For columns of ``values`` (rows x columns): [column, a, b] = [v_a < v_b] + 0.5 [v_a == v_b]."""
    columns = values.T
    less = columns[:, :, None] < columns[:, None, :]
    equal = columns[:, :, None] == columns[:, None, :]
    return less + 0.5 * equal


def _block_spearman(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rho and n (items x dimensions) for ratings ``x`` (raters x items) and scores ``y`` (raters x dims), NaN = missing."""
    rated = (~np.isnan(x)).astype(float)  # m x k
    scored = (~np.isnan(y)).astype(float)  # m x d
    n = rated.T @ scored  # k x d
    both = rated.T[:, :, None] * scored[None, :, :]  # k x m x d: rater kept for the pair
    x_ranks = np.matmul(_comparisons(x).transpose(0, 2, 1), both) + 0.5  # k x m x d
    y_ranks = np.matmul(_comparisons(y).transpose(0, 2, 1), both.transpose(2, 1, 0)) + 0.5  # d x m x k
    y_ranks = y_ranks.transpose(2, 1, 0)  # k x m x d
    kept_x = both * x_ranks
    s_xy = (kept_x * y_ranks).sum(axis=1)
    s_xx = (kept_x * x_ranks).sum(axis=1)
    s_yy = (both * y_ranks * y_ranks).sum(axis=1)
    c = n * ((n + 1) / 2) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (s_xy - c) / np.sqrt((s_xx - c) * (s_yy - c))
    rho[(n < 2) | (s_xx - c <= 0) | (s_yy - c <= 0)] = np.nan
    return np.clip(rho, -1.0, 1.0), n.astype(np.int64)


def _trait_matrix(traits: pd.DataFrame) -> np.ndarray:
    if not isinstance(traits, pd.DataFrame):
        raise ValueError("traits must be a DataFrame: participants (index) x dimensions.")
    if traits.columns.has_duplicates:
        raise ValueError(f"traits has the dimension {traits.columns[traits.columns.duplicated()][0]!r} twice.")
    if traits.index.has_duplicates:
        raise ValueError(f"traits has the participant {traits.index[traits.index.duplicated()][0]!r} twice.")
    try:
        return traits.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"traits must be numeric: {error}") from error


def spearman_long(ratings: pd.DataFrame, traits: pd.DataFrame, items: list | None = None) -> pd.DataFrame:
    """Spearman's rho, two-sided p-value and n for every item x dimension pair.

    For each pair only the participants with both a rating and a trait value are used, so n
    varies with missing answers. Ranks are average ranks (ties share the mean rank) within those
    participants, exactly as ``scipy.stats.spearmanr`` on the pairwise-complete data; p follows
    the t-distribution with n - 2 degrees of freedom. A constant input (or n < 2) gives NaN,
    never an error; n = 2 gives rho = +-1 with NaN p, as scipy does. A perfectly monotone pair
    gives exactly +-1 and p = 0 (scipy may return rho a few ulps short of 1 and a p-value made
    of rounding error).

    Parameters
    ----------
    ratings : DataFrame
        Long ratings: columns ``participant_id, item_id, rating``; NaN ratings are ignored.
    traits : DataFrame
        Participants (index, matched to ``participant_id``) x dimensions; NaN = no score.
        Raters without a row have no score on any dimension.
    items : list, optional
        The items to report, in this order (items without ratings get n = 0 and NaN).
        Default: every rated item in order of first appearance.

    Returns
    -------
    DataFrame
        Columns ``item_id, dimension, rho, p_value, n``: one row per item x dimension, items in
        order and dimensions in the column order of ``traits``.

    Examples
    --------
    >>> r = pd.DataFrame({"participant_id": [1, 2, 3, 4, 1, 2, 3, 4], "item_id": list("aaaabbbb"),
    ...                   "rating": [1, 2, 3, 4, 2, 2, 1, 1]})
    >>> t = pd.DataFrame({"Power": [0.1, 0.4, 0.2, 0.9]}, index=[1, 2, 3, 4])
    >>> spearman_long(r, t)["rho"].round(4).tolist()
    [0.8, -0.4472]
    """
    if not isinstance(ratings, pd.DataFrame) or set(LONG_RATING_COLUMNS) - set(ratings.columns):
        raise ValueError(f"ratings must be a DataFrame with the columns {LONG_RATING_COLUMNS}.")
    t = _trait_matrix(traits)
    try:
        values = pd.to_numeric(ratings["rating"]).to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"ratings must be numeric: {error}") from error
    order = list(dict.fromkeys(ratings["item_id"])) if items is None else list(items)
    if len(set(order)) != len(order):
        raise ValueError("items lists an item twice.")
    repeated = ratings.duplicated(["participant_id", "item_id"]).to_numpy()
    if repeated.any():
        first = ratings[repeated].iloc[0]
        raise ValueError(f"Participant {first['participant_id']!r} rated item {first['item_id']!r} more than once.")
    item_codes = pd.Index(order).get_indexer(ratings["item_id"])
    if (item_codes < 0).any():
        raise ValueError(f"ratings has the item {ratings['item_id'].to_numpy()[item_codes < 0][0]!r}, which is not in items.")
    # Raters without a trait row have no score on any dimension, and unrated cells no rating: neither counts.
    rows = traits.index.get_indexer(ratings["participant_id"])
    counted = (rows >= 0) & ~np.isnan(values)
    item_codes, rows, values = item_codes[counted], rows[counted], values[counted]
    sort = np.lexsort((rows, item_codes))
    item_codes, rows, values = item_codes[sort], rows[sort], values[sort]

    n_dims = t.shape[1]
    rho = np.full((len(order), n_dims), np.nan)
    count = np.zeros((len(order), n_dims), dtype=np.int64)
    for block_rows, block_items in _blocks(item_codes, rows):
        x = np.full((block_rows.size, len(block_items)), np.nan)
        codes = np.asarray([code for code, _, _ in block_items])
        for column, (_, start, end) in enumerate(block_items):
            x[np.searchsorted(block_rows, rows[start:end]), column] = values[start:end]
        block_rho, block_n = _block_spearman(x, t[block_rows])
        rho[codes], count[codes] = block_rho, block_n

    p = spearman_p_value(rho, count)
    return pd.DataFrame(
        {
            "item_id": np.repeat(np.asarray(order, dtype=object), n_dims),
            "dimension": np.tile(np.asarray(traits.columns, dtype=object), len(order)),
            "rho": rho.ravel(),
            "p_value": p.ravel(),
            "n": count.ravel(),
        },
        columns=CORRELATION_COLUMNS,
    )


def _blocks(item_codes: np.ndarray, rows: np.ndarray):
    """Blocks of items with overlapping raters: (sorted union of rater rows, [(item code, start, end)]).

    ``item_codes`` and ``rows`` are sorted by item, then row. Items with identical rater sets are
    grouped first; groups are then merged greedily, in order of their first rater, while the
    union of raters stays within ``BLOCK_OVERLAP`` of the larger set and the block's comparison
    tensor within ``BLOCK_CELLS``.
    """
    if item_codes.size == 0:
        return
    starts = np.flatnonzero(np.r_[True, item_codes[1:] != item_codes[:-1]])
    ends = np.r_[starts[1:], item_codes.size]
    exact: dict[bytes, list[tuple[int, int, int]]] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        exact.setdefault(rows[start:end].tobytes(), []).append((int(item_codes[start]), start, end))
    groups = sorted(exact.values(), key=lambda members: (rows[members[0][1]], members[0][0]))

    block_rows: np.ndarray | None = None
    block_items: list[tuple[int, int, int]] = []
    for members in groups:
        _, start, end = members[0]
        group_rows = rows[start:end]
        if block_rows is not None:
            union = np.union1d(block_rows, group_rows)
            cells = (len(block_items) + len(members)) * union.size * union.size
            if union.size <= BLOCK_OVERLAP * max(block_rows.size, group_rows.size) and cells <= BLOCK_CELLS:
                block_rows = union
                block_items.extend(members)
                continue
            yield from _split(block_rows, block_items)
        block_rows, block_items = group_rows, list(members)
    yield from _split(block_rows, block_items)


def _split(block_rows: np.ndarray, block_items: list):
    """A block in chunks of items small enough for ``BLOCK_CELLS``."""
    per_chunk = max(1, BLOCK_CELLS // max(1, block_rows.size * block_rows.size))
    for first in range(0, len(block_items), per_chunk):
        yield block_rows, block_items[first : first + per_chunk]


def spearman_matrix(ratings: pd.DataFrame, traits: pd.DataFrame) -> pd.DataFrame:
    """``spearman_long`` for wide ratings: rows are participants, columns are items, NaN = not rated.

    Traits are matched to ``ratings`` by index. Items are reported in column order.

    Examples
    --------
    >>> r = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 1, 1]})
    >>> t = pd.DataFrame({"Power": [0.1, 0.4, 0.2, 0.9]})
    >>> spearman_matrix(r, t)["rho"].round(4).tolist()
    [0.8, -0.4472]
    """
    if not isinstance(ratings, pd.DataFrame):
        raise ValueError("ratings must be a DataFrame: participants (index) x items.")
    if ratings.columns.has_duplicates:
        raise ValueError(f"ratings has the item {ratings.columns[ratings.columns.duplicated()][0]!r} twice.")
    if ratings.index.has_duplicates:
        raise ValueError(f"ratings has the participant {ratings.index[ratings.index.duplicated()][0]!r} twice.")
    try:
        matrix = ratings.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"ratings must be numeric: {error}") from error
    positions = np.arange(len(ratings.index))
    participant, item = np.nonzero(~np.isnan(matrix))
    long = pd.DataFrame({"participant_id": participant, "item_id": item, "rating": matrix[participant, item]})
    traits_by_position = traits.reindex(ratings.index).set_axis(positions, axis=0) if isinstance(traits, pd.DataFrame) else traits
    result = spearman_long(long, traits_by_position, items=list(range(matrix.shape[1])))
    result["item_id"] = np.repeat(np.asarray(ratings.columns, dtype=object), traits.shape[1])
    return result

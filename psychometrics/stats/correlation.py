"""Spearman correlations of every item with every dimension, vectorised.

Participants rate the items of their item group, so items fall into blocks that share (nearly)
the same raters. In a block, the items rated by every rater and the dimensions scored for every
rater (the usual case) are ranked once each (average ranks for ties, as
``scipy.stats.rankdata``) and correlated by one matrix product. Blocks whose raters all have every
score are worked on together, per number of raters (``_scored_blocks_spearman``); a Python loop
runs over blocks only to build them, never over item x dimension pairs.

Missing answers are handled exactly: for each item x dimension pair only the raters with both a
rating and a score count, and ranks are taken within those raters, as ``scipy.stats.spearmanr``
on the pairwise-complete data. The pairs of a block that miss some raters are ranked all at once
in a raters x items x dimensions tensor, the missing raters moved past every value. Spearman's
rho is Pearson's r of the ranks; with centred ranks ``a = rank - (n + 1) / 2``,
``rho = sum(a_x a_y) / sqrt(sum(a_x^2) sum(a_y^2))``. Centred ranks are multiples of 0.5, so
every sum is exact in floating point, whatever the order of summation. The work grows with
``raters x log(raters)`` per pair at worst, never with raters squared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# pandas and scipy.special are imported where they are used: ``manage.py correlate`` works on arrays
# (``spearman_coded``) and starts without pandas, and the admin loads this module at every start-up.

CORRELATION_COLUMNS = ["item_id", "dimension", "rho", "p_value", "n"]
LONG_RATING_COLUMNS = ["participant_id", "item_id", "rating"]

# Items whose rater sets overlap this much share a block (union at most 1.25 x the larger set).
BLOCK_OVERLAP = 1.25
# Largest raters x items x dimensions tensor worked on at once, 8 MB per array: small enough to stay in the
# memory already mapped (a first touch of fresh pages cost more than the arithmetic on them here).
CHUNK_CELLS = 1_000_000
# Items missing at most this many of their block's raters (on average) get their ranks by subtraction
# (``_scored_blocks_spearman``): each left-out rater costs one pass over the item's scores, a sort several.
SUBTRACT_AT_MOST = 3


def spearman_p_value(rho: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-value of Spearman's rho as ``scipy.stats.spearmanr`` computes it.

    ``t = rho * sqrt((n - 2) / ((1 + rho)(1 - rho)))`` on ``n - 2`` degrees of freedom;
    ``|rho| = 1`` gives p = 0, ``n <= 2`` or NaN rho gives NaN.
    """
    from scipy.special import stdtr

    rho = np.asarray(rho, dtype=float)
    dof = np.asarray(n, dtype=float) - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * np.sqrt((dof / ((rho + 1.0) * (1.0 - rho))).clip(0))
        p = 2 * stdtr(dof, -np.abs(t))
    return np.where((dof > 0) & ~np.isnan(rho), np.minimum(p, 1.0), np.nan)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..m of each column of ``values`` (m x columns, no NaN), ties sharing their average rank.

    Equal to ``scipy.stats.rankdata(values, axis=0)``, without its per-call overhead (many small groups).
    Ranked ``CHUNK_CELLS`` at a time: the working arrays (ten as large as the chunk) then fit in memory
    already in use, not in fresh pages.
    """
    m, columns = values.shape
    step = max(1, CHUNK_CELLS // max(m, 1))
    if columns <= step:
        return _average_ranks_in_one(values)
    ranks = np.empty(values.shape)
    for first in range(0, columns, step):
        ranks[:, first : first + step] = _average_ranks_in_one(values[:, first : first + step])
    return ranks


def _average_ranks_in_one(values: np.ndarray) -> np.ndarray:
    series = np.ascontiguousarray(values.T)  # one row per column of values: sorting along contiguous memory
    count, m = series.shape
    flat_order = (np.argsort(series, axis=1) + (np.arange(count) * m)[:, None]).ravel()
    ordered = series.ravel()[flat_order].reshape(count, m)
    new_run = np.empty((count, m), dtype=bool)
    new_run[:, 0] = True
    np.not_equal(ordered[:, 1:], ordered[:, :-1], out=new_run[:, 1:])
    run_starts = np.flatnonzero(new_run)
    run_lengths = np.diff(np.append(run_starts, new_run.size))
    run_ranks = run_starts % m + (run_lengths + 1) / 2  # the average of ranks start+1 .. start+length
    ranks = np.empty(series.size)
    ranks[flat_order] = run_ranks[np.cumsum(new_run.ravel()) - 1]
    return ranks.reshape(count, m).T


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """rho (columns of x x columns of y) for complete data: rows are the raters kept, no NaN."""
    m = x.shape[0]
    if m < 2:
        return np.full((x.shape[1], y.shape[1]), np.nan)
    x_ranks = _average_ranks(x) - (m + 1) / 2
    y_ranks = _average_ranks(y) - (m + 1) / 2
    s_xx = (x_ranks * x_ranks).sum(axis=0)
    s_yy = (y_ranks * y_ranks).sum(axis=0)
    return _rho(x_ranks.T @ y_ranks, s_xx[:, None], s_yy[None, :])


def _masked_rank_correlation(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rho and n (columns of x x columns of y) for ratings and scores with NaN, pairwise complete.

    ``y`` is raters x dimensions, or raters x items x dimensions when each item (column of ``x``)
    comes with its own raters' scores (items of several blocks of the same size at once).

    Each pair keeps the raters with both a rating and a score. All pairs are ranked at once in a
    raters x items x dimensions tensor: a rater not kept for a pair is moved past every value
    (+inf), which leaves the ranks of the kept raters among themselves unchanged, and is then
    left out of every sum.
    """
    m = x.shape[0]
    rated = ~np.isnan(x)
    y = y[:, None, :] if y.ndim == 2 else y  # one score matrix for every item, or each item its own (m x k x d)
    kept = rated[:, :, None] & ~np.isnan(y)  # m x k x d
    n = kept.sum(axis=0)
    centre = (n + 1) / 2
    y_ranks = _average_ranks(np.where(kept, y, np.inf).reshape(m, -1)).reshape(kept.shape)
    y_centred = np.where(kept, y_ranks - centre, 0.0)
    s_yy = (y_centred * y_centred).sum(axis=0)
    if np.isnan(y).any():
        x_ranks = _average_ranks(np.where(kept, x[:, :, None], np.inf).reshape(m, -1)).reshape(kept.shape)
        x_centred = np.where(kept, x_ranks - centre, 0.0)
        s_xy = (x_centred * y_centred).sum(axis=0)
        s_xx = (x_centred * x_centred).sum(axis=0)
    else:  # every score present: an item's raters are the same for every dimension, so it is ranked once
        x_centred = np.where(rated, _average_ranks(np.where(rated, x, np.inf)) - (rated.sum(axis=0) + 1) / 2, 0.0)
        s_xy = np.einsum("mk,mkd->kd", x_centred, y_centred)
        s_xx = np.broadcast_to((x_centred * x_centred).sum(axis=0)[:, None], n.shape)
    return _rho(s_xy, s_xx, s_yy), n


def _block_spearman(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rho and n (items x dimensions) for ratings ``x`` (raters x items) and scores ``y`` (raters x dims), NaN = missing.

    Items rated by every rater of the block and dimensions scored for all of them (the usual
    case) share one ranking each and one matrix product; the other pairs are ranked pairwise
    (``_masked_rank_correlation``) in chunks of at most ``CHUNK_CELLS`` tensor cells.
    """
    m, k = x.shape
    rho = np.full((k, y.shape[1]), np.nan)
    n = np.zeros((k, y.shape[1]), dtype=np.int64)
    full_items = np.flatnonzero(~np.isnan(x).any(axis=0))
    full_dimensions = np.flatnonzero(~np.isnan(y).any(axis=0))
    if full_items.size and full_dimensions.size:
        rho[np.ix_(full_items, full_dimensions)] = _rank_correlation(x[:, full_items], y[:, full_dimensions])
        n[np.ix_(full_items, full_dimensions)] = m
    rest = [
        (np.flatnonzero(np.isnan(x).any(axis=0)), np.arange(y.shape[1])),
        (full_items, np.flatnonzero(np.isnan(y).any(axis=0))),
    ]
    for items, dimensions in rest:
        if not (items.size and dimensions.size):
            continue
        per_chunk = max(1, CHUNK_CELLS // (m * dimensions.size))
        for first in range(0, items.size, per_chunk):
            chunk = items[first : first + per_chunk]
            block = np.ix_(chunk, dimensions)
            rho[block], n[block] = _masked_rank_correlation(x[:, chunk], y[:, dimensions])
    return rho, n


def _trait_matrix(traits: pd.DataFrame) -> np.ndarray:
    import pandas as pd

    if not isinstance(traits, pd.DataFrame):
        raise ValueError("traits must be a DataFrame: participants (index) x dimensions.")
    if traits.columns.has_duplicates:
        raise ValueError(f"traits has the dimension {traits.columns[traits.columns.duplicated()][0]!r} twice.")
    if traits.index.has_duplicates:
        raise ValueError(f"traits has the participant {traits.index[traits.index.duplicated()][0]!r} twice.")
    try:
        values = traits.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"traits must be numeric: {error}") from error
    if np.isinf(values).any():
        row, column = np.argwhere(np.isinf(values))[0]
        raise ValueError(f"traits has an infinite score for participant {traits.index[row]!r} on {traits.columns[column]!r}.")
    return values


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
    >>> import pandas as pd
    >>> r = pd.DataFrame({"participant_id": [1, 2, 3, 4, 1, 2, 3, 4], "item_id": list("aaaabbbb"),
    ...                   "rating": [1, 2, 3, 4, 2, 2, 1, 1]})
    >>> t = pd.DataFrame({"Power": [0.1, 0.4, 0.2, 0.9]}, index=[1, 2, 3, 4])
    >>> spearman_long(r, t)["rho"].round(4).tolist()
    [0.8, -0.4472]
    """
    import pandas as pd

    if not isinstance(ratings, pd.DataFrame) or set(LONG_RATING_COLUMNS) - set(ratings.columns):
        raise ValueError(f"ratings must be a DataFrame with the columns {LONG_RATING_COLUMNS}.")
    t = _trait_matrix(traits)
    try:
        values = pd.to_numeric(ratings["rating"]).to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"ratings must be numeric: {error}") from error
    if np.isinf(values).any():
        first = ratings[np.isinf(values)].iloc[0]
        raise ValueError(f"Participant {first['participant_id']!r} rated item {first['item_id']!r} {float(first['rating'])}, not a finite number.")
    order = pd.unique(ratings["item_id"]).tolist() if items is None else list(items)  # first appearance
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
    rho, count = spearman_coded(item_codes, rows, values, t, len(order))
    n_dims = t.shape[1]
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


def spearman_coded(
    item_codes: np.ndarray, rows: np.ndarray, values: np.ndarray, traits: np.ndarray, n_items: int,
) -> tuple[np.ndarray, np.ndarray]:
    """rho and n (``n_items`` x dimensions) from long ratings coded as integers: ``spearman_long`` on arrays.

    Rating ``k`` is ``values[k]`` given to item ``item_codes[k]`` (0 .. n_items - 1) by the rater in
    row ``rows[k]`` of ``traits`` (raters x dimensions, NaN = no score; a row of -1 = no scores at
    all). A NaN rating or a row of -1 is not counted; each (item, row) appears at most once and
    every rating is finite (the callers check both).
    """
    counted = np.flatnonzero((rows >= 0) & ~np.isnan(values))
    sort = counted[np.lexsort((rows[counted], item_codes[counted]))]  # one copy of each column, not two
    item_codes, rows, values = item_codes[sort], rows[sort], values[sort]
    rho = np.full((n_items, traits.shape[1]), np.nan)
    count = np.zeros((n_items, traits.shape[1]), dtype=np.int64)
    same_size: dict[int, list] = {}
    for block_rows, codes, x in _blocks(item_codes, rows, values):
        y = traits[block_rows]
        if np.isnan(y).any():
            rho[codes], count[codes] = _block_spearman(x, y)
        else:  # the usual case, gathered with the other blocks of as many raters
            same_size.setdefault(block_rows.size, []).append((codes, x, y))
    for m, blocks in same_size.items():
        _scored_blocks_spearman(m, blocks, rho, count)
    return rho, count


def _scored_blocks_spearman(m: int, blocks: list, rho: np.ndarray, count: np.ndarray) -> None:
    """``_block_spearman`` for many blocks of ``m`` raters each, every rater scored on every dimension.

    The blocks' items are put side by side (raters x all their items) and their score matrices stacked
    (blocks x raters x dimensions), so the ranking and the sums are a few whole-array operations
    instead of a few dozen per block. Each block's scores are ranked once among all its raters. For
    an item some raters skipped, a score's rank among the item's own raters is that rank less, for
    each rater left out, 1 if the left-out score is lower and 1/2 if equal (the average rank of a
    value is the count below it plus half of the ties, itself included, plus 1/2); this needs no
    sort per item x dimension. With more than ``SUBTRACT_AT_MOST`` left-out raters per item (on
    average, in a chunk) ranking each pair anew (``_masked_rank_correlation``) is cheaper.

    The numbers are those of ``_block_spearman``: the same ranks, and sums of multiples of 0.25,
    exact in any order. Writes into ``rho`` and ``count``.
    """
    codes = np.concatenate([block_codes for block_codes, _, _ in blocks])
    x = np.concatenate([block_x for _, block_x, _ in blocks], axis=1)  # m x items
    y = np.stack([block_y for _, _, block_y in blocks])  # blocks x m x d
    block_of = np.repeat(np.arange(len(blocks)), [block_codes.size for block_codes, _, _ in blocks])
    d = y.shape[2]
    per_chunk = max(1, CHUNK_CELLS // (m * d))
    full = ~np.isnan(x).any(axis=0)
    full_items, masked_items = np.flatnonzero(full), np.flatnonzero(~full)
    y_ranks = _average_ranks(y.transpose(1, 0, 2).reshape(m, -1)).reshape(m, len(blocks), d).transpose(1, 0, 2)
    centre = (m + 1) / 2
    if full_items.size:
        count[codes[full_items]] = m
        x_centred = _average_ranks(x[:, full_items]).T - centre  # full items x m
        y_centred = y_ranks - centre  # blocks x m x d
        s_xx = (x_centred * x_centred).sum(axis=1)
        s_yy = (y_centred * y_centred).sum(axis=1)  # blocks x d
        for first in range(0, full_items.size, per_chunk):
            chunk = slice(first, first + per_chunk)
            of = block_of[full_items[chunk]]
            s_xy = np.einsum("km,kmd->kd", x_centred[chunk], y_centred[of])
            rho[codes[full_items[chunk]]] = _rho(s_xy, s_xx[chunk, None], s_yy[of])
    for first in range(0, masked_items.size, per_chunk):
        chunk = masked_items[first : first + per_chunk]
        x_chunk = x[:, chunk]
        left_out = np.isnan(x_chunk.T)  # items x m
        if left_out.sum() > SUBTRACT_AT_MOST * chunk.size:
            rho[codes[chunk]], count[codes[chunk]] = _masked_rank_correlation(x_chunk, y[block_of[chunk]].transpose(1, 0, 2))
            continue
        of = block_of[chunk]
        n = m - left_out.sum(axis=1)  # raters per item
        x_centred = np.where(left_out, 0.0, _average_ranks(np.where(left_out.T, np.inf, x_chunk)).T - (n[:, None] + 1) / 2)
        y_item_ranks = y_ranks[of]  # items x m x d: ranks among every rater of the block, then less per left-out rater
        item, rater = np.nonzero(left_out)  # by item, then rater
        ordinal = np.arange(item.size) - np.searchsorted(item, item)  # 0 for an item's first left-out rater, 1 ...
        for q in range(int(ordinal.max()) + 1 if item.size else 0):
            at = ordinal == q
            items_q = item[at]
            scores = y[of[items_q]]  # items_q x m x d
            below = y[of[items_q], rater[at]][:, None, :]  # the left-out rater's scores
            y_item_ranks[items_q] -= (below < scores) + 0.5 * (below == scores)
        y_centred = np.where(left_out[:, :, None], 0.0, y_item_ranks - ((n + 1) / 2)[:, None, None])
        s_xy = np.einsum("km,kmd->kd", x_centred, y_centred)
        s_xx = (x_centred * x_centred).sum(axis=1)[:, None]
        s_yy = (y_centred * y_centred).sum(axis=1)
        rho[codes[chunk]] = _rho(s_xy, s_xx, s_yy)
        count[codes[chunk]] = n[:, None]


def _rho(s_xy: np.ndarray, s_xx: np.ndarray, s_yy: np.ndarray) -> np.ndarray:
    """rho from the sums of centred ranks; NaN where either side is constant (or has fewer than two raters)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = s_xy / np.sqrt(s_xx * s_yy)
    rho[np.broadcast_to((s_xx == 0) | (s_yy == 0), rho.shape)] = np.nan
    return np.clip(rho, -1.0, 1.0)


def _blocks(item_codes: np.ndarray, rows: np.ndarray, values: np.ndarray):
    """Blocks of items with (nearly) the same raters: (sorted rater rows, item codes, ratings as raters x items, NaN = not rated).

    ``item_codes``, ``rows`` and ``values`` are sorted by item, then row, without missing ratings.
    Items with identical rater sets are grouped first; groups are then merged greedily, in order
    of their first rater, while the union of raters stays within ``BLOCK_OVERLAP`` of the larger
    set (an item group with a few skipped ratings stays one block).
    """
    if item_codes.size == 0:
        return
    starts = np.flatnonzero(np.r_[True, item_codes[1:] != item_codes[:-1]])
    ends = np.r_[starts[1:], item_codes.size]
    exact: dict[bytes, list[tuple[int, int]]] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        exact.setdefault(rows[start:end].tobytes(), []).append((start, end))
    first_row = dict(zip(starts.tolist(), rows[starts].tolist(), strict=True))
    first_item = dict(zip(starts.tolist(), item_codes[starts].tolist(), strict=True))
    groups = sorted(exact.values(), key=lambda members: (first_row[members[0][0]], first_item[members[0][0]]))

    # Python sets of a few dozen rows: a set union costs a tenth of np.union1d's call.
    block_rows, block_items = None, []
    for members in groups:
        start, end = members[0]
        group_rows = set(rows[start:end].tolist())
        if block_rows is not None:
            union = block_rows | group_rows
            if len(union) <= BLOCK_OVERLAP * max(len(block_rows), len(group_rows)):
                block_rows = union
                block_items.extend(members)
                continue
            yield _block(block_rows, block_items, item_codes, rows, values)
        block_rows, block_items = group_rows, list(members)
    yield _block(block_rows, block_items, item_codes, rows, values)


def _block(block_rows: set, block_items: list[tuple[int, int]], item_codes, rows, values):
    block_rows = np.array(sorted(block_rows), dtype=rows.dtype)
    spans = np.array(block_items)
    lengths = spans[:, 1] - spans[:, 0]
    # The positions of every member's ratings, member after member, and the column each goes to.
    positions = np.arange(lengths.sum()) + np.repeat(spans[:, 0] - (np.cumsum(lengths) - lengths), lengths)
    x = np.full((block_rows.size, len(block_items)), np.nan)
    x[np.searchsorted(block_rows, rows[positions]), np.repeat(np.arange(len(block_items)), lengths)] = values[positions]
    return block_rows, item_codes[spans[:, 0]], x


def spearman_matrix(ratings: pd.DataFrame, traits: pd.DataFrame) -> pd.DataFrame:
    """``spearman_long`` for wide ratings: rows are participants, columns are items, NaN = not rated.

    Traits are matched to ``ratings`` by index. Items are reported in column order.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 1, 1]})
    >>> t = pd.DataFrame({"Power": [0.1, 0.4, 0.2, 0.9]})
    >>> spearman_matrix(r, t)["rho"].round(4).tolist()
    [0.8, -0.4472]
    """
    import pandas as pd

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


def _standardised_ranks(values: np.ndarray) -> np.ndarray:
    """Each row's average ranks, centred and scaled to unit length (NaN for a constant row)."""
    from scipy.stats import rankdata

    ranks = rankdata(values, axis=1)
    centred = ranks - ranks.mean(axis=1, keepdims=True)
    norm = np.sqrt((centred**2).sum(axis=1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, centred / norm, np.nan)


def spearman_rows(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spearman rho, two-sided p and n between every row of ``left`` (a x d) and every row of ``right`` (b x d).

    NaN marks a missing value; each pair uses the columns both rows have (pairwise complete), as
    ``scipy.stats.spearmanr`` on those columns would: Pearson correlation of average ranks, p from
    :func:`spearman_p_value`. Fewer than 3 common columns, or a row constant on them, gives NaN.
    Vectorised per pattern of common columns (all complete rows share one), so a 300 x 300 table
    is a few matrix products instead of 90,000 calls. Returns three (a x b) arrays.
    """
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if left.ndim != 2 or right.ndim != 2 or left.shape[1] != right.shape[1]:
        raise ValueError(f"left and right need the same columns, got shapes {left.shape} and {right.shape}")
    a, b = len(left), len(right)
    rho = np.full((a, b), np.nan)
    left_present, right_present = ~np.isnan(left), ~np.isnan(right)
    common = left_present[:, None, :] & right_present[None, :, :]
    n = common.sum(axis=2)
    if a == 0 or b == 0:
        return rho, rho.copy(), n
    patterns, which = np.unique(common.reshape(a * b, -1), axis=0, return_inverse=True)
    which = which.reshape(a, b)
    for number, pattern in enumerate(patterns):
        if pattern.sum() < 3:
            continue
        rows, cols = np.nonzero(which == number)
        left_rows, right_rows = np.unique(rows), np.unique(cols)

        product = _standardised_ranks(left[left_rows][:, pattern]) @ _standardised_ranks(right[right_rows][:, pattern]).T
        position_left = np.searchsorted(left_rows, rows)
        position_right = np.searchsorted(right_rows, cols)
        rho[rows, cols] = np.clip(product[position_left, position_right], -1.0, 1.0)
    return rho, spearman_p_value(rho, n), n

"""Spearman correlations of every item with every dimension, vectorised.

Participants rate only the items of their item group, so the raters of one item are usually
the raters of every item in its group. Items are therefore grouped by their exact set of raters
(and dimensions by the participants with a score); each block is ranked once and correlated with
every dimension by one matrix product. A Python loop runs over blocks, never over pairs.
"""

from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy.special import stdtr
from scipy.stats import rankdata

CORRELATION_COLUMNS = ["item_id", "dimension", "rho", "p_value", "n"]
LONG_RATING_COLUMNS = ["participant_id", "item_id", "rating"]

# Rounding leaves a perfect rank correlation a few ulps short of +-1. The closest an imperfect
# Spearman rho can come to 1 is about 12 / n^3, above 1e-12 for every n below 20,000 raters,
# so values this close are snapped to exactly +-1 (and get p = 0).
PERFECT_TOLERANCE = 1e-12

# A block: trait-row indices of its raters, the item positions it covers, and the ratings
# (raters x items, no missing values).
Block = tuple[np.ndarray, np.ndarray, np.ndarray]


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


def _centred_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column ranks (average ranks for ties), centred, and their Euclidean norms."""
    ranks = rankdata(values, axis=0)
    ranks -= ranks.mean(axis=0)
    return ranks, np.sqrt((ranks * ranks).sum(axis=0))


def _column_groups(present: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Columns of ``present`` (rows x columns, bool) grouped by identical column: (row mask, column indices)."""
    packed = np.packbits(present, axis=0)
    groups: dict[bytes, list[int]] = {}
    for column in range(present.shape[1]):
        groups.setdefault(packed[:, column].tobytes(), []).append(column)
    return [(present[:, cols[0]], np.asarray(cols)) for cols in groups.values()]


def _correlate_blocks(blocks: Iterator[Block], traits: np.ndarray, n_items: int) -> tuple[np.ndarray, ...]:
    """rho, p and n (items x dimensions) from rating blocks and a trait matrix (rows x dimensions)."""
    n_dims = traits.shape[1]
    rho = np.full((n_items, n_dims), np.nan)
    count = np.zeros((n_items, n_dims), dtype=np.int64)
    dim_groups = _column_groups(~np.isnan(traits))
    for rows, item_cols, values in blocks:
        for dim_present, dim_cols in dim_groups:
            keep = dim_present[rows]
            n = int(keep.sum())
            count[np.ix_(item_cols, dim_cols)] = n
            if n < 2:
                continue
            item_ranks, item_norms = _centred_ranks(values[keep] if n < keep.size else values)
            dim_ranks, dim_norms = _centred_ranks(traits[np.ix_(rows[keep], dim_cols)])
            with np.errstate(divide="ignore", invalid="ignore"):
                block = (item_ranks.T @ dim_ranks) / np.outer(item_norms, dim_norms)
            block[(item_norms == 0)[:, None] | (dim_norms == 0)[None, :]] = np.nan
            block = np.where(np.abs(block) >= 1 - PERFECT_TOLERANCE, np.sign(block), block)
            rho[np.ix_(item_cols, dim_cols)] = block
    return rho, spearman_p_value(rho, count), count


def _result(item_ids, dimensions, rho, p, count) -> pd.DataFrame:
    n_items, n_dims = rho.shape
    return pd.DataFrame(
        {
            "item_id": np.repeat(np.asarray(item_ids, dtype=object), n_dims),
            "dimension": np.tile(np.asarray(dimensions, dtype=object), n_items),
            "rho": rho.ravel(),
            "p_value": p.ravel(),
            "n": count.ravel(),
        },
        columns=CORRELATION_COLUMNS,
    )


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


def spearman_matrix(ratings: pd.DataFrame, traits: pd.DataFrame) -> pd.DataFrame:
    """Spearman's rho, two-sided p-value and n for every item x dimension pair (wide ratings).

    For each pair only the participants with both a rating and a trait value are used, so n
    varies with missing answers. Ranks are average ranks (ties share the mean rank) computed
    within those participants, exactly as ``scipy.stats.spearmanr`` on the pairwise-complete
    data; p follows the t-distribution with n - 2 degrees of freedom. A constant input (or
    n < 2) gives NaN rho, never an error; n = 2 gives rho of +-1 with NaN p, as scipy does.
    A perfectly monotone pair gives exactly +-1 and p = 0 (scipy may return rho a few ulps
    short of 1 and a p-value made of rounding error).

    Parameters
    ----------
    ratings : DataFrame
        Rows are participants, columns are items (the column labels are item ids), NaN = not rated.
    traits : DataFrame
        Rows are participants (matched to ``ratings`` by index), columns are dimensions.

    Returns
    -------
    DataFrame
        Columns ``item_id, dimension, rho, p_value, n``: one row per item x dimension, items in
        the column order of ``ratings`` and dimensions in the column order of ``traits``.

    See Also
    --------
    spearman_long : the same from long ratings, for studies too large for a dense matrix.

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
    t = _trait_matrix(traits.reindex(ratings.index) if isinstance(traits, pd.DataFrame) else traits)
    try:
        r = ratings.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"ratings must be numeric: {error}") from error

    def blocks() -> Iterator[Block]:
        for rated, cols in _column_groups(~np.isnan(r)):
            rows = np.flatnonzero(rated)
            yield rows, cols, r[np.ix_(rows, cols)]

    rho, p, count = _correlate_blocks(blocks(), t, r.shape[1])
    return _result(ratings.columns, traits.columns, rho, p, count)


def spearman_long(ratings: pd.DataFrame, traits: pd.DataFrame, items: list | None = None) -> pd.DataFrame:
    """``spearman_matrix`` from long ratings, without building a participants x items matrix.

    Parameters
    ----------
    ratings : DataFrame
        Columns ``participant_id, item_id, rating``; one row per rating (NaN ratings are ignored).
    traits : DataFrame
        Participants (index, matched to ``participant_id``) x dimensions.
    items : list, optional
        The items to report, in this order (items without ratings get n = 0 and NaN).
        Default: every rated item in order of first appearance.

    Returns
    -------
    DataFrame
        Columns ``item_id, dimension, rho, p_value, n``, identical to ``spearman_matrix`` on the
        same data.
    """
    if not isinstance(ratings, pd.DataFrame) or set(LONG_RATING_COLUMNS) - set(ratings.columns):
        raise ValueError(f"ratings must be a DataFrame with the columns {LONG_RATING_COLUMNS}.")
    t = _trait_matrix(traits)
    try:
        values = pd.to_numeric(ratings["rating"]).to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise ValueError(f"ratings must be numeric: {error}") from error
    rated = ~np.isnan(values)
    participants, item_ids, values = ratings["participant_id"].to_numpy()[rated], ratings["item_id"].to_numpy()[rated], values[rated]

    order = list(dict.fromkeys(ratings["item_id"])) if items is None else list(items)
    if len(set(order)) != len(order):
        raise ValueError("items lists an item twice.")
    item_codes = pd.Index(order).get_indexer(item_ids)
    if (item_codes < 0).any():
        raise ValueError(f"ratings has the item {item_ids[item_codes < 0][0]!r}, which is not in items.")
    # Raters without a trait row get an all-NaN row: they count for no dimension.
    trait_rows = traits.index.get_indexer(participants)
    trait_rows[trait_rows < 0] = t.shape[0]
    t = np.vstack([t, np.full((1, t.shape[1]), np.nan)])

    sort = np.lexsort((trait_rows, item_codes))
    item_codes, trait_rows, values = item_codes[sort], trait_rows[sort], values[sort]
    participants = participants[sort]
    same = (item_codes[1:] == item_codes[:-1]) & (participants[1:] == participants[:-1])
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise ValueError(f"Participant {participants[i]!r} rated item {order[item_codes[i]]!r} more than once.")

    starts = np.flatnonzero(np.r_[True, item_codes[1:] != item_codes[:-1]]) if item_codes.size else np.array([], int)
    ends = np.r_[starts[1:], item_codes.size]
    groups: dict[bytes, list[int]] = {}
    for start, end in zip(starts, ends, strict=True):
        groups.setdefault(trait_rows[start:end].tobytes(), []).append(start)

    def blocks() -> Iterator[Block]:
        for first_starts in groups.values():
            first = first_starts[0]
            size = int(ends[np.searchsorted(starts, first)] - first)
            begins = np.asarray(first_starts)
            take = begins[None, :] + np.arange(size)[:, None]
            yield trait_rows[first : first + size], item_codes[begins], values[take]

    rho, p, count = _correlate_blocks(blocks(), t, len(order))
    return _result(order, traits.columns, rho, p, count)

"""Spearman correlations against scipy.stats.spearmanr on the pairwise-complete data."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from psychometrics.stats.correlation import spearman_long, spearman_matrix

TOLERANCE = 1e-9


def _scipy_reference(ratings: pd.DataFrame, traits: pd.DataFrame, item, dimension):
    both = ratings[item].notna() & traits[dimension].reindex(ratings.index).notna()
    x, y = ratings.loc[both, item], traits[dimension].reindex(ratings.index)[both]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue), int(both.sum())


def _assert_matches_scipy(result, ratings, traits):
    for row in result.itertuples():
        rho, p, n = _scipy_reference(ratings, traits, row.item_id, row.dimension)
        assert row.n == n
        if np.isnan(rho):
            assert np.isnan(row.rho) and np.isnan(row.p_value), row
            continue
        if abs(rho) > 1 - 1e-12 and n > 2:
            # A perfect rank correlation: exactly +-1 with p = 0, where scipy's p is rounding noise.
            assert abs(row.rho) == 1.0 and row.p_value == 0.0 and np.sign(row.rho) == np.sign(rho)
            continue
        assert row.rho == pytest.approx(rho, abs=TOLERANCE, rel=TOLERANCE)
        if np.isnan(p):
            assert np.isnan(row.p_value)
        else:
            assert row.p_value == pytest.approx(p, abs=TOLERANCE, rel=TOLERANCE)


def _study(seed=0, participants=50, items=30, dimensions=6, missing=0.15):
    rng = np.random.default_rng(seed)
    ratings = pd.DataFrame(
        rng.integers(1, 7, (participants, items)).astype(float),
        index=[f"p{i}" for i in range(participants)],
        columns=[f"item-{j}" for j in range(items)],
    )
    ratings = ratings.mask(rng.random(ratings.shape) < missing)
    traits = pd.DataFrame(rng.normal(size=(participants, dimensions)).round(1), index=ratings.index,
                          columns=[f"D{k}" for k in range(dimensions)])
    traits = traits.mask(rng.random(traits.shape) < missing / 2)
    return ratings, traits


def test_every_pair_matches_scipy_with_ties_and_missing_answers():
    ratings, traits = _study()
    result = spearman_matrix(ratings, traits)
    assert len(result) == 30 * 6
    assert result["n"].nunique() > 5  # n varies with missing answers
    _assert_matches_scipy(result, ratings, traits)


def test_constant_ratings_or_scores_give_nan_not_an_error():
    ratings, traits = _study(seed=1)
    ratings["item-3"] = 4.0
    traits["D2"] = 0.5
    result = spearman_matrix(ratings, traits).set_index(["item_id", "dimension"])
    assert result.loc[("item-3", "D0"), ["rho", "p_value"]].isna().all()
    assert result.loc[("item-5", "D2"), ["rho", "p_value"]].isna().all()
    assert result.loc[("item-3", "D0"), "n"] > 0


def test_a_rating_constant_only_among_raters_with_a_score_is_nan():
    ratings = pd.DataFrame({"a": [1.0, 2.0, 2.0, 2.0]}, index=list("wxyz"))
    traits = pd.DataFrame({"D": [np.nan, 0.1, 0.5, 0.3]}, index=list("wxyz"))
    row = spearman_matrix(ratings, traits).iloc[0]
    assert np.isnan(row.rho) and row.n == 3


def test_perfect_and_two_rater_correlations_follow_scipy():
    ratings = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 2.0, np.nan, np.nan]})
    traits = pd.DataFrame({"D": [0.1, 0.2, 0.3, 0.4]})
    result = spearman_matrix(ratings, traits)
    assert result.loc[0, "rho"] == 1.0 and result.loc[0, "p_value"] == 0.0
    assert result.loc[1, "rho"] == 1.0 and np.isnan(result.loc[1, "p_value"]) and result.loc[1, "n"] == 2


def test_an_item_nobody_rated_has_n_zero():
    ratings = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan] * 3})
    result = spearman_matrix(ratings, pd.DataFrame({"D": [3.0, 1.0, 2.0]}))
    assert result.loc[1, "n"] == 0 and np.isnan(result.loc[1, "rho"])


def test_long_ratings_give_exactly_the_wide_result_in_the_requested_item_order():
    ratings, traits = _study(seed=2)
    ratings.iloc[:25, 15:] = np.nan  # two groups of raters
    wide = spearman_matrix(ratings, traits)
    long = ratings.stack().rename("rating").rename_axis(["participant_id", "item_id"]).reset_index()
    shuffled = long.sample(frac=1, random_state=4)
    result = spearman_long(shuffled, traits.iloc[::-1], items=[*ratings.columns, "unrated"])
    pd.testing.assert_frame_equal(result.iloc[: len(wide)].reset_index(drop=True), wide, atol=1e-12, rtol=0)
    assert (result.iloc[len(wide):]["n"] == 0).all()


def test_raters_without_trait_scores_are_left_out():
    long = pd.DataFrame({"participant_id": ["a", "b", "c", "d", "x"], "item_id": ["i"] * 5, "rating": [1, 2, 3, 4, 1]})
    traits = pd.DataFrame({"D": [1.0, 2.0, 4.0, 3.0]}, index=["a", "b", "c", "d"])
    row = spearman_long(long, traits).iloc[0]
    assert row.n == 4
    assert row.rho == pytest.approx(stats.spearmanr([1, 2, 3, 4], [1, 2, 4, 3]).statistic, abs=TOLERANCE)


def test_a_repeated_rating_is_an_error_naming_participant_and_item():
    long = pd.DataFrame({"participant_id": ["a", "a"], "item_id": ["i", "i"], "rating": [1, 2]})
    with pytest.raises(ValueError, match="Participant 'a' rated item 'i' more than once"):
        spearman_long(long, pd.DataFrame({"D": [1.0]}, index=["a"]))


def test_infinite_ratings_or_scores_are_rejected_by_name():
    long = pd.DataFrame({"participant_id": ["a", "b"], "item_id": ["i", "i"], "rating": [1.0, np.inf]})
    traits = pd.DataFrame({"D": [1.0, 2.0]}, index=["a", "b"])
    with pytest.raises(ValueError, match="Participant 'b' rated item 'i' inf"):
        spearman_long(long, traits)
    with pytest.raises(ValueError, match="infinite score for participant 'a' on 'D'"):
        spearman_long(long.assign(rating=[1.0, 2.0]), traits.assign(D=[-np.inf, 2.0]))


def test_non_numeric_ratings_are_rejected():
    with pytest.raises(ValueError, match="numeric"):
        spearman_matrix(pd.DataFrame({"a": ["x", "y"]}), pd.DataFrame({"D": [1.0, 2.0]}))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 6)), st.one_of(st.none(), st.integers(-3, 3))), min_size=0, max_size=15)
)
def test_any_small_sample_matches_scipy(pairs):
    ratings = pd.DataFrame({"a": [np.nan if r is None else float(r) for r, _ in pairs]}, dtype=float)
    traits = pd.DataFrame({"D": [np.nan if t is None else float(t) for _, t in pairs]}, dtype=float)
    result = spearman_matrix(ratings, traits)
    both = ratings["a"].notna() & traits["D"].notna()
    assert result.loc[0, "n"] == both.sum()
    if both.sum() >= 2:
        _assert_matches_scipy(result, ratings, traits)
    else:
        assert np.isnan(result.loc[0, "rho"])


def test_items_with_different_raters_and_scattered_missing_scores_match_scipy():
    # Items fall into many rater groups (partly overlapping), and missing scores differ by dimension.
    ratings, traits = _study(seed=3, items=25)
    ratings.iloc[:20, 10:] = np.nan
    ratings.iloc[30:, :5] = np.nan
    _assert_matches_scipy(spearman_matrix(ratings, traits), ratings, traits)


def test_small_chunks_and_unmerged_rater_groups_give_the_same_result(monkeypatch):
    import psychometrics.stats.correlation as correlation

    ratings, traits = _study(seed=4, items=25)
    ratings.iloc[:20, 10:] = np.nan
    expected = spearman_matrix(ratings, traits)
    monkeypatch.setattr(correlation, "CHUNK_CELLS", 1)  # one item per chunk
    monkeypatch.setattr(correlation, "BLOCK_OVERLAP", 1.0)  # only identical rater sets share a block
    pd.testing.assert_frame_equal(spearman_matrix(ratings, traits), expected, atol=1e-12, rtol=0)


def test_thousands_of_raters_per_item_match_scipy():
    # Work grows with raters x log(raters), not raters squared: 3,000 raters rate every item.
    rng = np.random.default_rng(8)
    ratings = pd.DataFrame(rng.integers(1, 7, (3000, 4)).astype(float), columns=list("abcd"))
    ratings.loc[rng.random(3000) < 0.1, "b"] = np.nan
    traits = pd.DataFrame(rng.normal(size=(3000, 3)).round(1), columns=["X", "Y", "Z"])
    traits.loc[rng.random(3000) < 0.05, "Z"] = np.nan
    result = spearman_matrix(ratings, traits)
    assert result["n"].min() < 3000 and result["n"].max() == 3000
    _assert_matches_scipy(result, ratings, traits)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_any_small_study_with_gaps_matches_scipy_pair_by_pair(data):
    participants = data.draw(st.integers(3, 12))
    cell = st.one_of(st.none(), st.integers(1, 4))
    ratings = pd.DataFrame(
        [[data.draw(cell) for _ in range(4)] for _ in range(participants)], columns=list("abcd"), dtype=float
    )
    traits = pd.DataFrame(
        [[data.draw(st.one_of(st.none(), st.integers(-2, 2))) for _ in range(3)] for _ in range(participants)],
        columns=["X", "Y", "Z"], dtype=float,
    )
    _assert_matches_scipy(spearman_matrix(ratings, traits), ratings, traits)


def _grouped_study(seed=11, sizes=(1, 2, 3, 12, 12, 12, 30), items_per_group=6, missing=0.2):
    """Long ratings of item groups, each rated by its own raters (groups of several sizes), and complete,
    heavily tied scores: the batched path (every block's raters scored on every dimension)."""
    rng = np.random.default_rng(seed)
    rows, rater = [], 0
    for group, size in enumerate(sizes):
        for _ in range(size):
            for item in range(items_per_group):
                if rng.random() >= missing:
                    rows.append((f"r{rater}", f"g{group}-i{item}", float(rng.integers(1, 5))))
            rater += 1
    ratings = pd.DataFrame(rows, columns=["participant_id", "item_id", "rating"])
    ratings.loc[ratings["item_id"] == "g4-i0", "rating"] = 3.0  # a constant item
    traits = pd.DataFrame(rng.integers(-2, 3, (rater, 4)).astype(float), index=[f"r{i}" for i in range(rater)],
                          columns=["A", "B", "C", "D"])
    traits["D"] = 1.0  # a constant dimension
    return ratings, traits


def _wide(ratings):
    return ratings.pivot(index="participant_id", columns="item_id", values="rating")


def test_blocks_of_fully_scored_raters_match_scipy_pair_by_pair():
    ratings, traits = _grouped_study()
    result = spearman_long(ratings, traits)
    wide = _wide(ratings).reindex(traits.index)
    assert result["n"].min() <= 2 and result["n"].max() >= 20
    _assert_matches_scipy(result.assign(item_id=result["item_id"]), wide, traits)


@pytest.mark.parametrize("subtract_at_most", [0, 3, 10**9])  # rank every pair anew / the default / always subtract
@pytest.mark.parametrize("chunk_cells", [1, 1_000_000])
def test_batched_blocks_give_the_bits_of_the_block_by_block_computation(monkeypatch, subtract_at_most, chunk_cells):
    import psychometrics.stats.correlation as correlation

    ratings, traits = _grouped_study(seed=12, missing=0.3)
    monkeypatch.setattr(correlation, "SUBTRACT_AT_MOST", subtract_at_most)
    monkeypatch.setattr(correlation, "CHUNK_CELLS", chunk_cells)
    item_codes = pd.Index(pd.unique(ratings["item_id"])).get_indexer(ratings["item_id"])
    rows = traits.index.get_indexer(ratings["participant_id"])
    values, scores = ratings["rating"].to_numpy(dtype=float), traits.to_numpy()
    n_items = item_codes.max() + 1
    rho, n = correlation.spearman_coded(item_codes, rows, values, scores, n_items)

    sort = np.lexsort((rows, item_codes))
    expected_rho, expected_n = np.full_like(rho, np.nan), np.zeros_like(n)
    for block_rows, codes, x in correlation._blocks(item_codes[sort], rows[sort], values[sort]):
        expected_rho[codes], expected_n[codes] = correlation._block_spearman(x, scores[block_rows])
    np.testing.assert_array_equal(n, expected_n)
    np.testing.assert_array_equal(rho, expected_rho)  # bit for bit, NaN where NaN
    assert np.isnan(rho).any() and (np.abs(rho) == 1).any()  # constant, too few raters and perfect pairs are in

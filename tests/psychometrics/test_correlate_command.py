"""`manage.py correlate`: the statistics on CSV files, with errors that name file, line and column."""

import warnings
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from scipy import stats

TRAIT_COLUMNS = [  # as a researcher might spell them: every variant maps to a canonical name
    "self_direction", "Stimulation", "hedonism", "ACHIEVEMENT", "Power", "security", "Conformity", "tradition",
    "Benevolence", "universalism", "Openness to change", "self-enhancement", "Conservation", "Self Transcendence",
    "openness", "Conscientiousness", "extraversion", "Agreeableness", "Neuroticism",
]


def _write_paper_scale_study(folder, seed=7, items=520, raters=46, group_size=10):
    """520 items in groups of 10, each group rated by its own 46 raters, with some answers missing."""
    rng = np.random.default_rng(seed)
    groups = items // group_size
    participants = [f"P{g:03d}-{r:02d}" for g in range(groups) for r in range(raters)]
    traits = pd.DataFrame(rng.normal(size=(len(participants), len(TRAIT_COLUMNS))).round(2), columns=TRAIT_COLUMNS)
    traits.insert(0, "participant_id", participants)
    traits = traits.mask(rng.random(traits.shape) < 0.01).fillna({"participant_id": "unused"})
    traits = traits[traits["participant_id"] != "unused"]
    rows = []
    for g in range(groups):
        for r in range(raters):
            for k in range(group_size):
                if rng.random() < 0.02:
                    continue
                rows.append((f"P{g:03d}-{r:02d}", f"item-{g * group_size + k:04d}", int(rng.integers(1, 7))))
    ratings = pd.DataFrame(rows, columns=["participant_id", "item_id", "rating"])
    ratings.to_csv(folder / "ratings.csv", index=False)
    traits.to_csv(folder / "traits.csv", index=False)
    return ratings, traits.set_index("participant_id")


def _correlate(folder, *extra):
    out = StringIO()
    call_command("correlate", "--ratings", str(folder / "ratings.csv"), "--traits", str(folder / "traits.csv"),
                 "--out", str(folder / "out.csv"), *extra, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_published_scale_is_reproduced_exactly_against_scipy(tmp_path):
    ratings, traits = _write_paper_scale_study(tmp_path)
    message = _correlate(tmp_path)
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["item_id", "family", "dimension", "rho", "p_value", "n", "selected"]
    assert len(out) == 520 * 19
    assert "520 items x 19 dimensions" in message
    assert set(out["family"]) == {"pvq", "higher_pvq", "bfi"}
    assert "Self-Direction" in set(out["dimension"]) and "Self-Transcendence" in set(out["dimension"])

    wide = ratings.pivot(index="participant_id", columns="item_id", values="rating")
    canonical = dict(zip(TRAIT_COLUMNS, pd.unique(out["dimension"]), strict=True))
    sample = out.sample(n=600, random_state=1)
    for row in sample.itertuples():
        column = next(c for c, d in canonical.items() if d == row.dimension)
        x = wide[row.item_id]
        y = traits[column].reindex(wide.index)
        both = x.notna() & y.notna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = stats.spearmanr(x[both], y[both])
        assert row.n == both.sum()
        assert row.rho == pytest.approx(expected.statistic, abs=1e-9)
        assert row.p_value == pytest.approx(expected.pvalue, abs=1e-9)
        assert row.selected == int(abs(row.rho) >= 0.3 and row.p_value < 0.05)
    assert out["n"].max() <= 46 and out["n"].nunique() > 1  # missing answers: n varies


def test_unknown_trait_columns_are_custom_and_options_change_the_selection(tmp_path):
    pd.DataFrame({"participant_id": list("abcdef"), "item_id": "x", "rating": [1, 2, 3, 4, 5, 6]}).to_csv(tmp_path / "ratings.csv", index=False)
    pd.DataFrame({"participant_id": list("abcdef"), "Honesty": [1, 2, 3, 4, 6, 5], "Power": [3, 1, 2, 6, 5, 4]}).to_csv(
        tmp_path / "traits.csv", index=False)
    _correlate(tmp_path)
    out = pd.read_csv(tmp_path / "out.csv").set_index("dimension")
    assert out.loc["Honesty", "family"] == "custom" and out.loc["Power", "family"] == "pvq"
    assert out.loc["Honesty", "rho"] == pytest.approx(stats.spearmanr([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 6, 5]).statistic)
    assert out.loc["Honesty", "selected"] == 1 and out.loc["Power", "selected"] == 0
    _correlate(tmp_path, "--threshold", "0.95")
    assert pd.read_csv(tmp_path / "out.csv")["selected"].sum() == 0


def _files(tmp_path, ratings: str, traits: str = "participant_id,Power\na,1\nb,2\nc,3\n"):
    (tmp_path / "ratings.csv").write_text(ratings)
    (tmp_path / "traits.csv").write_text(traits)


@pytest.mark.parametrize(
    ("ratings", "traits", "message"),
    [
        ("participant_id,item_id,score\na,x,1\n", None, r"ratings.csv, line 1: missing column 'rating'"),
        ("participant_id,item_id,rating\na,x,1\nb,x,five\n", None, r"ratings.csv, line 3, column 'rating': 'five' is not a number"),
        ("participant_id,item_id,rating\na,x,1\na,x,2\n", None, r"ratings.csv, line 3: participant 'a' rated item 'x' again \(first on line 2\)"),
        ("participant_id,item_id,rating\na,,1\n", None, r"ratings.csv, line 2, column 'item_id': is empty"),
        ("participant_id,item_id,rating\na,x\n", None, r"ratings.csv, line 2, column 'rating': no value \(the line has 2 fields"),
        ("participant_id,item_id,rating\na,x,1,9\n", None, r"ratings.csv, line 2: '9' is beyond the last column"),
        ("participant_id,item_id,rating\na,x,1\nb,\"x\"y,2\n", None, r"ratings.csv, line 3: is not a readable CSV file \(',' expected"),
        ("participant_id,item_id,rating\na,x,1\n\"b,x,2\n", None, r"ratings.csv, line 3: is not a readable CSV file \(unexpected end"),
        ("", None, r"ratings.csv: the file is empty"),
        ("participant_id,item_id,rating\na,x,1\n", "participant_id,Power\na,1\nb,high\n", r"traits.csv, line 3, column 'Power': 'high' is not a number"),
        ("participant_id,item_id,rating\na,x,1\n", "participant_id,Power,power\na,1,1\n", r"traits.csv, line 1: Trait columns 'Power' and 'power' both name the dimension 'Power'"),
        ("participant_id,item_id,rating\na,x,1\n", "id,Power\na,1\n", r"traits.csv, line 1: missing column 'participant_id'"),
        ("participant_id,item_id,rating\na,x,1\n", "participant_id,Power\na,1\na,2\n", r"traits.csv, line 3: participant 'a' appears again"),
        ("participant_id,item_id,rating\nz,x,1\n", None, r"none of the 1 participants"),
    ],
)
def test_bad_input_is_reported_with_file_line_and_column_and_nothing_is_written(tmp_path, ratings, traits, message):
    _files(tmp_path, ratings, *( [traits] if traits else []))
    with pytest.raises(CommandError, match=message):
        _correlate(tmp_path)
    assert not (tmp_path / "out.csv").exists()
    assert not list(tmp_path.glob(".out.csv.*"))


def test_a_missing_file_is_named(tmp_path):
    _files(tmp_path, "participant_id,item_id,rating\na,x,1\n")
    with pytest.raises(CommandError, match=r"nowhere.csv: file not found"):
        call_command("correlate", "--ratings", str(tmp_path / "nowhere.csv"), "--traits", str(tmp_path / "traits.csv"),
                     "--out", str(tmp_path / "out.csv"))


def test_a_byte_that_is_not_utf8_is_reported_on_its_line_and_a_bom_is_accepted(tmp_path):
    (tmp_path / "ratings.csv").write_bytes(b"\xef\xbb\xbfparticipant_id,item_id,rating\na,x,1\nb,x,2\n\xff,x,3\n")
    (tmp_path / "traits.csv").write_text("participant_id,Power\na,1\nb,2\nc,3\n")
    with pytest.raises(CommandError, match=r"ratings.csv, line 4: is not UTF-8 text \(byte 0xff\)"):
        _correlate(tmp_path)
    (tmp_path / "ratings.csv").write_bytes(b"\xef\xbb\xbfparticipant_id,item_id,rating\na,x,1\nb,x,2\nc,x,3\n")
    _correlate(tmp_path)
    assert pd.read_csv(tmp_path / "out.csv").loc[0, "n"] == 3

"""Prompt sensitivity of a run: how much a model's answers depend on the prompt wording and option order.

Pure pandas/scipy, no Django. Prompt indices as in :mod:`benchmark.prompts`: 0-2 the three templates
with the phrases in the paper's order, 3-5 the same templates reversed, so template *k* is the
prompt pair (k, k+3). From a run's answers (``item_id, prompt_index, rating``; NaN = unparsed):

* ``identical_share``: share of the items with all six answers parsed whose six ratings are equal;
* ``order_spearman``: Spearman ρ (scipy.stats.spearmanr) over items between the item mean over
  prompts 0-2 and the item mean over prompts 3-5 (items with a parsed answer in both halves);
* ``mean_abs_shift``: :math:`\\frac{1}{|I|}\\sum_{i \\in I} \\frac{1}{|P_i|}\\sum_{\\{a,b\\} \\in P_i}
  |r_{ia} - r_{ib}|`, where :math:`P_i` are the unordered pairs of item *i*'s parsed prompts and
  *I* the items with at least two parsed prompts: the rating change expected from switching prompt;
* ``template_profiles`` / ``template_correlations``: the run scored three times, once per template
  from its two prompts alone (the point estimates of the run's scoring,
  :func:`benchmark.scoring.dimension_point_scores`), and the Spearman and Pearson correlation between
  each pair of the three ``pvq`` profiles.

A statistic that cannot be computed is ``None`` with a ``reason`` (too few items, a constant input).
"""

from itertools import combinations

import numpy as np
import pandas as pd

from benchmark import scoring
from benchmark.prompts import PROMPT_COUNT

TEMPLATES = PROMPT_COUNT // 2
MIN_FOR_CORRELATION = 3
PROFILE_FAMILY = "pvq"
TOO_FEW = "fewer than {minimum} {what}"
CONSTANT = "{what} constant: correlation undefined"


def _correlation(x: np.ndarray, y: np.ndarray, what: str, function) -> dict:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    result = {"n": int(keep.sum()), "rho": None, "p_value": None, "reason": None}
    if len(x) < MIN_FOR_CORRELATION:
        result["reason"] = TOO_FEW.format(minimum=MIN_FOR_CORRELATION, what=what)
    elif np.ptp(x) == 0 or np.ptp(y) == 0:
        result["reason"] = CONSTANT.format(what=f"one side's {what}")
    else:
        statistic, p_value = function(x, y)
        result["rho"], result["p_value"] = float(statistic), float(p_value)
    return result


def _wide(answers: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({
        "item_id": answers["item_id"].astype(str),
        "prompt_index": pd.to_numeric(answers["prompt_index"]).astype(int),
        "rating": pd.to_numeric(answers["rating"], errors="coerce"),
    })
    return frame.pivot_table(index="item_id", columns="prompt_index", values="rating", aggfunc="first", dropna=False
                             ).reindex(columns=range(PROMPT_COUNT))


def mean_abs_shift(answers: pd.DataFrame) -> tuple[float | None, int]:
    """Mean over items of the mean |r_a − r_b| over pairs of the item's parsed prompts, and the item count."""
    return _mean_abs_shift(_wide(answers).to_numpy(float))


def _mean_abs_shift(wide: np.ndarray) -> tuple[float | None, int]:
    """:func:`mean_abs_shift` of the items × prompts ratings (NaN = unparsed)."""
    differences = np.stack([np.abs(wide[:, a] - wide[:, b]) for a, b in combinations(range(PROMPT_COUNT), 2)], axis=1)
    per_item = np.nanmean(np.where(np.isnan(differences).all(axis=1, keepdims=True), 0, differences), axis=1)
    usable = (~np.isnan(wide)).sum(axis=1) >= 2
    if not usable.any():
        return None, 0
    return float(per_item[usable].mean()), int(usable.sum())


def template_profiles(answers: pd.DataFrame, selection: pd.DataFrame) -> pd.DataFrame:
    """``pvq`` scores from each template's two prompts alone: index dimension, columns template 1-3.

    Point estimates only (the ``score`` of :func:`benchmark.scoring.score_dimensions` for each template's
    item means), the three templates scored at once.
    """
    if selection.empty:
        return pd.DataFrame()
    prompt = pd.to_numeric(answers["prompt_index"])
    means = pd.DataFrame({
        template + 1: scoring.item_means(answers[prompt.isin([template, template + TEMPLATES])]).set_index("item_id")["mean"]
        for template in range(TEMPLATES)
    })
    scores = scoring.dimension_point_scores(means, selection)
    profile = scores[scores["family"] == PROFILE_FAMILY].set_index("dimension")
    return pd.DataFrame({template: profile[template] for template in range(1, TEMPLATES + 1)})


def prompt_consistency(answers: pd.DataFrame, selection: pd.DataFrame) -> dict:
    """The prompt-sensitivity statistics of one run (see the module docstring) as a JSON-ready dict.

    Parameters
    ----------
    answers : DataFrame with ``item_id``, ``prompt_index`` (0-5), ``rating`` (NaN = unparsed).
    selection : output of :func:`benchmark.scoring.select_items` under the run's rule.

    Examples
    --------
    >>> answers = pd.DataFrame({"item_id": ["a"] * 6 + ["b"] * 6, "prompt_index": list(range(6)) * 2,
    ...                         "rating": [4] * 6 + [2, 2, 2, 5, 5, 5]})
    >>> sel = scoring.select_items(pd.DataFrame(columns=["item_id", "family", "dimension", "rho", "p_value"]))
    >>> result = prompt_consistency(answers, sel)
    >>> result["identical_share"], result["mean_abs_shift"]
    (0.5, 0.9)
    """
    from scipy import stats  # here, not at the top: run_benchmark starts its requests without loading scipy

    for column in ("item_id", "prompt_index", "rating"):
        if column not in answers.columns:
            raise ValueError(f"answers is missing column {column}")
    if len(answers) and not pd.to_numeric(answers["prompt_index"]).between(0, PROMPT_COUNT - 1).all():
        raise ValueError(f"prompt_index must be 0-{PROMPT_COUNT - 1}")
    wide = _wide(answers) if len(answers) else pd.DataFrame(columns=range(PROMPT_COUNT), dtype=float)
    complete = wide.dropna()
    values = complete.to_numpy(float)  # no NaN left: an item is identical where every prompt equals its first
    identical = (values == values[:, :1]).all(axis=1)
    shift, shift_items = _mean_abs_shift(wide.to_numpy(float)) if len(answers) else (None, 0)
    paper_order = wide[list(range(TEMPLATES))].mean(axis=1).to_numpy(float)
    reversed_order = wide[list(range(TEMPLATES, PROMPT_COUNT))].mean(axis=1).to_numpy(float)
    order = _correlation(paper_order, reversed_order, "items with answers in both orders", stats.spearmanr)
    order["n_items"] = order.pop("n")

    profiles = template_profiles(answers, selection) if len(answers) else pd.DataFrame()
    correlations = []
    for a, b in combinations(range(1, TEMPLATES + 1), 2):
        x = profiles[a].to_numpy(float) if a in profiles else np.array([])
        y = profiles[b].to_numpy(float) if b in profiles else np.array([])
        spearman = _correlation(x, y, f"{PROFILE_FAMILY} dimensions scored", stats.spearmanr)
        pearson = _correlation(x, y, f"{PROFILE_FAMILY} dimensions scored", stats.pearsonr)
        correlations.append({"templates": [a, b], "spearman": spearman["rho"], "pearson": pearson["rho"],
                             "n_dimensions": spearman["n"], "reason": spearman["reason"] or pearson["reason"]})
    return {
        "items": int(len(wide)),
        "complete_items": int(len(complete)),
        "identical_share": float(identical.mean()) if len(complete) else None,
        "identical_reason": None if len(complete) else "no item has all six answers parsed",
        "order_spearman": order,
        "mean_abs_shift": shift,
        "mean_abs_shift_items": shift_items,
        "template_profiles": {
            f"template_{k}": {dimension: (None if np.isnan(value) else float(value))
                              for dimension, value in profiles[k].items()} if k in profiles else {}
            for k in range(1, TEMPLATES + 1)
        },
        "template_correlations": correlations,
    }

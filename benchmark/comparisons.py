"""Comparing conditions and models with each other and with human reference groups (pure pandas/scipy).

``condition_effects``: a condition's score minus the same model's baseline score per dimension (the
paper's persona and steering tables, 9-15). ``compare_with_reference``: those effects next to a human
group's values (the ESS rows of Tables 9-12), with their differences, Pearson and Spearman
correlations across dimensions and the mean absolute difference.
"""

import numpy as np
import pandas as pd
from scipy import stats


def condition_effects(condition: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """Per-dimension ``condition − baseline`` of two score tables (columns ``family, dimension, score``).

    Returns columns ``family, dimension, condition, baseline, effect`` for dimensions present in both,
    in the condition table's order.

    >>> a = pd.DataFrame({"family": ["pvq"], "dimension": ["Power"], "score": [0.5]})
    >>> b = pd.DataFrame({"family": ["pvq"], "dimension": ["Power"], "score": [0.2]})
    >>> float(round(condition_effects(a, b)["effect"][0], 2))
    0.3
    """
    for name, frame in (("condition", condition), ("baseline", baseline)):
        missing = {"family", "dimension", "score"} - set(frame.columns)
        if missing:
            raise ValueError(f"{name} scores are missing column(s) {', '.join(sorted(missing))}")
    merged = condition[["family", "dimension", "score"]].merge(
        baseline[["family", "dimension", "score"]], on=["family", "dimension"], suffixes=("_condition", "_baseline")
    )
    merged = merged.rename(columns={"score_condition": "condition", "score_baseline": "baseline"})
    merged["effect"] = merged["condition"] - merged["baseline"]
    return merged[["family", "dimension", "condition", "baseline", "effect"]].reset_index(drop=True)


def compare_with_reference(effects: pd.DataFrame, reference: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Model effects next to human reference values, with summary statistics.

    Parameters
    ----------
    effects : columns ``family, dimension, effect`` (e.g. from :func:`condition_effects`).
    reference : columns ``family, dimension, value``.

    Returns
    -------
    (table, summary): ``table`` has columns ``family, dimension, model, human, difference``
    (model − human); ``summary`` has ``n``, ``pearson_r``, ``pearson_p``, ``spearman_rho``,
    ``spearman_p`` and ``mean_abs_difference`` (correlations NaN with fewer than 3 dimensions or a
    constant column).
    """
    for name, frame, column in (("effects", effects, "effect"), ("reference", reference, "value")):
        missing = {"family", "dimension", column} - set(frame.columns)
        if missing:
            raise ValueError(f"{name} is missing column(s) {', '.join(sorted(missing))}")
    table = effects[["family", "dimension", "effect"]].merge(reference[["family", "dimension", "value"]],
                                                             on=["family", "dimension"])
    table = table.rename(columns={"effect": "model", "value": "human"})
    table["difference"] = table["model"] - table["human"]
    model, human = table["model"].to_numpy(float), table["human"].to_numpy(float)
    summary = {"n": len(table), "pearson_r": np.nan, "pearson_p": np.nan, "spearman_rho": np.nan, "spearman_p": np.nan,
               "mean_abs_difference": float(np.abs(table["difference"]).mean()) if len(table) else np.nan}
    if len(table) >= 3 and np.ptp(model) > 0 and np.ptp(human) > 0:
        pearson = stats.pearsonr(model, human)
        spearman = stats.spearmanr(model, human)
        summary.update(pearson_r=float(pearson.statistic), pearson_p=float(pearson.pvalue),
                       spearman_rho=float(spearman.statistic), spearman_p=float(spearman.pvalue))
    return table.reset_index(drop=True), summary

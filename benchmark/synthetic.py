"""Synthetic item banks in the JSONL exchange format, for tests and ``make bench`` (not for research use)."""

import json
from pathlib import Path

import numpy as np

from psychometrics.stats.dimensions import ALL_DIMENSIONS

SOURCES = ("sharegpt", "lmsys", "scruples", "dearabby")


def synthetic_items(n_items: int, *, seed: int = 0) -> list[dict]:
    """``n_items`` item records with made-up texts and correlations on all 19 dimensions.

    Scruples and Dear Abby items get a title, as in the paper's dataset. Correlations are drawn so
    that roughly a fifth of items pass ρ ≥ 0.3, p < .05 for some dimension.
    """
    rng = np.random.default_rng(seed)
    records = []
    for index in range(n_items):
        source = SOURCES[index % len(SOURCES)]
        rho = np.clip(rng.normal(0, 0.17, len(ALL_DIMENSIONS)), -0.9, 0.9)
        p_value = np.where(np.abs(rho) >= 0.29, rng.uniform(0, 0.04, len(rho)), rng.uniform(0.05, 1, len(rho)))
        records.append({
            "item_id": f"{source}-{index:04d}",
            "source": source,
            "title": f"Title of post {index}" if source in ("scruples", "dearabby") else None,
            "query": f"Query number {index}: what should I do about situation {rng.integers(1_000_000)}?",
            "response": f"Response {index}: one perspective on it, seed {rng.integers(1_000_000)}.",
            "correlations": [
                {"family": family, "dimension": dimension, "rho": round(float(r), 4), "p_value": round(float(p), 5), "n": 46}
                for (family, dimension), r, p in zip(ALL_DIMENSIONS, rho, p_value, strict=True)
            ],
        })
    return records


def write_itembank(path: str | Path, records: list[dict]) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path

"""Leaderboard cost with many models: the results selector against a per-run (N+1) baseline.

On a throw-away test database, loads the published dataset (44 models) and adds synthetic
published runs up to ``N_MODELS`` models, then times ``results.selectors.leaderboard`` (a few
queries, pivoted in pandas, plus its rank bootstrap) against the straightforward implementation that reads each run's
scores with its own query and aggregates in Python, and counts the queries of the leaderboard
page. Prints the time ratio selector / baseline (lower is better) and the page's query count,
which must not grow with the number of models. Run alone: ``python -m bench results``.
"""

import random
import statistics
import time

from bench.scratch import scratch_database

N_MODELS = 300
REPEATS = 5


def _populate() -> None:
    from benchmark.models import LLM, Run, Score
    from psychometrics.stats.dimensions import FAMILIES
    from results.selectors import PUBLISHED_BANK_NAME
    from results.services import published_results_load

    published_results_load()
    paper = Run.objects.filter(source=Run.Source.PUBLISHED).first()
    bank = paper.bank
    assert bank.name == PUBLISHED_BANK_NAME
    rng = random.Random(7)
    existing = LLM.objects.count()
    llms = LLM.objects.bulk_create(
        LLM(provider="published", name=f"synthetic-{n}", display_name=f"synthetic-{n}", is_published_only=True)
        for n in range(N_MODELS - existing)
    )
    runs = Run.objects.bulk_create(
        # bulk_create skips Run.save(): give the synthetic runs the paper's protocol, or no page would show them.
        Run(bank=bank, llm=llm, provider="published", model=llm.name, source=Run.Source.PUBLISHED,
            status=Run.Status.COMPLETED, condition="baseline", settings=paper.settings, protocol=paper.protocol,
            protocol_digest=paper.protocol_digest)
        for llm in llms
    )
    Score.objects.bulk_create(
        Score(run=run, family="pvq", dimension=dimension, score=round(rng.uniform(-0.8, 0.9), 2))
        for run in runs for dimension in FAMILIES["pvq"]
    )


def _baseline(bank, dimensions: list[str]) -> dict[str, float]:
    """The naive leaderboard: one query per run × dimension, Python loops; utilitarian closeness to the
    default target (1 - |score - target| / 10, averaged)."""
    from benchmark.models import Score
    from results.selectors import baseline_runs, target_resolve

    target = target_resolve(bank, "pvq").values
    rows = {}
    for run in baseline_runs(bank):
        utilities = []
        for dimension in dimensions:
            score = Score.objects.filter(run=run, family="pvq", dimension=dimension).first()
            utilities.append(1 - abs(score.score - target[dimension]) / 10)
        rows[str(run.llm)] = sum(utilities) / len(utilities)
    return rows


def _time(function) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _measure() -> None:
    from django.db import connection
    from django.test import Client, override_settings

    from psychometrics.stats.dimensions import FAMILIES
    from results.selectors import bank_default, leaderboard

    _populate()
    bank = bank_default(None)
    dimensions = FAMILIES["pvq"]
    ours = leaderboard(bank=bank, dimensions=dimensions)
    naive = _baseline(bank, dimensions)
    assert all(abs(row["welfare"] - naive[row["model"]]) < 1e-4 for row in ours.rows), "the two disagree"
    selector_time = _time(lambda: leaderboard(bank=bank, dimensions=dimensions))
    baseline_time = _time(lambda: _baseline(bank, dimensions))
    client = Client()
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        response = client.get("/results/", HTTP_HOST="127.0.0.1")
    assert response.status_code == 200
    with override_settings(RESULTS_CACHE_SECONDS=0):
        page_time = _time(lambda: client.get("/results/", HTTP_HOST="127.0.0.1"))
    print(f"{len(ours.rows)} models x {len(dimensions)} values: selector {selector_time * 1000:.1f} ms, "
          f"per-run baseline {baseline_time * 1000:.1f} ms")
    print(f"leaderboard page: {page_time * 1000:.0f} ms, {len(queries)} queries")
    print(f"ratio selector / baseline = {selector_time / baseline_time:.3f} (lower is better)")
    _pages(bank)


PAGE_GOAL_MS = 200
WARM_REQUESTS = 40


def _pages(bank) -> None:
    """Every public results page: server time uncached (the baseline) and warm p95 from the page cache."""
    from django.core.cache import cache
    from django.test import Client, override_settings

    from benchmark.models import Run

    run = Run.objects.filter(bank=bank, status=Run.Status.COMPLETED).order_by("pk").first()
    pages = ["/results/", "/results/?dimensions=Benevolence,Universalism&aggregate=rawlsian", "/results/compare/",
             "/results/alignment/", "/results/items/", f"/results/models/{run.llm_id}/"]
    client = Client()
    slowest = 0.0
    with override_settings(RESULTS_RATE_LIMIT="1000000/60"):
        for url in pages:
            cache.clear()
            with override_settings(RESULTS_CACHE_SECONDS=0):
                uncached = _time(lambda url=url: client.get(url, HTTP_HOST="127.0.0.1"))
            client.get(url, HTTP_HOST="127.0.0.1")  # fills the cache
            warm = []
            for _ in range(WARM_REQUESTS):
                start = time.perf_counter()
                response = client.get(url, HTTP_HOST="127.0.0.1")
                warm.append(time.perf_counter() - start)
                assert response.status_code == 200, (url, response.status_code)
            p95 = statistics.quantiles(warm, n=20)[-1]
            slowest = max(slowest, p95)
            print(f"{url}: uncached {uncached * 1000:.0f} ms, warm p95 {p95 * 1000:.1f} ms "
                  f"(ratio {p95 / uncached:.3f}; cache {response.get('X-Results-Cache', 'off')})")
    verdict = "meets" if slowest * 1000 <= PAGE_GOAL_MS else "BELOW GOAL"
    print(f"results pages warm p95: worst {slowest * 1000:.1f} ms (goal <= {PAGE_GOAL_MS} ms) {verdict}")


def main() -> None:
    with scratch_database():
        _measure()


if __name__ == "__main__":
    import os
    import sys

    import django

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    django.setup()
    main()

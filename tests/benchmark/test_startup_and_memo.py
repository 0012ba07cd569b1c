"""What run_benchmark loads before its first request, and the remembered bootstrap counts (issue 15 part 1).

No timing here: the start-up cost is measured by ``make bench`` (bench/bench_runner.py). These tests pin the
behaviour the measurement depends on -- heavy modules off the start-up path, bootstrap counts that are the same
whether drawn now, remembered or drawn in advance.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark import scoring

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    env = {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": "", "CELERY_BROKER_URL": "",
           "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    script = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True, timeout=120)
    return set(result.stdout.split())


def test_the_run_benchmark_command_starts_without_pandas_or_scipy():
    loaded = _loaded_after("import django\ndjango.setup()\nimport benchmark.management.commands.run_benchmark")
    assert "benchmark.services" in loaded and "benchmark.selectors" in loaded  # the command really was imported
    assert not {"pandas", "scipy.stats", "benchmark.scoring", "benchmark.consistency"} & loaded


# Runs manage.py run_benchmark, noting at its first request whether pandas is loaded (argv: bank, base URL, out).
_FIRST_REQUEST_PROBE = """
import runpy, sys
import aiohttp
loaded_at_first_request = []
send = aiohttp.ClientSession._request
async def noting(self, *args, **kwargs):
    if not loaded_at_first_request:
        loaded_at_first_request.append("pandas" in sys.modules)
    return await send(self, *args, **kwargs)
aiohttp.ClientSession._request = noting
bank, base_url, out = sys.argv[1:]
sys.argv = ["manage.py", "run_benchmark", "--items", bank, "--provider", "openai", "--base-url", base_url,
            "--model", "m", "--concurrency", "4", "--out", out, "--verbosity", "0"]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    print("pandas loaded at the first request:", loaded_at_first_request)
"""


def test_run_benchmark_checks_its_run_and_sends_its_first_request_before_pandas_loads(tmp_path, llm_server):
    """The selection check and the prompts need no pandas; it loads in the scoring's preparation, and the run is scored."""
    from benchmark.synthetic import synthetic_items, write_itembank

    server = llm_server()
    bank = write_itembank(tmp_path / "bank.jsonl", synthetic_items(10, seed=3))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
           "CELERY_BROKER_URL": "", "DJANGO_DEBUG": "1", "BENCHMARK_ENDPOINT_HOSTS": "127.0.0.1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True,
                   timeout=300)
    out = tmp_path / "out.json"
    result = subprocess.run([sys.executable, "-c", _FIRST_REQUEST_PROBE, str(bank), server.base_url, str(out)], cwd=ROOT,
                            env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "pandas loaded at the first request: [False]" in result.stdout
    document = json.loads(out.read_text())
    assert document["status"] == "completed" and document["parse"]["answered"] == 60
    assert any(document["scores"][family] for family in ("pvq", "bfi"))  # scored: pandas loaded after the requests began


def test_the_screening_rules_and_the_models_need_no_pandas():
    loaded = _loaded_after("import psychometrics.stats.rules")
    assert "psychometrics.stats.rules" in loaded
    assert "pandas" not in loaded and "numpy" not in loaded


def test_django_start_up_loads_neither_pandas_nor_the_http_clients():
    # Admin modules and app configs load at every django.setup(): what they import, every command pays for.
    loaded = _loaded_after("import django\ndjango.setup()")
    assert "psychometrics.admin" in loaded and "prolific.redaction" in loaded  # the admin and app configs did load
    assert not {"pandas", "httpx", "aiohttp", "scipy"} & loaded


def test_manage_py_leaves_the_interpreter_nothing_to_collect_at_exit(monkeypatch):
    import gc
    import importlib.util

    spec = importlib.util.spec_from_file_location("manage_under_test", ROOT / "manage.py")
    manage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(manage)
    ran = []
    monkeypatch.setattr(manage, "_run", ran.append)
    monkeypatch.setattr(sys, "argv", ["manage.py", "help"])
    before = gc.get_freeze_count()
    try:
        manage.main()
        assert ran == [["manage.py", "help"]] and gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_the_filtering_module_still_exports_the_rules():
    from psychometrics.stats import filtering, rules

    assert filtering.FilterRules is rules.FilterRules
    assert filtering.REASONS is rules.REASONS and filtering.describe_rules is rules.describe_rules


def _selection(items: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    dimensions = ["Power", "Benevolence", "Tradition"]
    rows = [(f"i{i}", "pvq", dimensions[i % 3], 1) for i in range(items)]
    rows += [(f"i{i}", "bfi", "Openness", 1) for i in range(0, items, 2)]
    frame = pd.DataFrame(rows, columns=["item_id", "family", "dimension", "sign"])
    return frame.sample(frac=1, random_state=int(rng.integers(100))).reset_index(drop=True)


def _answers(selection: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    items = selection["item_id"].unique()
    return pd.DataFrame([(item, index, float(rng.integers(1, 7))) for item in items for index in range(6)],
                        columns=["item_id", "prompt_index", "rating"])


@pytest.fixture
def no_memo():
    scoring._COUNTS.clear()
    yield
    scoring._COUNTS.clear()


def test_remembered_counts_equal_counts_drawn_again(no_memo):
    mask = np.array([True, False, True, True, False, False, True])
    first = scoring._stratified_counts(mask, 50, [7, 2])
    assert scoring._COUNTS and not first.flags.writeable
    scoring._COUNTS.clear()
    again = scoring._stratified_counts(mask, 50, [7, 2])
    np.testing.assert_array_equal(first, again)
    assert scoring._stratified_counts(mask, 50, [7, 2]) is again  # remembered
    assert not np.array_equal(scoring._stratified_counts(mask, 50, [7, 3]), again)  # another seed, other draws
    # Each stratum keeps its size in every replicate.
    assert (again[:, mask].sum(axis=1) == mask.sum()).all() and (again[:, ~mask].sum(axis=1) == (~mask).sum()).all()


def test_scores_are_the_same_cold_remembered_and_warmed_in_advance(no_memo):
    selection = _selection()
    answers = _answers(selection)
    means = scoring.item_means(answers)
    cold = scoring.score_dimensions(means, selection, answers=answers, n_boot=300)
    remembered = scoring.score_dimensions(means, selection, answers=answers, n_boot=300)
    scoring._COUNTS.clear()
    scoring.warm_bootstrap(selection, n_boot=300)
    drawn = len(scoring._COUNTS)
    warmed = scoring.score_dimensions(means, selection, answers=answers, n_boot=300)
    assert drawn == 4 and len(scoring._COUNTS) == drawn  # warming drew every dimension's counts, scoring reused them
    pd.testing.assert_frame_equal(cold, remembered)
    pd.testing.assert_frame_equal(cold, warmed)


def test_the_memory_of_counts_is_bounded(no_memo, monkeypatch):
    monkeypatch.setattr(scoring, "COUNTS_MEMORY_BYTES", 3 * 100 * 10 * 8)
    mask = np.zeros(10, dtype=bool)
    mask[:4] = True
    for index in range(6):
        scoring._stratified_counts(mask, 100, [1, index])
    assert len(scoring._COUNTS) == 3  # the oldest were dropped


@pytest.mark.django_db
@pytest.mark.parametrize("items", [8, 40])
def test_finding_the_requests_a_run_needs_takes_the_same_queries_for_any_bank_size(tmp_path, items,
                                                                                  django_assert_num_queries):
    """Before the first request: one query for the items, one for the answers already stored (was one per item)."""
    from benchmark.services import _provider_for, _run_wanted, itembank_import, run_create
    from benchmark.synthetic import synthetic_items, write_itembank

    bank = itembank_import(path=write_itembank(tmp_path / "bank.jsonl", synthetic_items(items, seed=3)), name="b")
    run = run_create(bank=bank, provider="openai", model="m", base_url="http://127.0.0.1:9/v1", settings={})
    provider = _provider_for(run, None)
    with django_assert_num_queries(2):
        wanted, bodies = _run_wanted(run, provider, None)
    assert sum(len(tags) for tags in wanted.values()) == items * 6 and set(bodies) == set(wanted)


@pytest.mark.django_db
def test_the_cpu_of_preparing_the_scoring_is_reported_apart_from_the_requests(tmp_path, llm_server):
    from benchmark.services import itembank_import, run_create, run_execute
    from benchmark.synthetic import synthetic_items, write_itembank

    server = llm_server()
    bank = itembank_import(path=write_itembank(tmp_path / "bank.jsonl", synthetic_items(12, seed=3)), name="b")
    settings = {"concurrency": 8}
    report = run_execute(run_create(bank=bank, provider="openai", model="m", base_url=server.base_url,
                                    settings=settings).pk)
    assert report.requested == 72 and report.preparing_cpu_seconds > 0  # the thread ran, and is counted apart
    assert report.cpu_seconds >= 0
    again = run_execute(run_create(bank=bank, provider="openai", model="m", base_url=server.base_url,
                                   settings=settings).pk)
    assert again.cached == 72 and again.requested == 0 and again.preparing_cpu_seconds == 0  # nothing to overlap


def test_manage_py_collects_no_garbage_during_start_up_and_collects_again_once_the_command_is_loaded(tmp_path):
    code = "import gc, json; print(json.dumps([gc.isenabled(), gc.get_freeze_count(), gc.get_stats()[2]['collections']]))"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
           "CELERY_BROKER_URL": "", "DJANGO_DEBUG": "1"}
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    enabled, frozen, full_collections = json.loads(result.stdout.strip().splitlines()[-1])
    # On while the command runs; Django's start-up objects frozen; no full pass over them (there were some before).
    assert enabled and frozen > 10_000 and full_collections == 0


@pytest.mark.django_db
def test_a_run_recounts_its_answers_at_most_once_a_second_while_requesting_and_exactly_at_the_end(
        tmp_path, llm_server, monkeypatch):
    """A recount reads every answer so far; once per stored batch made it grow with the square of the run."""
    import functools

    from benchmark import services
    from benchmark.synthetic import synthetic_items, write_itembank

    server = llm_server()
    bank = services.itembank_import(path=write_itembank(tmp_path / "bank.jsonl", synthetic_items(12, seed=3)), name="b")
    run = services.run_create(bank=bank, provider="openai", model="m", base_url=server.base_url,
                              settings={"concurrency": 4})
    batches, recounts, shown = [], [], []
    monkeypatch.setattr(services, "run_requests", functools.partial(services.run_requests, batch_size=2))
    store = services._run_store
    monkeypatch.setattr(services, "_run_store", lambda *args: (batches.append(1), store(*args)))
    recount = services.run_refresh_counts
    monkeypatch.setattr(services, "run_refresh_counts", lambda run: (recounts.append(len(batches)), recount(run))[1])
    report = services.run_execute(run.pk, progress=lambda current: shown.append(current.progress_done), finalize=False)
    assert report.requested == 72 and len(batches) >= 36  # batches of two
    during = [at for at in recounts if 0 < at < len(batches)]
    assert recounts[0] == 0 and 1 <= len(during) < len(batches) // 4  # before the requests, then throttled
    assert recounts[-1] == len(batches)  # once more after the last batch: the counts are exact
    run.refresh_from_db()
    assert (run.answered, run.progress_done, shown[-1]) == (72, 72, 72)

import csv

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from benchmark.comparisons import condition_effects
from benchmark.selectors import run_scores
from benchmark.services import run_create, run_execute

pytestmark = pytest.mark.django_db


def _completed(bank, server, model="m", **kwargs):
    run = run_create(bank=bank, provider="openai", model=model, base_url=server.base_url,
                     settings={"concurrency": 4}, **kwargs)
    run_execute(run.pk)
    run.refresh_from_db()
    return run


def test_compare_runs_writes_effects_against_the_matching_ess_group(bank, llm_server, tmp_path, capsys):
    server = llm_server()
    baseline = _completed(bank, server)
    male = _completed(bank, server, persona="gender-male")
    out = tmp_path / "cmp.csv"
    call_command("compare_runs", "--baseline", str(baseline.pk), "--condition", str(male.pk), "--out", str(out),
                 "--skip-checks")
    rows = list(csv.DictReader(out.open()))
    expected = condition_effects(pd.DataFrame(run_scores(male)), pd.DataFrame(run_scores(baseline)))
    expected = expected[expected["family"] == "pvq"].set_index("dimension")["effect"]
    assert {row["dimension"] for row in rows} == set(expected.index)
    for row in rows:
        assert row["reference"] == "ESS: Male"
        assert float(row["effect"]) == pytest.approx(expected[row["dimension"]])
    assert "Pearson r=" in capsys.readouterr().out


def test_compare_runs_refuses_runs_of_different_models(bank, llm_server):
    server = llm_server()
    a, b = _completed(bank, server, model="a"), _completed(bank, server, model="b")
    with pytest.raises(CommandError, match="same model"):
        call_command("compare_runs", "--baseline", str(a.pk), "--condition", str(b.pk), "--skip-checks")


def test_reliability_reports_alpha_per_dimension_across_models(bank, llm_server, tmp_path):
    server = llm_server()
    for model in ("a", "b", "c"):
        _completed(bank, server, model=model)
    out = tmp_path / "alpha.csv"
    call_command("benchmark_reliability", "--itembank", bank.name, "--out", str(out), "--skip-checks")
    table = pd.read_csv(out)
    assert list(table.columns) == ["family", "dimension", "alpha", "n_items", "n_models"]
    assert (table["n_models"] == 3).all()


def test_reliability_needs_two_models(bank, llm_server):
    _completed(bank, llm_server())
    with pytest.raises(CommandError, match="at least 2 runs"):
        call_command("benchmark_reliability", "--itembank", bank.name, "--skip-checks")

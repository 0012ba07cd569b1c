"""The alignment page compares like with like: profiles with profiles, deviations with deviations."""

import csv
import io

import pytest
from scipy import stats

from benchmark.models import HumanReference, Score
from benchmark.services import references_store
from psychometrics.stats.dimensions import FAMILIES
from results import selectors


def _download(client, bank, table):
    response = client.get(f"/results/alignment/?itembank={bank.name}&format=csv&table={table}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_model_profiles_are_correlated_with_human_profiles_only(client, scored, bank):
    references_store([{"reference": "Study raters", "family": "pvq", "dimension": name, "value": value, "kind": "centred"}
                      for name, value in zip(FAMILIES["pvq"], [0.5, 0.9, -0.1, 0.0, 0.2, -1.0, -0.3, -0.2, -0.4, 0.6],
                                             strict=True)])
    rows = _download(client, bank, "spearman")
    columns = {row["human_profile"] for row in rows}
    gss = selectors.shipped_profile("gss-2012")
    assert columns == {gss.label, "Study raters"}  # no ESS deviation among the profiles
    model_a = {s.dimension: s.score for s in Score.objects.filter(run=scored["model-a"], family="pvq")}
    row = next(r for r in rows if r["model"] == "model-a" and r["human_profile"] == gss.label)
    expected = stats.spearmanr([model_a[d] for d in FAMILIES["pvq"]], [gss.values[d] for d in FAMILIES["pvq"]]).statistic
    assert float(row["rho"]) == pytest.approx(expected, abs=1e-9)


def test_persona_effects_are_correlated_with_group_deviations_only(client, scored, bank):
    rows = _download(client, bank, "spearman_deviations")
    assert {row["human_deviation"] for row in rows} == set(
        HumanReference.objects.filter(kind="deviation").values_list("name", flat=True))
    assert {row["persona"] for row in rows} == {"Male", "Female"}
    base = {s.dimension: s.score for s in Score.objects.filter(run=scored["model-a"], family="pvq")}
    male = {s.dimension: s.score for s in Score.objects.filter(run=scored["model-a:male"], family="pvq")}
    effect = [male[d] - base[d] for d in FAMILIES["pvq"]]
    ess_male = HumanReference.objects.get(name="ESS: Male")
    human = {v.dimension: v.value for v in ess_male.values.all()}
    row = next(r for r in rows if r["persona"] == "Male" and r["human_deviation"] == "ESS: Male")
    assert float(row["rho"]) == pytest.approx(stats.spearmanr(effect, [human[d] for d in FAMILIES["pvq"]]).statistic, abs=1e-9)


def test_the_two_value_maps_never_mix_profiles_and_deviations(client, scored, bank):
    profiles = _download(client, bank, "pca")
    deviations = _download(client, bank, "pca_deviations")
    assert {row["kind"] for row in profiles} == {"model", "human group"}
    assert not any(row["name"].startswith("ESS:") for row in profiles)
    assert {row["kind"] for row in deviations} == {"persona effect", "human group"}
    assert {row["name"] for row in deviations if row["kind"] == "human group"} == set(
        HumanReference.objects.filter(kind="deviation").values_list("name", flat=True))
    html = client.get(f"/results/alignment/?itembank={bank.name}").content.decode()
    assert "Value map of profiles" in html and "Value map of deviations" in html
    assert "persona − baseline" in html and "group − population" in html


def test_a_reference_kind_outside_the_three_is_refused_with_its_line(db, tmp_path):
    from benchmark.services import ReferenceFormatError, references_import

    path = tmp_path / "refs.csv"
    path.write_text("reference,family,dimension,value,kind\nA,pvq,Power,0.1,centred\nA,pvq,Tradition,0.2,absolute\n")
    with pytest.raises(ReferenceFormatError, match="line 3 column kind: 'absolute' is not one of deviation, centred, mean"):
        references_import(path=path)
    path.write_text("reference,family,dimension,value,kind\nA,pvq,Power,0.1,centred\nA,pvq,Tradition,0.2,mean\n")
    with pytest.raises(ReferenceFormatError, match="line 3 column kind: 'mean' but reference 'A' is 'centred' on line 2"):
        references_import(path=path)


def test_a_private_banks_raters_profile_stays_as_private_as_the_bank(api, client, tmp_path, db):
    from benchmark.models import HumanReferenceValue
    from tests.results.builders import imported_bank

    hidden = imported_bank(tmp_path, name="newest-items", n_items=8, seed=5, is_private=True)
    raters = HumanReference.objects.create(name="Raters of newest-items", kind="centred", bank=hidden)
    HumanReferenceValue.objects.create(reference=raters, family="pvq", dimension="Power", value=-1.0)
    listed = [r["name"] for r in api.get("/api/v1/references/?page_size=100").json()["results"]]
    assert "Raters of newest-items" not in listed
    response = api.get(f"/api/v1/leaderboard/?target=reference:{raters.pk}")
    assert response.status_code == 400 and "no human reference" in response.json()["detail"]
    assert "Raters of newest-items" not in client.get("/results/alignment/").content.decode()

import pytest
from django.core.management import CommandError, call_command

from benchmark.models import HumanReference, HumanReferenceValue
from benchmark.paper_data import COLUMNS, ESS_REFERENCES

pytestmark = pytest.mark.django_db


def test_the_papers_ess_figures_are_loaded_as_default_references():
    assert HumanReference.objects.filter(name__startswith="ESS: ").count() == len(ESS_REFERENCES) == 13
    male = dict(HumanReference.objects.get(name="ESS: Male").values.values_list("dimension", "value"))
    assert male == dict(zip(COLUMNS, (-0.07, -0.07, 0.01, -0.06, -0.09, 0.08, 0.07, 0.06, 0.09, 0.02), strict=True))
    assert HumanReference.objects.get(name="ESS: Age 80+").values.get(dimension="Conformity").value == 0.51


def test_references_import_from_a_long_csv_and_replace_old_values(tmp_path):
    path = tmp_path / "refs.csv"
    path.write_text("reference,family,dimension,value,group_kind\n"
                    "Students,pvq,self_direction,0.3,occupation\n"
                    "Students,pvq,Power,-0.1,occupation\n"
                    "Students,bfi,openness,3.9,occupation\n")
    call_command("import_references", str(path), "--skip-checks")
    path.write_text("reference,family,dimension,value\nStudents,pvq,Power,-0.2\n")
    call_command("import_references", str(path), "--skip-checks")
    reference = HumanReference.objects.get(name="Students")
    assert list(reference.values.values_list("family", "dimension", "value")) == [("pvq", "Power", -0.2)]


@pytest.mark.parametrize(("content", "message"), [
    ("reference,family,dimension\nA,pvq,Power\n", "line 1: missing column.*value"),
    ("reference,family,dimension,value\nA,pvq,Power,high\n", "line 2 column value: not a number: 'high'"),
    ("reference,family,dimension,value\nA,pvq,Power,1\nA,pvq,power,2\n", "line 3: A/pvq/Power already given on line 2"),
    ("reference,family,dimension,value\nA,bfi,Power,1\n", "line 2 column family: 'bfi'"),
    ("reference,family,dimension,value\nA,pvq,Power,1\n,pvq,Power,1\n", "line 3 column reference: empty"),
    ("reference,family,dimension,value\nA\x00,pvq,Power,1\n", "line 2 column reference: contains a NUL"),
    ("reference,family,dimension,value\n" + "A" * 101 + ",pvq,Power,1\n", "line 2 column reference: longer than 100 characters"),
    ("reference,family,dimension,value\n" + "A,pvq,Power," + "1" * 200_000 + "\n", "line 2: not readable as CSV"),
])
def test_a_bad_reference_file_is_reported_and_nothing_is_imported(tmp_path, content, message):
    path = tmp_path / "refs.csv"
    path.write_text(content)
    before = HumanReferenceValue.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("import_references", str(path), "--skip-checks")
    assert HumanReferenceValue.objects.count() == before and not HumanReference.objects.filter(name="A").exists()

"""Load the paper's ESS figures (Tables 9-12) as the default human references."""

from django.db import migrations


def load(apps, schema_editor):
    from benchmark.paper_data import ess_reference_rows

    HumanReference = apps.get_model("benchmark", "HumanReference")
    HumanReferenceValue = apps.get_model("benchmark", "HumanReferenceValue")
    references = {}
    for row in ess_reference_rows():
        if row["reference"] not in references:
            references[row["reference"]], _ = HumanReference.objects.update_or_create(
                name=row["reference"],
                defaults={"group_kind": row["group_kind"], "source": row["source"], "description": row["description"]},
            )
        HumanReferenceValue.objects.update_or_create(
            reference=references[row["reference"]], family=row["family"], dimension=row["dimension"],
            defaults={"value": row["value"]},
        )


def unload(apps, schema_editor):
    from benchmark.paper_data import ESS_REFERENCES

    apps.get_model("benchmark", "HumanReference").objects.filter(name__in=[r[0] for r in ESS_REFERENCES]).delete()


class Migration(migrations.Migration):
    dependencies = [("benchmark", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]

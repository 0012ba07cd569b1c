"""The researchers group: its members may create studies (manage.py createresearcher adds to it)."""

from django.db import migrations

RESEARCHERS_GROUP = "researchers"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=RESEARCHERS_GROUP)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=RESEARCHERS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("surveys", "0006_participant_pvq_per_page_and_page_drafts"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]

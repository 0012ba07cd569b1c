from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("benchmark", "0003_credentials_and_owners"),
    ]

    operations = [
        migrations.AlterField(
            model_name="run",
            name="source",
            field=models.CharField(
                choices=[("run", "Run on this platform"), ("published", "Published results"), ("imported", "Imported answers")],
                default="run", max_length=16,
            ),
        ),
    ]

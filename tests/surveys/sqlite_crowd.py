"""``python -m tests.surveys.sqlite_crowd N``: N participants at once on the demo study, SQLite file DB.

Prints a JSON summary for ``test_concurrency.py``. Needs SURVEYS_SQLITE_FILE and
DJANGO_SETTINGS_MODULE=tests.surveys.sqlite_file_settings.
"""

import json
import sys

import django


def main(n: int) -> None:
    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    from surveys.demo import seed_demo_study
    from surveys.exports import export_frame
    from surveys.selectors import group_fill
    from tests.surveys.crowd import crowd_completes

    setup_test_environment()
    call_command("migrate", verbosity=0)
    study, _ = seed_demo_study()
    outcome = crowd_completes(study.slug, n)
    ratings = export_frame(study=study, what="ratings")
    print(json.dumps({
        "errors": outcome["errors"],
        "redirected": sum("cc=DEMO-COMPLETE" in page for page in outcome["final_pages"].values()),
        "ratings": len(ratings),
        "unique_ratings": len(ratings.drop_duplicates(["participant_id", "item_id"])),
        "fill": sorted(group_fill(study=study).values()),
    }))


if __name__ == "__main__":
    main(int(sys.argv[1]))

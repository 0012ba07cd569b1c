import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from surveys.models import Study
from surveys.study_exports import STUDY_EXPORT_FORMATS, study_export_files


class Command(BaseCommand):
    help = (
        "Export a study for SPSS, Stata, R or pandas: wide.<format> (one row per participant: screening, PVQ-21 and "
        "BFI-10 answers and scores, one rating column per item), scores.<format> (one row per participant: "
        "included flag, value and trait scores), codebook.csv and codebook.json (every column: type, coding, "
        "question text). Pseudonymous participant ids only; researcher previews are left out."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Slug of the study to export.")
        parser.add_argument("--format", choices=STUDY_EXPORT_FORMATS, default="csv",
                            help="Format of wide and scores: csv, parquet, sav (SPSS) or dta (Stata 15). Default: csv.")
        parser.add_argument("--out", type=Path, required=True, help="Directory to write the four files into (created).")

    def handle(self, *args, slug, format, out, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug '{slug}'.")
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} is a file; give a directory.")
        files = study_export_files(study=study, fmt=format)  # everything built before anything is written
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            partial = out / f".{name}.partial"
            partial.write_bytes(data)
            os.replace(partial, out / name)
        self.stderr.write(f"Wrote {', '.join(files)} to {out}.")

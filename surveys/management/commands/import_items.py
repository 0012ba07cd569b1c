from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from surveys.importing import FORMATS, ItemImportError, items_import, read_rows, validate_rows
from surveys.models import Study


class Command(BaseCommand):
    help = (
        "Import query-response items into a study from a CSV, JSON (array of objects) or JSONL file with "
        "columns item_id, group, source, title, query, response (source and title may be empty). Item groups "
        "are created as needed. Every bad row is reported with its line and column and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Slug of the study to import into.")
        parser.add_argument("file", type=Path, help="The file to import (.csv, .json, .jsonl).")
        parser.add_argument("--format", choices=FORMATS, help="File format; default: from the file extension.")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report, import nothing.")

    def handle(self, *args, slug, file, format, dry_run, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug '{slug}'.")
        if not file.is_file():
            raise CommandError(f"{file}: no such file.")
        try:
            rows = read_rows(file.read_bytes(), filename=str(file), fmt=format)
            rows = list(tqdm(rows, desc="checking rows", unit="row", disable=len(rows) < 1000))
            clean = validate_rows(study=study, rows=rows, filename=str(file))
        except ItemImportError as error:
            raise CommandError(str(error)) from None
        if dry_run:
            self.stdout.write(f"{file}: {len(clean)} rows are valid; nothing imported (--dry-run).")
            return
        result = items_import(study=study, rows=clean)
        self.stdout.write(self.style.SUCCESS(
            f"Imported {result.items_created} items into '{study.slug}' ({result.groups_created} new item groups)."
        ))

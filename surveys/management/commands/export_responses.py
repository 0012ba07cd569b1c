import getpass
import logging
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from surveys.exports import EXPORT_FORMATS, EXPORT_KINDS, export_frame, write_export
from surveys.models import Study

logger = logging.getLogger("surveys.exports")


class Command(BaseCommand):
    help = (
        "Export a study's answers as a tidy long table: ratings (one row per rating), pvq21, bfi10 (one row per "
        "answer), checks (one row per attention check), participants (one row each) or pages (one row per "
        "submitted page, with time on page). Participants are identified by their pseudonymous participant_id; "
        "Prolific IDs only with --raw-ids. Researcher previews are left out."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Slug of the study to export.")
        parser.add_argument("--out", type=Path, help="Output file; default: write CSV/JSONL to standard output.")
        parser.add_argument("--format", choices=EXPORT_FORMATS, help="Default: from --out's extension, else csv.")
        parser.add_argument("--what", choices=EXPORT_KINDS, default="ratings", help="Which table to export (default: ratings).")
        parser.add_argument(
            "--raw-ids", action="store_true",
            help="Also export Prolific IDs (personal data: only for payment reconciliation; each such export is logged).",
        )
        parser.add_argument("--include-preview", action="store_true", help="Include researcher preview participants.")

    def handle(self, *args, slug, out, format, what, raw_ids, include_preview, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug '{slug}'.")
        fmt = format or (out.suffix.lstrip(".").lower() if out and out.suffix else "csv")
        if fmt not in EXPORT_FORMATS:
            raise CommandError(f"Cannot export to '.{fmt}': use --format {'/'.join(EXPORT_FORMATS)}.")
        if out is None and fmt == "parquet":
            raise CommandError("Parquet is binary: give a file with --out.")
        frame = export_frame(study=study, what=what, raw_ids=raw_ids, include_preview=include_preview)
        if raw_ids:
            # An audit line for every export of personal data (never the IDs themselves).
            try:
                user = getpass.getuser()
            except (KeyError, OSError):
                user = "unknown user"
            logger.warning("Raw Prolific IDs exported: study '%s', %s, %d rows, to %s, by %s.",
                           study.slug, what, len(frame), out or "standard output", user)
        if out is None:
            sys.stdout.write(write_export(frame, fmt=fmt).getvalue().decode())
            return
        write_export(frame, fmt=fmt, path=out)
        self.stderr.write(f"Wrote {len(frame)} {what} rows to {out}.")

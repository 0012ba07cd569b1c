import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from psychometrics.itembank import item_bank_csv_lines
from psychometrics.models import Analysis
from psychometrics.selectors import analysis_correlation_rows, analysis_item_bank_lines, analysis_latest
from surveys.models import Study


class Command(BaseCommand):
    help = (
        "Export a study's annotated items as an item bank: JSONL, a header line with the selection's rule set "
        "(threshold, alpha, fdr) then one item per line with its correlations with every dimension, each marked "
        "selected or not, p_adjusted null unless --fdr was used (the format 'benchmark' imports), or tidy long CSV (one row per item x dimension). "
        "Uses the latest successful analysis unless --analysis is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("--out", required=True, type=Path, help="Output file (.jsonl or .csv).")
        parser.add_argument(
            "--format", choices=["jsonl", "csv"], default=None, help="Output format (default: from the --out extension, else jsonl)."
        )
        parser.add_argument("--analysis", type=int, default=None, help="Export this analysis id instead of the latest successful one.")

    def handle(self, *args, slug, out, format, analysis, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}.")
        if analysis is not None:
            chosen = Analysis.objects.filter(study=study, pk=analysis).first()
            if chosen is None:
                raise CommandError(f"Study {slug!r} has no analysis {analysis}.")
            if chosen.status == Analysis.Status.WARNING:
                raise CommandError(f"Analysis {analysis} finished with a warning and has no item bank: {chosen.warning}")
            if chosen.status != Analysis.Status.SUCCEEDED:
                raise CommandError(f"Analysis {analysis} is {chosen.status}; only a succeeded analysis can be exported.")
        else:
            chosen = analysis_latest(study=study, succeeded=True)
            if chosen is None:
                raise CommandError(f"Study {slug!r} has no successful analysis yet: run `manage.py analyze {slug}` first.")
            finished = analysis_latest(study=study, finished=True)
            if finished.pk != chosen.pk:
                self.stderr.write(
                    f"Analysis {finished.pk}, the latest, finished with a warning and has no item bank "
                    f"({finished.warning}); exporting analysis {chosen.pk}, the latest that succeeded."
                )
        if not out.parent.exists():
            raise CommandError(f"{out}: the folder {out.parent} does not exist.")
        fmt = format or ("csv" if out.suffix.lower() == ".csv" else "jsonl")
        if fmt == "jsonl":
            lines = analysis_item_bank_lines(analysis=chosen)
            total = study.items.count() + 1  # the header line
        else:
            lines = item_bank_csv_lines(analysis_correlation_rows(analysis=chosen))
            total = None
        count = _write_atomically(out, tqdm(lines, total=total, desc="export", unit="line", file=self.stderr._out))
        what = "items plus a header with the selection's rule set" if fmt == "jsonl" else "rows plus a header"
        self.stdout.write(f"Wrote {count - 1} {what} of analysis {chosen.pk} to {out}.")


def _write_atomically(out: Path, lines) -> int:
    """Write through a temporary file in the same folder; returns the number of lines written."""
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    count = 0
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            for line in lines:
                stream.write(line)
                count += 1
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return count

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from results.services import PUBLISHED_CSV, PublishedFormatError, published_read, published_results_load


class Command(BaseCommand):
    help = (
        "Load the Value Portrait paper's published per-model scores (Tables 5-8: Schwartz 10 values and "
        "Big Five) as completed runs with source='published' on the item bank 'Value Portrait paper "
        "(published)'. Idempotent: running it again refreshes the same models and runs. The file is "
        "long CSV model,table,family,dimension,score; a malformed line is reported and nothing is loaded."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", default=str(PUBLISHED_CSV),
                            help=f"CSV to load (default: the shipped {PUBLISHED_CSV.name}).")

    def handle(self, *args, file, **options):
        try:
            total = published_read(file)["model"].nunique()
            with tqdm(total=total, desc="models", unit="model", disable=options.get("verbosity", 1) == 0) as bar:
                summary = published_results_load(path=file, progress=lambda _model: bar.update())
        except PublishedFormatError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(str(summary)))

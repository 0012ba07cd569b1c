from django.core.management.base import BaseCommand, CommandError

from benchmark.services import ReferenceFormatError, references_import


class Command(BaseCommand):
    help = (
        "Import human reference group values from a long CSV with columns reference,family,dimension,value "
        "(optional: group_kind,source,description). A reference that exists has its values replaced. "
        "Bad rows are reported with file, line, column and value; nothing is imported then."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file")
        parser.add_argument("--source", default="", help="source label for references without a source column")

    def handle(self, *args, **options):
        try:
            references = references_import(path=options["file"], source=options["source"])
        except ReferenceFormatError as exc:
            raise CommandError(str(exc)) from exc
        names = ", ".join(reference.name for reference in references)
        self.stdout.write(self.style.SUCCESS(f"Imported {len(references)} reference group(s): {names}"))

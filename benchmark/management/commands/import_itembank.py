from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from benchmark.itembank_format import ItemBankFormatError
from benchmark.services import BenchmarkError, bank_raters_store, itembank_import


class Command(BaseCommand):
    help = (
        "Import an item bank from JSONL (the format psychometrics' export_items writes: one object per line with "
        "item_id, source, title|null, query, response, correlations[{family, dimension, rho, p_value, n}]). "
        "Every line is checked first; a malformed line is reported with its number and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the .jsonl file")
        parser.add_argument("--name", required=True, help="unique name of the item bank")
        parser.add_argument("--bank-version", dest="bank_version", default="1", help="version label (default 1)")
        parser.add_argument("--description", default="", help="free-text description")
        parser.add_argument("--private", action="store_true", help="hide the bank's items from public API reads")
        parser.add_argument("--replace", action="store_true", help="replace an existing bank of that name (only if it has no runs)")
        parser.add_argument("--raters-analysis", dest="raters_analysis", type=int, metavar="ID",
                            help="store with the bank the mean centred profile of the participants this analysis kept "
                                 "(the bank's raters: the leaderboard's default target)")

    def handle(self, *args, **options):
        analysis = None
        if options["raters_analysis"] is not None:
            from psychometrics.models import Analysis

            analysis = Analysis.objects.select_related("study").filter(pk=options["raters_analysis"]).first()
            if analysis is None:
                raise CommandError(f"--raters-analysis {options['raters_analysis']}: no such analysis")
        try:
            with transaction.atomic():
                bank = itembank_import(
                    path=options["file"], name=options["name"], version=options["bank_version"],
                    description=options["description"], is_private=options["private"], replace=options["replace"],
                )
                if analysis is not None:
                    bank_raters_store(bank=bank, analysis=analysis)
        except (ItemBankFormatError, BenchmarkError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        items = bank.items.count()
        from benchmark.models import ItemCorrelation

        correlations = ItemCorrelation.objects.filter(item__bank=bank).count()
        self.stdout.write(self.style.SUCCESS(f"Imported item bank {bank.name!r}: {items} items, {correlations} correlations."))

import math

from django.core.management.base import BaseCommand, CommandError

from benchmark import protocol, scoring
from benchmark.models import ItemBank, Run
from benchmark.selectors import bank_correlations, model_item_means


class Command(BaseCommand):
    help = (
        "Cronbach's alpha per dimension over the items' mean ratings across evaluated models (the paper's "
        "Table 4). Uses the latest completed baseline run of each model on the item bank, or the runs given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--itembank", required=True, help="item bank name")
        parser.add_argument("--runs", type=int, nargs="+", metavar="RUN_ID", help="runs to use (default: see above)")
        parser.add_argument("--threshold", type=float, default=scoring.DEFAULT_THRESHOLD)
        parser.add_argument("--alpha", type=float, default=scoring.DEFAULT_ALPHA)
        parser.add_argument("--mode", choices=protocol.MODES, default="positive")
        parser.add_argument("--out", help="write the table as CSV")

    def handle(self, *args, **options):
        bank = ItemBank.objects.filter(name=options["itembank"]).first()
        if bank is None:
            raise CommandError(f"no item bank named {options['itembank']!r}")
        runs = Run.objects.filter(bank=bank, status=Run.Status.COMPLETED)
        if options["runs"]:
            runs = list(runs.filter(pk__in=options["runs"]))
            missing = set(options["runs"]) - {run.pk for run in runs}
            if missing:
                raise CommandError(f"not completed runs of {bank.name!r}: {', '.join(map(str, sorted(missing)))}")
        else:
            latest = {}
            for run in runs.filter(condition="baseline").order_by("created_at", "id"):
                latest[(run.provider, run.model, run.base_url)] = run
            runs = list(latest.values())
        if len(runs) < 2:
            raise CommandError(f"Cronbach's alpha across models needs at least 2 runs, found {len(runs)}")
        selection = scoring.select_items(bank_correlations(bank), threshold=options["threshold"],
                                         alpha=options["alpha"], mode=options["mode"])
        table = scoring.reliability_across_models(model_item_means(runs), selection)
        self.stdout.write(f"Cronbach's alpha across {len(runs)} models on {bank.name!r}:")
        for row in table.itertuples():
            alpha = "n/a" if math.isnan(row.alpha) else f"{row.alpha:.2f}"
            self.stdout.write(f"  {row.family:<11} {row.dimension:<20} alpha {alpha:>5}  items {row.n_items:>3}  models {row.n_models}")
        if options["out"]:
            table.to_csv(options["out"], index=False)

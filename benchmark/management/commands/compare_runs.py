import csv
import math
import sys

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from benchmark.comparisons import compare_with_reference, condition_effects
from benchmark.models import HumanReference, Run
from benchmark.paper_data import reference_for_persona
from benchmark.selectors import run_scores

COLUMNS = ["run", "condition", "family", "dimension", "condition_score", "baseline_score", "effect",
           "reference", "human", "difference"]


def _fmt(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.2f}"


class Command(BaseCommand):
    help = (
        "Compare condition runs (persona, steering, custom prompt) with the same model's baseline run: "
        "effect = condition score - baseline score per dimension, and, with a human reference, the "
        "difference and correlation between the model's effects and the human group's values. Writes a tidy "
        "long CSV with --out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--baseline", type=int, required=True, metavar="RUN_ID", help="the baseline run")
        parser.add_argument("--condition", type=int, nargs="+", required=True, metavar="RUN_ID", help="condition run(s)")
        parser.add_argument("--reference", default="auto",
                            help="human reference name, 'auto' (the ESS group matching a persona run; default) or 'none'")
        parser.add_argument("--family", default="pvq", help="dimension family to compare (default pvq)")
        parser.add_argument("--out", help="CSV file to write ('-' for stdout)")

    def handle(self, *args, **options):
        baseline = self._run(options["baseline"])
        baseline_scores = pd.DataFrame(run_scores(baseline))
        rows = []
        for run_id in options["condition"]:
            run = self._run(run_id)
            if (run.provider, run.model, run.base_url) != (baseline.provider, baseline.model, baseline.base_url):
                raise CommandError(f"run {run.pk} is {run.model!r}, the baseline run {baseline.pk} is {baseline.model!r}: "
                                   "compare runs of the same model")
            effects = condition_effects(pd.DataFrame(run_scores(run)), baseline_scores)
            effects = effects[effects["family"] == options["family"]]
            reference = self._reference(options["reference"], run)
            self.stdout.write(f"run {run.pk} ({run.condition}) vs baseline run {baseline.pk}, family {options['family']}:")
            if reference is None:
                for row in effects.itertuples():
                    self.stdout.write(f"  {row.dimension:<20} {_fmt(row.effect)}")
                    rows.append([run.pk, run.condition, row.family, row.dimension, row.condition, row.baseline,
                                 row.effect, "", None, None])
                continue
            values = pd.DataFrame(list(reference.values.values("family", "dimension", "value")))
            table, summary = compare_with_reference(effects, values)
            merged = effects.merge(table, on=["family", "dimension"], how="left")
            for row in merged.itertuples():
                self.stdout.write(f"  {row.dimension:<20} model {_fmt(row.effect)}  human {_fmt(row.human)}  "
                                  f"difference {_fmt(row.difference)}")
                rows.append([run.pk, run.condition, row.family, row.dimension, row.condition, row.baseline,
                             row.effect, reference.name, row.human, row.difference])
            self.stdout.write(
                f"  vs {reference.name}: n={summary['n']}, Pearson r={summary['pearson_r']:.2f}, "
                f"Spearman rho={summary['spearman_rho']:.2f}, mean |difference|={summary['mean_abs_difference']:.2f}"
            )
        if options["out"]:
            handle = sys.stdout if options["out"] == "-" else open(options["out"], "w", newline="", encoding="utf-8")  # noqa: SIM115
            try:
                writer = csv.writer(handle)
                writer.writerow(COLUMNS)
                writer.writerows([["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in row]
                                  for row in rows])
            finally:
                if handle is not sys.stdout:
                    handle.close()

    def _run(self, run_id: int) -> Run:
        run = Run.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no run with id {run_id}")
        if run.status != Run.Status.COMPLETED:
            raise CommandError(f"run {run_id} is {run.status}, not completed")
        return run

    def _reference(self, option: str, run: Run) -> HumanReference | None:
        if option == "none":
            return None
        if option == "auto":
            name = reference_for_persona(run.settings.get("persona") or "")
            return HumanReference.objects.filter(name=name).first() if name else None
        reference = HumanReference.objects.filter(name=option).first()
        if reference is None:
            known = ", ".join(HumanReference.objects.values_list("name", flat=True))
            raise CommandError(f"no human reference named {option!r} (known: {known})")
        return reference

import os
import tempfile
from pathlib import Path

import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from psychometrics.csv_inputs import InputFileError, read_ratings_csv, read_traits_csv
from psychometrics.stats.annotation import annotate_items
from psychometrics.stats.selection import DEFAULT_ALPHA, DEFAULT_THRESHOLD

OUT_COLUMNS = ["item_id", "family", "dimension", "rho", "p_value", "n", "selected"]


class Command(BaseCommand):
    help = (
        "Correlate ratings collected elsewhere with trait scores: Spearman rho, two-sided p and n for every "
        "item x dimension (pairwise-complete raters), and select items with |rho| >= threshold and p < alpha. "
        "RATINGS: long CSV participant_id,item_id,rating. TRAITS: CSV participant_id plus one column per "
        "dimension (names matched to pvq/higher_pvq/bfi ignoring case, spaces, hyphens, underscores; others are "
        "'custom'). OUT: item_id,family,dimension,rho,p_value,n,selected (selected 1/0; empty rho/p = undefined)."
    )
    # File in, file out: no database, no URLs, so Django's system checks (about 0.5 s) are not run.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--ratings", required=True, type=Path, help="Long ratings CSV: participant_id,item_id,rating.")
        parser.add_argument("--traits", required=True, type=Path, help="Traits CSV: participant_id plus one column per dimension.")
        parser.add_argument("--out", required=True, type=Path, help="Output CSV, one row per item x dimension.")
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="Minimum |rho| to select (default 0.3).")
        parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="Maximum p-value to select (default 0.05).")
        parser.add_argument("--fdr", action="store_true", help="Select with Benjamini-Hochberg adjusted p-values.")

    def handle(self, *args, ratings, traits, out, threshold, alpha, fdr, **options):
        if not 0 <= threshold <= 1:
            raise CommandError(f"--threshold must be between 0 and 1, got {threshold}.")
        if not 0 < alpha < 1:
            raise CommandError(f"--alpha must be between 0 and 1 (exclusive), got {alpha}.")
        if not out.parent.exists():
            raise CommandError(f"{out}: the folder {out.parent} does not exist.")
        try:
            long_ratings = read_ratings_csv(ratings)
            trait_scores = read_traits_csv(traits)
        except InputFileError as error:
            raise CommandError(str(error)) from error
        # Whole-column operations: a Python set over ~10^6 Arrow strings took longer than the statistics.
        raters = long_ratings["participant_id"].unique()
        unmatched = int((~pd.Index(raters).isin(trait_scores.index)).sum())
        if unmatched == len(raters):
            raise CommandError(f"{traits}: none of the {len(raters)} participants in {ratings} has trait scores.")
        if unmatched:
            self.stderr.write(f"{unmatched} participants in {ratings} have no row in {traits}; their ratings are not used.")
        result = annotate_items(long_ratings, trait_scores, threshold=threshold, alpha=alpha, fdr=fdr)
        _write_atomically(out, result)
        selected = result[result["selected"]]
        self.stdout.write(
            f"{result['item_id'].nunique()} items x {trait_scores.shape[1]} dimensions, {len(raters) - unmatched} raters: "
            f"{len(selected)} pairs selected ({selected['item_id'].nunique()} items). Wrote {len(result)} rows to {out}."
        )


def _write_atomically(out: Path, result) -> None:
    """Write OUT through a temporary file in the same folder, so a failure leaves no partial file.

    Vectorised (pandas' C writer): floats as their shortest round-trip text (``repr``), undefined as
    an empty cell, ``n`` and ``selected`` as whole numbers.
    """
    table = result[OUT_COLUMNS].astype({"n": "int64", "selected": "int64"})
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            table.to_csv(stream, index=False, na_rep="", lineterminator="\n")
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

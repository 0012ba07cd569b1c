import threading
from importlib import import_module
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from psychometrics import arrow
from psychometrics.csv_inputs import (
    PARTICIPANT_COLUMN,
    InputFileError,
    read_ratings_table,
    read_traits_table,
    string_codes,
)
from psychometrics.csv_outputs import csv_cell, float_texts, write_atomically
from psychometrics.stats.annotation import canonical_names
from psychometrics.stats.correlation import spearman_coded, spearman_p_value
from psychometrics.stats.selection import DEFAULT_ALPHA, DEFAULT_THRESHOLD, select_pairs

OUT_COLUMNS = ["item_id", "family", "dimension", "rho", "p_value", "n", "selected"]


class Command(BaseCommand):
    help = (
        "Correlate ratings collected elsewhere with trait scores: Spearman rho, two-sided p and n for every "
        "item x dimension (pairwise-complete raters), and select items with |rho| >= threshold and p < alpha. "
        "RATINGS: long CSV participant_id,item_id,rating. TRAITS: CSV participant_id plus one column per "
        "dimension (names matched to pvq/higher_pvq/bfi ignoring case, spaces, hyphens, underscores; others are "
        "'custom'). OUT: item_id,family,dimension,rho,p_value,n,selected (selected 1/0; empty rho/p = undefined)."
    )
    # File in, file out: no database, no URLs, so Django's system checks (about 0.5 s) are not run, and
    # manage.py runs it without django.setup() (STANDALONE_COMMANDS). It works on arrow and numpy arrays
    # (the same statistics as annotate_items), so pandas is never imported.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--ratings", required=True, type=Path, help="Long ratings CSV: participant_id,item_id,rating.")
        parser.add_argument("--traits", required=True, type=Path, help="Traits CSV: participant_id plus one column per dimension.")
        parser.add_argument("--out", required=True, type=Path, help="Output CSV, one row per item x dimension.")
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="Minimum |rho| to select (default 0.3).")
        parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="Maximum p-value to select (default 0.05).")
        parser.add_argument("--fdr", action="store_true", help="Select with Benjamini-Hochberg adjusted p-values.")

    def handle(self, *args, ratings, traits, out, threshold, alpha, fdr, **options):
        # scipy.special (for the p-values; about 0.15 s to import) loads in a thread meanwhile: reading the
        # CSV and ranking spend their time in pyarrow's and numpy's kernels, which let go of the GIL.
        threading.Thread(target=import_module, args=("scipy.special",), daemon=True).start()
        import pyarrow as pa
        import pyarrow.compute as pc

        if not 0 <= threshold <= 1:
            raise CommandError(f"--threshold must be between 0 and 1, got {threshold}.")
        if not 0 < alpha < 1:
            raise CommandError(f"--alpha must be between 0 and 1 (exclusive), got {alpha}.")
        if not out.parent.exists():
            raise CommandError(f"{out}: the folder {out.parent} does not exist.")
        try:
            long_ratings = read_ratings_table(ratings)
            trait_table = read_traits_table(traits)
        except InputFileError as error:
            raise CommandError(str(error)) from error
        # Whole-column operations on integer codes: Python sets or pandas indexes over ~10^6 strings
        # took longer than the statistics.
        item_codes, items = string_codes(long_ratings["item_id"])  # items in order of first appearance
        rater_codes, raters = string_codes(long_ratings["participant_id"])
        rater_rows = pc.index_in(raters, value_set=trait_table[PARTICIPANT_COLUMN]).fill_null(arrow.int32(-1))
        rater_rows = arrow.to_numpy(rater_rows)
        unmatched = int((rater_rows < 0).sum())
        if unmatched == len(raters):
            raise CommandError(f"{traits}: none of the {len(raters)} participants in {ratings} has trait scores.")
        if unmatched:
            self.stderr.write(f"{unmatched} participants in {ratings} have no row in {traits}; their ratings are not used.")
        dimensions = [c for c in trait_table.column_names if c != PARTICIPANT_COLUMN]
        _, families = canonical_names(dimensions)
        scores = np.column_stack([arrow.to_numpy(trait_table[c]) for c in dimensions])

        rho, n = spearman_coded(item_codes, rater_rows[rater_codes], arrow.to_numpy(long_ratings["rating"]), scores, len(items))
        rho, n = rho.ravel(), n.ravel()
        p = spearman_p_value(rho, n)
        _, selected = select_pairs(rho, p, threshold=threshold, alpha=alpha, fdr=fdr)

        item_cells = arrow.strings([csv_cell(item) for item in items.to_pylist()])
        dimension_cells = arrow.strings([f"{csv_cell(families[d])},{csv_cell(d)}" for d in dimensions])
        rows = len(items) * len(dimensions)
        write_atomically(out, OUT_COLUMNS, [
            item_cells.take(arrow.numbers(np.repeat(np.arange(len(items)), len(dimensions)))),
            dimension_cells.take(arrow.numbers(np.tile(np.arange(len(dimensions)), len(items)))),
            float_texts(rho), float_texts(p), pc.cast(arrow.numbers(n.astype(np.int64)), pa.string()),
            arrow.strings(["0", "1"]).take(arrow.numbers(selected.astype(np.int8))),
        ])
        chosen_items = np.unique(np.repeat(np.arange(len(items)), len(dimensions))[selected]).size
        self.stdout.write(
            f"{len(items)} items x {len(dimensions)} dimensions, {len(raters) - unmatched} raters: "
            f"{int(selected.sum())} pairs selected ({chosen_items} items). Wrote {rows} rows to {out}."
        )


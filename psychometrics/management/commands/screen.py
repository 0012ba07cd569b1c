import csv
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError

from psychometrics.csv_inputs import InputFileError, read_questionnaire_csv
from psychometrics.stats.filtering import INDEX_COLUMNS, REASONS, FilterRules, participant_decisions
from psychometrics.stats.scoring import BFI10_SCALE, PVQ21_SCALE


class Command(BaseCommand):
    help = (
        "Screen questionnaire answers collected elsewhere with the rules of an analysis (attention checks and "
        "completion time aside). PVQ.csv: participant_id,q1..q21, 1 = 'Not like me at all' .. 6 = 'Very much like "
        "me', ESS item order. BFI.csv: participant_id,q1..q10, 1 = 'Disagree strongly' .. 5 = 'Agree strongly', raw "
        "(not reverse-keyed), Rammstedt & John order. A participant may appear in one file only; rules needing the "
        "other questionnaire are skipped for them. DECISIONS.csv: participant_id,kept,reasons (kept 1/0; reasons "
        "';'-separated codes, empty when kept) and one column per index computed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--pvq21", required=True, type=Path, metavar="PVQ.csv", help="PVQ-21 answers (wide CSV).")
        parser.add_argument("--bfi10", type=Path, metavar="BFI.csv", help="BFI-10 answers (wide CSV, raw).")
        parser.add_argument("--out", required=True, type=Path, metavar="DECISIONS.csv", help="Output CSV.")
        parser.add_argument(
            "--rules", metavar="JSON",
            help="Rule overrides as a JSON object or the path of a JSON file, e.g. '{\"outlier_rate\": 0.02}'; "
            "keys not given keep the defaults (docs/psychometrics.md, 'Screening').",
        )
        parser.add_argument(
            "--allow-missing", action="store_true",
            help="Accept blank answers: a participant is screened on what they answered.",
        )

    def handle(self, *args, pvq21, bfi10, out, rules, allow_missing, **options):
        if not out.parent.exists():
            raise CommandError(f"{out}: the folder {out.parent} does not exist.")
        rule_set = _rules(rules)
        try:
            pvq = read_questionnaire_csv(pvq21, name="PVQ-21", questions=21, scale=PVQ21_SCALE, allow_missing=allow_missing)
            bfi = (
                read_questionnaire_csv(bfi10, name="BFI-10", questions=10, scale=BFI10_SCALE, allow_missing=allow_missing)
                if bfi10 else pd.DataFrame(columns=range(1, 11), dtype=float)
            )
        except InputFileError as error:
            raise CommandError(str(error)) from error
        ids = list(dict.fromkeys([*pvq.index, *bfi.index]))
        participants = pd.DataFrame(
            {"participant": ids, "ended_by_failed_checks": False, "failed_checks": 0, "completion_seconds": np.nan}
        )
        decisions = participant_decisions(participants, pvq, bfi, rule_set)
        _write_atomically(out, decisions)
        excluded = decisions[~decisions["kept"]]
        counts = pd.Series([code for reasons in excluded["reasons"] for code in reasons]).value_counts()
        self.stdout.write(
            f"{len(decisions)} participants ({len(pvq)} PVQ-21, {len(bfi)} BFI-10): {len(excluded)} excluded "
            f"({len(excluded) / len(decisions):.1%}). Wrote {out}."
        )
        for code, n in counts.items():
            self.stdout.write(f"  {code}: {n} ({n / len(decisions):.1%}) - {REASONS[code]}")


def _rules(value: str | None) -> FilterRules:
    if not value:
        return FilterRules()
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            raise CommandError(f"--rules: {value!r} is neither a JSON object nor an existing file.")
        text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        return FilterRules.from_dict({**FilterRules().as_dict(), **data} if isinstance(data, dict) else data)
    except json.JSONDecodeError as error:
        raise CommandError(f"--rules is not valid JSON ({error}).") from None
    except (TypeError, ValueError) as error:
        raise CommandError(f"--rules: {error}") from None


def _write_atomically(out: Path, decisions: pd.DataFrame) -> None:
    """Write DECISIONS.csv through a temporary file in the same folder: a failure leaves no partial file."""
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["participant_id", "kept", "reasons", *INDEX_COLUMNS])
            for row in decisions.itertuples(index=False):
                indices = [_cell(getattr(row, name)) for name in INDEX_COLUMNS]
                writer.writerow([row.participant, int(row.kept), ";".join(row.reasons), *indices])
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _cell(value: float) -> str:
    if value != value:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))

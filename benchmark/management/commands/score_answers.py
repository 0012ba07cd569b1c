import csv
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from benchmark.answers_format import AnswersFormatError
from benchmark.itembank_format import ItemBankFormatError
from benchmark.management.commands.run_benchmark import add_selection_arguments
from benchmark.models import Run
from benchmark.selectors import run_report
from benchmark.services import BenchmarkError, itembank_resolve, run_import_answers

PARSED_COLUMNS = ["item_id", "prompt_index", "rating", "reason"]


class Command(BaseCommand):
    help = (
        "Score answers a model gave elsewhere: ANSWERS.jsonl holds one {\"item_id\", \"prompt_index\" (0-5), "
        "\"text\"[, \"finish_reason\"]} per line. The answers are stored as a run (source 'imported'), parsed with "
        "run_benchmark's parser and scored with its rules; --out gets run_benchmark's JSON. A bad line (unknown "
        "item, bad prompt index, duplicate) is reported with its number and nothing is stored. "
        "python -m benchmark.convert_published turns the paper's published raw outputs into this format."
    )

    def add_arguments(self, parser):
        parser.add_argument("--answers", required=True, metavar="ANSWERS.jsonl", help="the answers, one JSON object a line")
        bank = parser.add_mutually_exclusive_group(required=True)
        bank.add_argument("--items", metavar="BANK.jsonl", help="item-bank JSONL file (imported once, named after the file and its hash)")
        bank.add_argument("--itembank", metavar="NAME", help="name of an imported item bank")
        parser.add_argument("--model", required=True, help="the model that gave the answers")
        parser.add_argument("--provider", default="imported", metavar="LABEL", help="provider label of the model (default 'imported')")
        add_selection_arguments(parser)
        parser.add_argument("--temperature", type=float,
                            help="the sampling temperature the answers were generated with, stored in the run's "
                                 "protocol (default: unknown, null); --temperature 0 --max-tokens 64 is the paper's "
                                 "protocol, the leaderboard's default")
        parser.add_argument("--max-tokens", type=int,
                            help="the answer length limit the answers were generated with (default: unknown, null)")
        parser.add_argument("--min-parse-rate", type=float, default=0.5,
                            help="fail the run (no scores) if fewer answers than this share parse (default 0.5)")
        parser.add_argument("--out", required=True, metavar="OUT.json", help="write the result JSON here ('-' for stdout)")
        parser.add_argument("--parsed-out", metavar="PARSED.csv", help="write item_id,prompt_index,rating,reason per answer")
        parser.add_argument("--publish", action="store_true", help="show the run on the public results pages (default: not published)")

    def handle(self, *args, **options):
        for flag in ("out", "parsed_out"):
            target = options[flag]
            if target and target != "-" and not Path(target).resolve().parent.is_dir():
                raise CommandError(f"--{flag.replace('_', '-')} {target}: directory {Path(target).resolve().parent} does not exist")
        try:
            with transaction.atomic():  # a bad answers file leaves no bank imported from --items either
                run, parsed = self._import(options)
        except (AnswersFormatError, ItemBankFormatError, BenchmarkError) as exc:
            raise CommandError(str(exc)) from exc
        self._write(run, parsed, options)

    def _import(self, options):
        bank = itembank_resolve(path=options["items"], name=options["itembank"])
        with tqdm(unit="answer", desc="parsing", file=sys.stderr, disable=options["verbosity"] == 0) as bar:
            return run_import_answers(
                bank=bank, path=options["answers"], model=options["model"], provider=options["provider"],
                settings={"threshold": options["threshold"], "alpha": options["alpha"], "fdr": options["fdr"], "mode": options["mode"],
                          "min_parse_rate": options["min_parse_rate"], "families": options["families"],
                          "temperature": options["temperature"], "max_tokens": options["max_tokens"]},
                publish=options["publish"], progress=bar.update,
            )

    def _write(self, run, parsed, options):
        self.stderr.write(f"run {run.pk}: {run.model} ({run.provider}) on {run.bank.name}: parsed {run.parsed}/{run.answered}")
        if options["parsed_out"]:
            with open(options["parsed_out"], "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(PARSED_COLUMNS)
                writer.writerows((a.item_id, a.prompt_index, "" if a.rating is None else a.rating, a.reason) for a in parsed)
            self.stderr.write(f"wrote {options['parsed_out']}")
        document = json.dumps(run_report(run), indent=2, ensure_ascii=False)
        if options["out"] == "-":
            self.stdout.write(document)
        else:
            Path(options["out"]).write_text(document + "\n", encoding="utf-8")
            self.stderr.write(f"wrote {options['out']}")
        if run.status != Run.Status.COMPLETED:
            raise CommandError(f"run {run.pk} is {run.status}: {run.error}")

import argparse
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from benchmark.itembank_format import ItemBankFormatError
from benchmark.models import Run
from benchmark.presets import PERSONAS, VALUE_DEFINITIONS
from benchmark.providers import PROVIDERS
from benchmark.scoring import DEFAULT_ALPHA, DEFAULT_THRESHOLD, MODES
from benchmark.selectors import run_report
from benchmark.services import BenchmarkError, itembank_resolve, run_create, run_execute, run_reopen


class Command(BaseCommand):
    help = (
        "Evaluate one model on an item bank: six prompts per item, answers parsed to 1-6, scores per dimension "
        "written to --out as JSON. Completions are cached in the database, so repeating or resuming a run "
        "(--resume RUN_ID) sends only the requests still missing. API keys come from OPENAI_API_KEY / "
        "ANTHROPIC_API_KEY or the variable named by --api-key-env."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = (
            f"Personas: {', '.join(PERSONAS)}. Steering values: {', '.join(VALUE_DEFINITIONS)}."
        )
        return parser

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--items", help="item-bank JSONL file (imported once, named after the file and its hash)")
        source.add_argument("--itembank", help="name of an imported item bank")
        source.add_argument("--resume", type=int, metavar="RUN_ID", help="continue a stopped run with its own settings")
        parser.add_argument("--provider", choices=sorted(PROVIDERS), help="API protocol")
        parser.add_argument("--base-url", help="API base URL, e.g. http://127.0.0.1:8000/v1 for vLLM (default: the provider's)")
        parser.add_argument("--model", help="model name sent to the API")
        parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="minimum correlation (default 0.3)")
        parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, help="p-value must be below this (default 0.05)")
        parser.add_argument("--mode", choices=MODES, default="positive",
                            help="positive: items with rho >= threshold (the paper's tables); signed: |rho| >= threshold, "
                                 "negatively keyed items reverse-scored 7 - x")
        parser.add_argument("--families", metavar="FAMILY[,FAMILY]",
                            help="score only these dimension families, e.g. pvq,higher_pvq (default: every family the "
                                 "bank's correlations measure; one with no keyed item stops the run before any request)")
        condition = parser.add_mutually_exclusive_group()
        condition.add_argument("--system-prompt", help="free-text system prompt")
        condition.add_argument("--persona", choices=sorted(PERSONAS), metavar="KEY", help="a persona preset (Appendix H.1)")
        condition.add_argument("--steer", metavar="VALUE", help="a value-steering preset (Appendix I.2), e.g. Benevolence")
        parser.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default 0)")
        parser.add_argument("--max-tokens", type=int, default=64, help="answer length limit (default 64)")
        parser.add_argument("--logprobs", action="store_true", help="request log-probabilities (OpenAI protocol) for an expected-rating score")
        parser.add_argument("--credential", metavar="NAME",
                            help="operator-configured credential (BENCHMARK_CREDENTIALS) whose key the run sends "
                                 "(default: the provider's own, e.g. 'openai'; none for a custom --base-url)")
        parser.add_argument("--api-key-env", help=argparse.SUPPRESS)
        parser.add_argument("--min-parse-rate", type=float, default=0.5,
                            help="fail the run (no scores published) if fewer answers than this share parse (default 0.5)")
        parser.add_argument("--max-attempts", type=int, default=8, help="attempts per request before the run stops (default 8)")
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
        parser.add_argument("--out", help="write the result JSON here ('-' for stdout)")

    def handle(self, *args, **options):
        out = options["out"]
        if out and out != "-" and not Path(out).resolve().parent.is_dir():
            # Checked before any request: finding out after an hour of API calls would be a waste.
            raise CommandError(f"--out {out}: directory {Path(out).resolve().parent} does not exist")
        if options["resume"]:
            run = Run.objects.filter(pk=options["resume"]).first()
            if run is None:
                raise CommandError(f"no run with id {options['resume']}")
            run_reopen(run=run)
        else:
            run = self._create(options)
        self.stderr.write(f"run {run.pk}: {run.model} ({run.provider}) on {run.bank.name}, condition {run.condition}")
        bar = tqdm(total=run.progress_total, unit="answer", file=sys.stderr, disable=options["verbosity"] == 0)

        def progress(current: Run) -> None:
            bar.update(current.progress_done - bar.n)

        try:
            execution = run_execute(run.pk, progress=progress)
        except BenchmarkError as exc:
            raise CommandError(f"{exc}\nResume with: manage.py run_benchmark --resume {run.pk}") from exc
        finally:
            bar.close()
        run.refresh_from_db()
        self.stderr.write(
            f"{execution.cached} answers from the cache, {execution.requested} requested "
            f"({execution.sent} HTTP requests, {execution.retries} retries); parsed {run.parsed}/{run.answered}"
        )
        if run.status != Run.Status.COMPLETED:
            reason = f": {run.error}" if run.error else ""
            raise CommandError(f"run {run.pk} is {run.status}{reason}\nResume with: manage.py run_benchmark --resume {run.pk}")
        document = json.dumps(run_report(run), indent=2, ensure_ascii=False)
        if options["out"] == "-":
            self.stdout.write(document)
        elif options["out"]:
            Path(options["out"]).write_text(document + "\n", encoding="utf-8")
            self.stderr.write(f"wrote {options['out']}")

    def _create(self, options) -> Run:
        if options["api_key_env"]:
            raise CommandError("--api-key-env was replaced by --credential NAME: the operator maps credential names "
                               "to environment variables and hosts in BENCHMARK_CREDENTIALS (docs/benchmark.md).")
        missing = [flag for flag, key in (("--provider", "provider"), ("--model", "model")) if not options[key]]
        if not (options["items"] or options["itembank"]):
            missing.insert(0, "--items or --itembank")
        if missing:
            raise CommandError(f"missing {', '.join(missing)}")
        try:
            bank = itembank_resolve(path=options["items"], name=options["itembank"])
            return run_create(
                bank=bank,
                provider=options["provider"],
                model=options["model"],
                base_url=options["base_url"],
                settings={
                    "threshold": options["threshold"], "alpha": options["alpha"], "mode": options["mode"],
                    "temperature": options["temperature"], "max_tokens": options["max_tokens"],
                    "logprobs": options["logprobs"], "concurrency": options["concurrency"],
                    "max_attempts": options["max_attempts"], "timeout": options["timeout"],
                    "min_parse_rate": options["min_parse_rate"],
                    **({"families": options["families"]} if options["families"] else {}),
                },
                credential=options["credential"],
                system_prompt=options["system_prompt"],
                persona=options["persona"],
                steer=options["steer"],
            )
        except (ItemBankFormatError, BenchmarkError) as exc:
            raise CommandError(str(exc)) from exc

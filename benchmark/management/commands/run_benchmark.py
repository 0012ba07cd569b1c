import argparse
import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from benchmark.itembank_format import ItemBankFormatError
from benchmark.models import Run
from benchmark.presets import GENERATION_PRESETS, PERSONAS, VALUE_DEFINITIONS
from benchmark.protocol import DEFAULT_ALPHA, DEFAULT_THRESHOLD, MODES
from benchmark.providers import PROVIDERS
from benchmark.runner import AUTO
from benchmark.selectors import run_cut_off, run_report
from benchmark.services import (
    BenchmarkError,
    itembank_resolve,
    parse_param,
    run_create,
    run_execute,
    run_execute_batch,
    run_open_batch_like,
    run_reopen,
)


def add_selection_arguments(parser) -> None:
    """--threshold, --alpha, --fdr (override the bank's stored selection), --mode and --families, shared with score_answers."""
    parser.add_argument("--threshold", type=float, default=None,
                        help=f"select items with rho >= this instead of the bank's stored selection (default: the "
                             f"bank's selection; {DEFAULT_THRESHOLD} for a bank file without one)")
    parser.add_argument("--alpha", type=float, default=None,
                        help=f"with a rule: p-value must be below this (default {DEFAULT_ALPHA}); giving it overrides "
                             "the bank's stored selection")
    parser.add_argument("--fdr", action="store_true", default=None,
                        help="with a rule: compare Benjamini-Hochberg adjusted p-values (over the bank's tests) with "
                             "alpha; overrides the bank's stored selection")
    parser.add_argument("--mode", choices=MODES, default="positive",
                        help="positive: items keyed with rho > 0 (the paper's tables); signed: negatively keyed items "
                             "too, reverse-scored 7 - x. The selection, the mode and the other settings that change "
                             "a score form the run's protocol (OUT.json 'protocol').")
    parser.add_argument("--families", metavar="FAMILY[,FAMILY]",
                        help="score only these dimension families, e.g. pvq,higher_pvq (default: every family the "
                             "bank's correlations measure; one with no keyed item stops the run before any request, or "
                             "score_answers before anything is stored). Not part of the protocol: it picks which "
                             "scores a run has, not what they mean")


def _concurrency(value: str) -> int | str:
    if value == AUTO:
        return AUTO
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or {AUTO!r}, got {value!r}") from None


class Command(BaseCommand):
    # No system checks: they import every URLconf and view (a quarter of a second before the first request);
    # the database schema is checked by the queries themselves, and `manage.py check` runs them on demand.
    requires_system_checks = []
    help = (
        "Evaluate one model on an item bank: six prompts per item, answers parsed to 1-6, scores per dimension "
        "written to --out as JSON. Completions are cached in the database, so repeating or resuming a run "
        "(--resume RUN_ID) sends only the requests still missing. API keys come from OPENAI_API_KEY / "
        "ANTHROPIC_API_KEY or the variable named by --api-key-env."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        presets = "; ".join(
            f"{key} ({preset.provider}: max tokens {preset.max_tokens}"
            + (f", {json.dumps(preset.params)}" if preset.params else "") + ")"
            for key, preset in GENERATION_PRESETS.items()
        )
        parser.epilog = (
            f"Personas: {', '.join(PERSONAS)}. Steering values: {', '.join(VALUE_DEFINITIONS)}. "
            f"Reasoning presets: {presets}. What is sent to each model family: docs/benchmark.md."
        )
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--skip-checks", action="store_true", help=argparse.SUPPRESS)  # accepted: no checks run
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--items", help="item-bank JSONL file (imported once, named after the file and its hash)")
        source.add_argument("--itembank", help="name of an imported item bank")
        source.add_argument("--resume", type=int, metavar="RUN_ID", help="continue a stopped run with its own settings")
        parser.add_argument("--provider", choices=sorted(PROVIDERS), help="API protocol")
        parser.add_argument("--base-url", help="API base URL, e.g. http://127.0.0.1:8000/v1 for vLLM (default: the provider's)")
        parser.add_argument("--model", help="model name sent to the API")
        parser.add_argument("--concurrency", type=_concurrency, default=16,
                            help="requests in flight (default 16), or 'auto': start at 8, raise while answers come back "
                                 "fast without 429s, halve on 429/overload (AIMD), up to --max-concurrency")
        parser.add_argument("--max-concurrency", type=int, default=256,
                            help="upper limit for --concurrency auto (default 256)")
        add_selection_arguments(parser)
        condition = parser.add_mutually_exclusive_group()
        condition.add_argument("--system-prompt", help="free-text system prompt")
        condition.add_argument("--persona", choices=sorted(PERSONAS), metavar="KEY", help="a persona preset (Appendix H.1)")
        condition.add_argument("--steer", metavar="VALUE", help="a value-steering preset (Appendix I.2), e.g. Benevolence")
        parser.add_argument("--temperature", type=float,
                            help="sampling temperature (default 0, the paper's; none is sent to models that accept "
                                 "none, e.g. o-series, GPT-5, Claude Opus 4.7+, Claude with thinking)")
        parser.add_argument("--max-tokens", type=int,
                            help="answer length limit, reasoning included (default 64, the paper's, or the preset's); "
                                 "sent as max_tokens, max_completion_tokens or maxOutputTokens as the model needs")
        parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                            help="a provider parameter, repeatable; VALUE is JSON (2048, true, '\"low\"', "
                                 "'{\"type\": \"enabled\", \"budget_tokens\": 1024}'), a bare word is a string: "
                                 "--param reasoning_effort=low")
        parser.add_argument("--preset", choices=sorted(GENERATION_PRESETS), metavar="NAME",
                            help="generation preset for reasoning models (max tokens and parameters; see below)")
        parser.add_argument("--logprobs", action="store_true",
                            help="request log-probabilities (OpenAI protocol, Gemini) for an expected-rating score")
        parser.add_argument("--credential", metavar="NAME",
                            help="operator-configured credential (BENCHMARK_CREDENTIALS) whose key the run sends "
                                 "(default: the provider's own, e.g. 'openai'; none for a custom --base-url)")
        parser.add_argument("--api-key-env", help=argparse.SUPPRESS)
        parser.add_argument("--min-parse-rate", type=float, default=0.5,
                            help="fail the run (no scores published) if fewer answers than this share parse (default 0.5)")
        parser.add_argument("--max-attempts", type=int, default=8, help="attempts per request before the run stops (default 8)")
        parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
        parser.add_argument("--out", help="write the result JSON here ('-' for stdout)")
        parser.add_argument("--batch", action="store_true",
                            help="send the requests through the provider's batch API (OpenAI Batch API, Anthropic "
                                 "Message Batches: half the price, answers within 24 h) and poll until it ends. The "
                                 "batch id is stored on the run: after a restart, --resume RUN_ID (or the same command "
                                 "again) polls that batch instead of submitting it again")
        parser.add_argument("--batch-poll-seconds", type=float, default=30.0,
                            help="with --batch: seconds between status polls (default 30)")

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
            if options["batch"] and (earlier := run_open_batch_like(run)) is not None:
                run.delete()  # the same command again after a restart: continue the run whose batch is submitted
                run = earlier
                run_reopen(run=run)
                self.stderr.write(f"continuing run {run.pk}: its batch {run.batch.get('id')} was submitted at "
                                  f"{run.batch.get('submitted_at')}")
        batch = options["batch"] or run.batch.get("state") == "submitted"
        if batch and not run.batch.get("use"):
            run.batch = {**run.batch, "use": True}
            Run.objects.filter(pk=run.pk).update(batch=run.batch)
        self.stderr.write(f"run {run.pk}: {run.model} ({run.provider}) on {run.bank.name}, condition {run.condition}")
        bar = tqdm(total=run.progress_total, unit="answer", file=sys.stderr, disable=options["verbosity"] == 0)

        def progress(current: Run) -> None:
            bar.update(current.progress_done - bar.n)

        def batch_status(state: dict) -> None:
            if not options["verbosity"]:
                return
            counts = ", ".join(f"{key} {value}" for key, value in (state.get("counts") or {}).items())
            bar.write(f"batch {state.get('id')}: {state.get('status')}" + (f" ({counts})" if counts else ""),
                      file=sys.stderr)

        try:
            if batch:
                execution = run_execute_batch(run.pk, progress=progress, on_status=batch_status,
                                              poll_seconds=options["batch_poll_seconds"])
            else:
                execution = run_execute(run.pk, progress=progress)
        except BenchmarkError as exc:
            raise CommandError(f"{exc}\nResume with: manage.py run_benchmark --resume {run.pk}") from exc
        finally:
            bar.close()
        run.refresh_from_db()
        self.stderr.write(
            f"{execution.cached} answers from the cache, {execution.requested} requested"
            + (f" in {execution.seconds:.1f} s" if execution.requested else "")
            + f" ({execution.sent} HTTP requests, {execution.retries} retries"
            + (f", {execution.cpu_seconds / execution.requested * 1000:.2f} ms CPU per answer" if execution.requested else "")
            + (f", {execution.preparing_cpu_seconds:.1f} s CPU preparing the scoring meanwhile"
               if execution.preparing_cpu_seconds else "")
            + f"); parsed {run.parsed}/{run.answered}"
            + (f"; concurrency settled at {execution.concurrency_settled}" if execution.concurrency_settled else "")
        )
        cut = run_cut_off(run)
        if cut["count"]:
            self.stderr.write(
                f"{cut['count']} of {run.answered} answers were cut off at max_tokens {run.settings.get('max_tokens')} "
                f"(finish reason {', '.join(sorted(cut['finish_reasons']))}); a reasoning model needs a larger "
                "--max-tokens or a --preset"
            )
        if run.status != Run.Status.COMPLETED:
            why = f": {run.error}" if run.error else ""
            raise CommandError(f"run {run.pk} is {run.status}{why}\nResume with: manage.py run_benchmark --resume {run.pk}")
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
            params = dict(parse_param(raw) for raw in options["param"])
            bank = itembank_resolve(path=options["items"], name=options["itembank"])
            settings = {
                "threshold": options["threshold"], "alpha": options["alpha"], "fdr": options["fdr"],
                "mode": options["mode"],
                "temperature": options["temperature"], "logprobs": options["logprobs"], "params": params,
                "concurrency": options["concurrency"], "max_concurrency": options["max_concurrency"],
                "max_attempts": options["max_attempts"],
                "timeout": options["timeout"], "min_parse_rate": options["min_parse_rate"],
            }
            if options["families"]:
                settings["families"] = options["families"]
            if options["max_tokens"] is not None:
                settings["max_tokens"] = options["max_tokens"]
            if options["preset"]:
                settings["preset"] = options["preset"]
            return run_create(
                bank=bank,
                provider=options["provider"],
                model=options["model"],
                base_url=options["base_url"],
                settings=settings,
                credential=options["credential"],
                system_prompt=options["system_prompt"],
                persona=options["persona"],
                steer=options["steer"],
            )
        except (ItemBankFormatError, BenchmarkError) as exc:
            raise CommandError(str(exc)) from exc

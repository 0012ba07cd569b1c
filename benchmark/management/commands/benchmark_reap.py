from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmark.models import Run
from benchmark.services import runs_interrupt_stale


class Command(BaseCommand):
    help = (
        "Mark interrupted every benchmark run that is 'running' but whose process has sent no heartbeat for "
        "--stale-after seconds (default BENCHMARK_RUN_STALE_SECONDS): its worker died. Interrupted runs serve no "
        "public scores and continue with run_benchmark --resume RUN_ID. Safe to run from cron at any time; the "
        "pages and API endpoints that show runs do the same check when they are read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stale-after", type=float, metavar="SECONDS",
                            help=f"seconds without a heartbeat (default {settings.BENCHMARK_RUN_STALE_SECONDS})")

    def handle(self, *args, **options):
        stale_after = options["stale_after"]
        if stale_after is not None and stale_after < 0:
            raise CommandError(f"--stale-after must be 0 or more seconds, got {stale_after:g}")
        interrupted = runs_interrupt_stale(stale_after=stale_after)
        for run in Run.objects.filter(pk__in=interrupted).order_by("pk"):
            self.stdout.write(f"run {run.pk} ({run.model} on {run.bank.name}) interrupted; resume with: "
                              f"manage.py run_benchmark --resume {run.pk}")
        if options["verbosity"] >= 1:
            self.stderr.write(f"{len(interrupted)} run(s) interrupted")

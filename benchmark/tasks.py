"""Celery tasks: take a run id, call a service.

``run_benchmark_task`` splits a run's missing items into chunks and enqueues one
``run_benchmark_chunk_task`` per chunk, so every worker listening on the queue (on any machine
sharing the database and broker) takes a share of the run; each chunk scores the run when it finds
every answer in. Without a broker (eager mode) the whole run executes in the calling process.
"""

from celery import shared_task
from django.conf import settings

from benchmark.models import PROMPT_COUNT, Run
from benchmark.services import BenchmarkError, run_execute, run_finalize

CHUNK_ITEMS = getattr(settings, "BENCHMARK_CHUNK_ITEMS", 100)


def _progress_reporter(task):
    def report(run: Run) -> None:
        if task.request.id and not task.request.is_eager:
            task.update_state(state="PROGRESS", meta={"run_id": run.pk, "done": run.progress_done,
                                                       "total": run.progress_total})
    return report


@shared_task(bind=True)
def run_benchmark_task(self, run_id: int) -> dict:
    """Execute a run: inline when eager, else as chunk tasks spread over the workers."""
    run = Run.objects.get(pk=run_id)
    if self.request.id:
        Run.objects.filter(pk=run_id).update(celery_task_id=self.request.id)
    if self.request.is_eager or self.app.conf.task_always_eager:
        try:
            run_execute(run_id, progress=_progress_reporter(self))
        except BenchmarkError as exc:
            return {"run_id": run_id, "status": Run.Status.FAILED, "error": str(exc)}
        run.refresh_from_db()
        return {"run_id": run_id, "status": run.status, "done": run.progress_done, "total": run.progress_total}
    answered = {pk for pk, count in _answer_counts(run).items() if count >= PROMPT_COUNT}
    missing = [pk for pk in run.bank.items.values_list("pk", flat=True) if pk not in answered]
    if not missing:
        run_finalize(run_id)
        return {"run_id": run_id, "chunks": 0}
    chunks = [missing[start : start + CHUNK_ITEMS] for start in range(0, len(missing), CHUNK_ITEMS)]
    for chunk in chunks:
        run_benchmark_chunk_task.delay(run_id, chunk)
    return {"run_id": run_id, "chunks": len(chunks)}


def _answer_counts(run: Run) -> dict[int, int]:
    from django.db.models import Count

    return dict(run.answers.values("item_id").annotate(n=Count("id")).values_list("item_id", "n"))


@shared_task(bind=True)
def run_benchmark_chunk_task(self, run_id: int, item_pks: list[int]) -> dict:
    """Fetch the missing answers of some of a run's items; score the run if it is then complete."""
    try:
        report = run_execute(run_id, item_pks=item_pks, progress=_progress_reporter(self))
    except BenchmarkError as exc:
        return {"run_id": run_id, "status": Run.Status.FAILED, "error": str(exc)}
    return {"run_id": run_id, "requested": report.requested, "cached": report.cached}

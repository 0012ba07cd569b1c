"""Celery tasks of the psychometrics app: thin wrappers over services, taking ids."""

from celery import shared_task

from psychometrics.services import analysis_run


@shared_task(bind=True, name="psychometrics.run_analysis")
def run_analysis(self, analysis_id: int) -> dict:
    """Run (or re-run) analysis ``analysis_id``; progress goes to the analysis row and the task state."""

    def report(done: int, total: int) -> None:
        if self.request.id:
            self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    analysis = analysis_run(analysis_id=analysis_id, on_progress=report)
    return {"analysis_id": analysis.pk, "status": analysis.status}

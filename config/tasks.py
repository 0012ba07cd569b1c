"""Reading a task's state the same way whether it ran eagerly or on a worker."""

from celery.result import AsyncResult


def task_status(task_id: str) -> dict:
    """State, progress metadata and result of a task, read from the result backend (the database).

    Tasks report progress with ``self.update_state(state="PROGRESS", meta={"done": d, "total": t})``;
    that metadata is returned under ``progress`` while the task runs.
    """
    result = AsyncResult(task_id)
    state = result.state
    info = result.info
    return {
        "task_id": task_id,
        "state": state,
        "progress": info if state == "PROGRESS" and isinstance(info, dict) else None,
        "result": info if state == "SUCCESS" else None,
        "error": repr(info) if state == "FAILURE" else None,
    }

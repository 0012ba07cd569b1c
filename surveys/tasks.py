from celery import shared_task

from surveys.services import reservations_expire


@shared_task(name="surveys.tasks.expire_reservations")
def expire_reservations() -> int:
    """Periodic (celery beat): free the group places of participants whose time limit passed."""
    return reservations_expire()

"""Services that change survey state. Views, tasks and commands call these."""

from django.db import transaction
from django.utils import timezone

from surveys.models import Participant


@transaction.atomic
def reservations_expire(*, now=None) -> int:
    """Mark active participants whose reservation has run out as expired, freeing their group place.

    Returns the number of participants expired. Idempotent: running it twice changes nothing more.
    """
    now = now or timezone.now()
    return Participant.objects.filter(status=Participant.Status.ACTIVE, expires_at__lt=now).update(
        status=Participant.Status.EXPIRED
    )

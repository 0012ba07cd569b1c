"""Verifying Prolific webhook requests.

Prolific sends ``X-Prolific-Request-Signature`` and ``X-Prolific-Request-Timestamp``; the signature
is base64(HMAC-SHA256(secret, timestamp + body)). ``X-Event-ID`` identifies an event across
redeliveries and ``X-Timestamp`` says when the event was sent (used for ordering).
"""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

from django.conf import settings

from prolific.models import ProlificSettings
from prolific.secrets_box import SecretUnreadable, secret_decrypt

SIGNATURE_HEADER = "X-Prolific-Request-Signature"
SIGNATURE_TIMESTAMP_HEADER = "X-Prolific-Request-Timestamp"
EVENT_ID_HEADER = "X-Event-ID"
EVENT_TIMESTAMP_HEADER = "X-Timestamp"


def signature_is_valid(*, secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode())


def timestamp_is_fresh(timestamp: str, *, now: float | None = None) -> bool:
    """Refuse replays of old signed requests (``PROLIFIC_WEBHOOK_MAX_AGE_SECONDS``; 0 disables)."""
    max_age = settings.PROLIFIC_WEBHOOK_MAX_AGE_SECONDS
    if max_age <= 0:
        return True
    try:
        sent = float(timestamp)
    except ValueError:
        return False
    return abs((now or time.time()) - sent) <= max_age


def webhook_secrets(*, study=None) -> list[str]:
    """Secrets a request may be signed with: the workspace secret from settings, plus the study's own
    (or, when the event matches no study, any study's)."""
    secrets = [settings.PROLIFIC_WEBHOOK_SECRET] if settings.PROLIFIC_WEBHOOK_SECRET else []
    rows = ProlificSettings.objects.exclude(webhook_secret_encrypted="")
    if study is not None:
        rows = rows.filter(study=study)
    for ciphertext in rows.values_list("webhook_secret_encrypted", flat=True):
        try:
            secrets.append(secret_decrypt(ciphertext))
        except SecretUnreadable:
            continue  # a secret stored under an old key cannot verify anything
    return secrets


def event_time(header_value: str | None) -> datetime:
    """The event's UNIX timestamp header as an aware datetime (now when absent or malformed)."""
    try:
        return datetime.fromtimestamp(float(header_value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(tz=UTC)

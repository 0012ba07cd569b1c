"""Verifying Prolific webhook requests.

Prolific sends ``X-Prolific-Request-Signature`` and ``X-Prolific-Request-Timestamp``; the signature
is base64(HMAC-SHA256(secret, timestamp + body)). ``X-Event-ID`` identifies an event across
redeliveries and ``X-Timestamp`` says when the event was sent (used for ordering).
"""

import base64
import hashlib
import hmac
import json
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


def signed_body_candidates(raw_body: bytes, payload) -> list[bytes]:
    """The byte strings Prolific may have signed: the raw body, and the body as Python's
    ``json.dumps`` writes it (Prolific's own verification example re-serialises the parsed body,
    so a sender that signs ``json.dumps(body)`` but sends other whitespace still verifies)."""
    candidates = [raw_body]
    reserialised = json.dumps(payload).encode()
    if reserialised != raw_body:
        candidates.append(reserialised)
    return candidates


def request_is_signed(*, secrets: list[str], timestamp: str, raw_body: bytes, payload, signature: str) -> bool:
    """True when ``signature`` matches any secret over any candidate signed body."""
    return any(
        signature_is_valid(secret=secret, timestamp=timestamp, body=body, signature=signature)
        for secret in secrets
        for body in signed_body_candidates(raw_body, payload)
    )


def unix_seconds(value: str) -> float:
    """A UNIX timestamp header in seconds. Prolific documents "a UNIX timestamp" without a unit;
    values too large to be seconds (after the year 5138) are read as milliseconds. Raises ValueError."""
    seconds = float(value)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError(value)
    return seconds / 1000 if seconds > 1e11 else seconds


def timestamp_is_fresh(timestamp: str, *, now: float | None = None) -> bool:
    """Refuse replays of old signed requests (``PROLIFIC_WEBHOOK_MAX_AGE_SECONDS``; 0 disables)."""
    max_age = settings.PROLIFIC_WEBHOOK_MAX_AGE_SECONDS
    if max_age <= 0:
        return True
    try:
        sent = unix_seconds(timestamp)
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
        return datetime.fromtimestamp(unix_seconds(header_value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(tz=UTC)

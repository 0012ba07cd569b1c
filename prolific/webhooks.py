"""Verifying Prolific webhook requests.

Prolific sends ``X-Prolific-Request-Signature`` and ``X-Prolific-Request-Timestamp``; the signature
is base64(HMAC-SHA256(secret, timestamp + body)). ``X-Event-ID`` identifies an event across
redeliveries and ``X-Timestamp`` says when the event was sent (used for ordering).
"""

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from prolific.models import ProlificSettings
from prolific.secrets_box import SecretUnreadable, secret_decrypt

SIGNATURE_HEADER = "X-Prolific-Request-Signature"
SIGNATURE_TIMESTAMP_HEADER = "X-Prolific-Request-Timestamp"
EVENT_ID_HEADER = "X-Event-ID"
EVENT_TIMESTAMP_HEADER = "X-Timestamp"


# A signature is base64 of a 32-byte HMAC-SHA256 digest: 44 characters ending in one '='.
SIGNATURE_RE = re.compile(r"[A-Za-z0-9+/]{43}=")
# The re-serialised candidate needs the body parsed before it is verified; Prolific's events are
# small flat objects, so only a body this small, with this few brackets (a bound on its nesting),
# is ever parsed unverified. Anything larger or deeper must verify over its raw bytes.
REPARSE_MAX_BYTES = 16 * 1024
REPARSE_MAX_BRACKETS = 32


def signature_is_valid(*, secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    expected = base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode())


def signature_is_well_formed(signature: str) -> bool:
    """True when ``signature`` could be a base64 HMAC-SHA256 digest (checked before any secret is read)."""
    return bool(SIGNATURE_RE.fullmatch(signature))


def _reserialised(raw_body: bytes) -> bytes | None:
    """The body as Python's ``json.dumps`` writes it (Prolific's own verification example re-serialises
    the parsed body), or None when the body is not a small, shallow JSON document or already is that form."""
    if len(raw_body) > REPARSE_MAX_BYTES or raw_body.count(b"[") + raw_body.count(b"{") > REPARSE_MAX_BRACKETS:
        return None
    try:
        reserialised = json.dumps(json.loads(raw_body)).encode()
    except ValueError:
        return None
    return None if reserialised == raw_body else reserialised


@dataclass(frozen=True)
class Signer:
    """Who signed a webhook request: the workspace secret, and/or the secrets of these studies."""

    workspace: bool
    study_ids: frozenset[int]

    def may_speak_for(self, study) -> bool:
        """An event about a study must be signed by the workspace secret or that study's own secret."""
        return self.workspace or study is None or study.pk in self.study_ids


def webhook_secrets() -> list[tuple[int | None, str]]:
    """``(study id, secret)`` for every secret a request may be signed with; the study id is None for
    the workspace secret from settings. Secrets stored under an old key are skipped (they verify nothing)."""
    secrets = [(None, settings.PROLIFIC_WEBHOOK_SECRET)] if settings.PROLIFIC_WEBHOOK_SECRET else []
    rows = ProlificSettings.objects.exclude(webhook_secret_encrypted="").values_list("study_id", "webhook_secret_encrypted")
    for study_id, ciphertext in rows:
        try:
            secrets.append((study_id, secret_decrypt(ciphertext)))
        except SecretUnreadable:
            continue
    return secrets


def _signed_by(secrets: list[tuple[int | None, str]], *, timestamp: str, body: bytes, signature: str) -> list[int | None]:
    return [study_id for study_id, secret in secrets
            if signature_is_valid(secret=secret, timestamp=timestamp, body=body, signature=signature)]


def request_signer(*, timestamp: str, raw_body: bytes, signature: str) -> Signer | None:
    """Verify ``signature`` (constant-time) before anything trusts the body; None when no secret signed it.

    The raw body is tried first with every secret; only when that fails, and only for a small, shallow
    body (``REPARSE_MAX_BYTES``, ``REPARSE_MAX_BRACKETS``), the body re-serialised by ``json.dumps``.
    """
    if not signature_is_well_formed(signature):
        return None
    secrets = webhook_secrets()
    signed = _signed_by(secrets, timestamp=timestamp, body=raw_body, signature=signature)
    if not signed and (reserialised := _reserialised(raw_body)) is not None:
        signed = _signed_by(secrets, timestamp=timestamp, body=reserialised, signature=signature)
    if not signed:
        return None
    return Signer(workspace=None in signed, study_ids=frozenset(s for s in signed if s is not None))


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


def event_time(header_value: str | None) -> datetime:
    """The event's UNIX timestamp header as an aware datetime (now when absent or malformed)."""
    try:
        return datetime.fromtimestamp(unix_seconds(header_value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.now(tz=UTC)

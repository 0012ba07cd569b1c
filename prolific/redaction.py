"""Prolific ids out of logs and messages: keyed hashes in their place (no HTTP client imported here).

Used by the one log filter, ``config.logging.RedactParticipantData`` (also on httpx's log, from
``ProlificAppConfig.ready``); nothing here imports httpx or the API client, so start-up does not.
"""

import hashlib
import hmac
import re

from django.conf import settings


def pseudonymise(prolific_id: str) -> str:
    """A stable keyed hash standing in for a Prolific id in logs (not reversible without SECRET_KEY)."""
    digest = hmac.new(settings.SECRET_KEY.encode(), prolific_id.encode(), hashlib.sha256).hexdigest()
    return f"h:{digest[:12]}"


# Prolific's participant, submission and study ids are 24-character hexadecimal object ids.
PROLIFIC_ID_RE = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{24}(?![0-9A-Za-z])")
# A submission id in a request path, e.g. /api/v1/submissions/<id>/transition/ (not bulk-approve).
SUBMISSION_PATH_RE = re.compile(r"/submissions/(?!bulk-approve/)[^/?#\s]+/")


def redact_prolific_ids(text: str) -> str:
    """``text`` with Prolific ids replaced by keyed hashes and submission ids in paths by a placeholder.

    Prolific's error details can name the ids they refer to ("which IDs are incorrect"); those
    details go to the call log and to messages, where Prolific ids must never appear. Where no Django
    settings (and so no key) are loaded, as in gunicorn's master process, an id becomes ``{prolific_id}``.
    """
    text = SUBMISSION_PATH_RE.sub("/submissions/{submission_id}/", text)
    if not settings.configured:
        return PROLIFIC_ID_RE.sub("{prolific_id}", text)
    return PROLIFIC_ID_RE.sub(lambda m: pseudonymise(m[0]), text)

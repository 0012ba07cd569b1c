"""Log filters that keep personal data and secrets out of every log line."""

import logging
import re

PARTICIPANT_TOKEN = re.compile(r"(/s/[^/\s]+/p/)[^/\s]+")
PROLIFIC_PID_PARAM = re.compile(r"(PROLIFIC_PID=)[^&\s]+")


def redact(text: str) -> str:
    """Replace participant-page tokens and PROLIFIC_PID query values with an ellipsis."""
    return PROLIFIC_PID_PARAM.sub(r"\1…", PARTICIPANT_TOKEN.sub(r"\1…", text))


class RedactParticipantData(logging.Filter):
    """Rewrites a record's message (e.g. django.request's "Not Found: /s/demo/p/<token>/")."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

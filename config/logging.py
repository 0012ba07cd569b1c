"""Log filters that keep personal data and secrets out of every log line."""

import logging
import re

from prolific.redaction import redact_prolific_ids

PARTICIPANT_TOKEN = re.compile(r"(/s/[^/\s]+/p/)[^/\s]+")


def _encoded(char: str) -> str:
    """A pattern for ``char`` as written, or percent-encoded once or more (``%5F``, ``%255F``, …)."""
    hex_code = f"{ord(char):02X}"
    return f"(?:{re.escape(char)}|%(?:25)*{hex_code})"


# PROLIFIC_PID as a query parameter, in any case, with any of its characters (and the '=') percent-encoded
# any number of times: runserver logs the raw request line, where a client may have sent PROLIFIC%5FPID.
# The value runs to the next '&' (also when encoded) or whitespace.
_ENCODED_AMPERSAND = "%(?:25)*26"
PROLIFIC_PID_PARAM = re.compile(
    "(" + "".join(_encoded(char) for char in "PROLIFIC_PID") + _encoded("=") + ")"
    + f"(?:(?!{_ENCODED_AMPERSAND})[^&\\s])+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` without personal data or participant secrets.

    Participant-page tokens and PROLIFIC_PID query values (also percent-encoded) become an ellipsis;
    Prolific's 24-hex ids anywhere else (a participant, submission or study id in a message or an
    error Prolific returned) become keyed hashes (``prolific.redaction.redact_prolific_ids``).
    """
    return redact_prolific_ids(PROLIFIC_PID_PARAM.sub(r"\1…", PARTICIPANT_TOKEN.sub(r"\1…", text)))


class RedactParticipantData(logging.Filter):
    """Rewrites a record's message (e.g. django.request's "Not Found: /s/demo/p/<token>/"): ``redact``.

    The one redacting filter: on every handler the LOGGING setting configures, and on httpx's logger
    (``ProlificAppConfig.ready``), whose request lines name submission ids.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

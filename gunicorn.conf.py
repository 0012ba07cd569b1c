"""gunicorn settings for the production shape (`make serve`, `make loadtest`).

Access logs never carry personal data or secrets: the path is logged without its query string
(Prolific entry links carry PROLIFIC_PID there), and the participant-page token in
``/s/<slug>/p/<token>/`` is replaced by ``…``.
"""

import multiprocessing
import os

from gunicorn.glogging import Logger

from config.logging import redact

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


class RedactingLogger(Logger):
    """Access log lines with participant-page tokens replaced."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = redact(atoms["U"])
        return atoms


logger_class = RedactingLogger


def post_worker_init(worker):
    """Import every view before the first request, so a Prolific launch's first arrivals don't wait."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - resolving imports all URLconfs and views

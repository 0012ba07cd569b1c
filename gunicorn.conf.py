"""gunicorn settings for the production shape (`make serve`, `make loadtest`).

Access logs never carry personal data or secrets: the path is logged without its query string
(Prolific entry links carry PROLIFIC_PID there), and the participant-page token in
``/s/<slug>/p/<token>/`` is replaced by ``…``.

gunicorn's control socket (``gunicornc``; gunicorn 25.1+) defaults to one path per user,
``$XDG_RUNTIME_DIR/gunicorn.ctl`` or ``~/.gunicorn/gunicorn.ctl``: a second instance (``make loadtest``
beside ``make serve``, another checkout) silently takes it over, and ``gunicornc`` then stops or resizes
the wrong server. Here each instance gets its own socket under ``var/run/`` (a 0700 directory), named
by its bind address; ``GUNICORN_CONTROL_SOCKET`` sets another path, or ``off`` disables the socket.
"""

import multiprocessing
import os
import re
from pathlib import Path

from gunicorn.glogging import Logger

from config.logging import redact

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
timeout = 30
graceful_timeout = 20
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'

RUN_DIR = Path(__file__).resolve().parent / "var" / "run"


def private_run_dir() -> Path:
    """``var/run/``, created if needed and readable by its owner only (0700)."""
    RUN_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    RUN_DIR.chmod(0o700)  # also when it existed with looser permissions
    return RUN_DIR


def control_socket_path(setting: str, bind_address: str) -> str | None:
    """The control socket for ``GUNICORN_CONTROL_SOCKET`` (None when it is ``off``); unset, a socket
    of this instance's own under ``var/run/``, named by the bind address."""
    setting = setting.strip()
    if setting.lower() == "off":
        return None
    if setting:
        return setting
    return str(private_run_dir() / f"gunicorn-{re.sub(r'[^A-Za-z0-9.-]+', '_', bind_address)}.ctl")


_control_socket = control_socket_path(os.environ.get("GUNICORN_CONTROL_SOCKET", ""), bind)
control_socket_disable = _control_socket is None
if _control_socket is not None:
    control_socket = _control_socket
control_socket_mode = 0o600


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

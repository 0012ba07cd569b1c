"""The production access log carries no Prolific ID and no participant token."""

import datetime
import runpy
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def test_the_access_log_redacts_participant_tokens_and_drops_query_strings():
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert "%(U)s" in conf["access_log_format"] and "%(r)s" not in conf["access_log_format"]
    logger = conf["RedactingLogger"](SimpleNamespace(**_gunicorn_cfg()))
    request = SimpleNamespace(headers=[], method="POST", uri="/s/demo/p/Sec3tT0ken_abc/?x=1",
                              path="/s/demo/p/Sec3tT0ken_abc/", query="x=1", version=(1, 1))
    response = SimpleNamespace(status="303 See Other", sent=0, headers=[])
    environ = {"REMOTE_ADDR": "127.0.0.1", "RAW_URI": request.uri, "PATH_INFO": request.path, "QUERY_STRING": "x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST"}
    atoms = logger.atoms(response, request, environ, datetime.timedelta(milliseconds=5))
    assert atoms["U"] == "/s/demo/p/…/"
    assert "Sec3tT0ken" not in atoms["U"]


def _gunicorn_cfg() -> dict:
    from gunicorn.config import Config

    cfg = Config()
    return {name: setting.get() for name, setting in cfg.settings.items()} | {"settings": cfg.settings,
                                                                             "logconfig_dict": {}, "syslog": False}


def test_django_log_lines_lose_participant_tokens_and_prolific_ids():
    import logging

    from config.logging import RedactParticipantData

    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/s/demo/p/T0k3n/",), None)
    RedactParticipantData().filter(record)
    assert record.getMessage() == "Not Found: /s/demo/p/…/"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /s/demo/?PROLIFIC_PID=5f0c2d3e4a1b&STUDY_ID=1", None, None)
    RedactParticipantData().filter(record)
    assert record.getMessage() == "GET /s/demo/?PROLIFIC_PID=…&STUDY_ID=1"

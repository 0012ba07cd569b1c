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


# --- the control socket is private to each instance (issue 11) -------------------------------------


def _conf(monkeypatch, **env) -> dict:
    for name in ("GUNICORN_CONTROL_SOCKET", "GUNICORN_BIND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def _as_gunicorn_reads_it(conf: dict):
    """The settings gunicorn takes from the config file (it ignores names it does not know)."""
    from gunicorn.config import Config

    cfg = Config()
    for name, value in conf.items():
        if name in cfg.settings:
            cfg.set(name, value)
    return cfg


def test_each_instance_has_its_own_control_socket_in_a_private_directory(monkeypatch):
    from gunicorn.config import _get_default_control_socket

    first = _as_gunicorn_reads_it(_conf(monkeypatch, GUNICORN_BIND="127.0.0.1:8000"))
    second = _as_gunicorn_reads_it(_conf(monkeypatch, GUNICORN_BIND="127.0.0.1:8123"))
    assert first.control_socket != second.control_socket
    assert first.control_socket != _get_default_control_socket()
    path = Path(first.control_socket)
    assert path.parent == ROOT / "var" / "run" and path.name == "gunicorn-127.0.0.1_8000.ctl"
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert first.control_socket_mode == 0o600 and first.control_socket_disable is False


def test_a_loose_run_directory_is_made_private_again(monkeypatch):
    (ROOT / "var" / "run").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "run").chmod(0o777)
    _conf(monkeypatch)
    assert (ROOT / "var" / "run").stat().st_mode & 0o777 == 0o700


def test_the_control_socket_path_comes_from_the_environment_or_is_switched_off(monkeypatch, tmp_path):
    chosen = _as_gunicorn_reads_it(_conf(monkeypatch, GUNICORN_CONTROL_SOCKET=str(tmp_path / "web.ctl")))
    assert chosen.control_socket == str(tmp_path / "web.ctl") and chosen.control_socket_disable is False
    assert _as_gunicorn_reads_it(_conf(monkeypatch, GUNICORN_CONTROL_SOCKET="off")).control_socket_disable is True


def test_a_running_gunicorn_listens_on_its_private_control_socket(tmp_path):
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    control = tmp_path / "run" / "web.ctl"
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", "GUNICORN_CONTROL_SOCKET": str(control),
           "GUNICORN_ACCESS_LOG": str(tmp_path / "access.log"), "DJANGO_DEBUG": "1", "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen([str(gunicorn), "config.wsgi", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not control.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.1)
        assert control.exists(), server.stderr.read().decode()[-2000:] if server.poll() is not None else "no socket"
        assert control.stat().st_mode & 0o777 == 0o600 and control.parent.stat().st_mode & 0o777 == 0o700
    finally:
        server.terminate()
        server.wait(timeout=30)

"""The production shape on loopback, for ``make loadtest`` and ``make drills``.

PostgreSQL and Redis (started if down), a fresh PostgreSQL database, gunicorn with several workers
and a Celery worker, all on 127.0.0.1; everything started here is stopped by ``Stack.close()``.
Run with the project's ``.venv`` Python from the repository root.
"""

# ruff: noqa: S603, S607 (fixed local commands: pg_ctlcluster, redis, gunicorn, celery, locust)

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
VENV_BIN = ROOT / ".venv" / "bin"
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"
REDIS_URL = "redis://127.0.0.1:6379/13"  # this project's load tests and drills use Redis db 13


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ok(command: list[str]) -> bool:
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _wait(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


def postgres_cluster() -> str:
    """The Debian cluster version serving port 5432 (e.g. '15')."""
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions:
        raise RuntimeError("no PostgreSQL cluster under /etc/postgresql: apt-get install postgresql")
    return versions[-1]


def postgres_ready() -> bool:
    return _ok(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"])


def redis_ready() -> bool:
    return _ok(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"])


class Stack:
    """Services and servers for one load test or drill run; use as a context manager."""

    def __init__(self, *, database: str, workers: int = 4, extra_env: dict[str, str] | None = None):
        self.database = database
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.started_services: list[str] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_USE_TLS": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "BENCHMARK_ENDPOINT_HOSTS": "127.0.0.1",  # the stand-in LLM servers run here
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": PG_URL.format(name=database),
            "CELERY_BROKER_URL": REDIS_URL,
            "REDIS_CACHE_URL": REDIS_URL,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_ACCESS_LOG": str(VAR / f"{database}-access.log"),
            **(extra_env or {}),
        }

    # --- services ---

    def ensure_services(self) -> None:
        if not postgres_ready():
            log("PostgreSQL is down: starting it")
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", postgres_cluster(), "main", "start"], check=True)
            self.started_services.append("postgresql")
            _wait(postgres_ready, "PostgreSQL")
        if not redis_ready():
            log("Redis is down: starting it")
            subprocess.run(
                ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no"],
                check=True,
            )
            self.started_services.append("redis")
            _wait(redis_ready, "Redis")
        subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=True, capture_output=True)

    def fresh_database(self) -> None:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def manage(self, *args: str) -> None:
        subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL)

    def setup_django(self) -> None:
        """Configure Django in this process against the stack's database (for seeding and checks)."""
        for key in ("DJANGO_SETTINGS_MODULE", "DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DJANGO_USE_TLS", "DJANGO_ALLOWED_HOSTS",
                    "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_CACHE_URL", "DJANGO_LOG_LEVEL"):
            os.environ[key] = self.env[key]
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    # --- servers ---

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        out = open(VAR / f"{self.database}-{name}.log", "w")  # noqa: SIM115 (kept open for the child's lifetime)
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start_web(self) -> None:
        Path(self.env["GUNICORN_ACCESS_LOG"]).unlink(missing_ok=True)
        self._spawn("gunicorn", [str(VENV_BIN / "gunicorn"), "config.wsgi", "-c", "gunicorn.conf.py"])
        _wait(self.healthy, "gunicorn", timeout=60)
        log(f"gunicorn: {self.workers} workers on {self.base_url}")

    def warm_up(self, paths: list[str]) -> None:
        """Send a few concurrent requests so every gunicorn worker has imported its views and templates.

        Django imports the URLconf and compiles templates on a worker's first request; a real launch
        meets warm workers (researchers open the preview first), so the load test does too.
        """
        from concurrent.futures import ThreadPoolExecutor

        def fetch(path: str) -> None:
            httpx.get(self.base_url + path, timeout=30)

        with ThreadPoolExecutor(max_workers=self.workers * 2) as pool:
            list(pool.map(fetch, paths * self.workers * 4))

    def start_worker(self, concurrency: int = 1) -> None:
        self._spawn(
            "celery",
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
             "--without-gossip", "--without-mingle", "-n", f"{self.database}@%h"],
        )
        log("Celery worker started against Redis db 13")

    def _children(self, name: str) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.processes[name].pid)], capture_output=True, text=True, check=False).stdout
        return [int(pid) for pid in out.split()]

    def web_worker_pids(self) -> list[int]:
        """Process ids of gunicorn's worker processes (children of the master)."""
        return self._children("gunicorn")

    def worker_pool_pids(self) -> list[int]:
        """Process ids of the Celery worker's pool processes (children of the worker's main process)."""
        return self._children("celery")

    def web_cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by gunicorn's worker processes."""
        total = 0
        for pid in self.web_worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        for service in reversed(self.started_services):
            log(f"stopping {service} (this run started it)")
            if service == "postgresql":
                subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", postgres_cluster(), "main", "stop"], check=False)
            else:
                subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], check=False)

    def __enter__(self):
        VAR.mkdir(exist_ok=True)
        return self

    def __exit__(self, *exc):
        self.close()

"""Benchmark runner overhead: the whole ``manage.py run_benchmark`` command against the latency floor.

The issue-15 scenario: 520 items × 6 prompts = 3,120 requests at ``--concurrency 128`` to the local
OpenAI-compatible test server (its own process, like a real API) answering in 1 s, with 1 % of the
requests (every 100th) refused by 429 + ``Retry-After: 1`` at once, as a real rate limiter does.
Measured in the same run, each against a fresh server:

- the latency floor: requests × latency / concurrency (3,120 × 1 s / 128 = 24.4 s);
  (the bare loop and the whole command below are each run 3 times, alternated, and their medians compared);
- a bare aiohttp loop: 128 coroutines posting the same bodies and waiting out the same 429s,
  nothing else -- what the HTTP round trips alone cost on this machine;
- the whole command, as a researcher runs it (a new process: Django start-up, item-bank import,
  prompts, cache look-up, requests, parsing, storing in batches, progress bar, scoring, OUT.json),
  on a throw-away SQLite database. Its CPU is the process's own (``os.wait4``); the command also
  reports the CPU it spent while requesting (HTTP, parsing, storing, progress) per answer, and apart from it
  the CPU of the thread that prepares the scoring meanwhile (scipy import, bootstrap counts).

Goals: whole command ≤ 1.1 × the floor, ≤ 1 ms CPU per request. A second, smaller figure repeats
the whole command at 200 ms latency and concurrency 32 (the other case the issue measured).
Run alone: ``python -m bench runner``.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_ITEMS = 520
PROMPTS = 6
REQUESTS = N_ITEMS * PROMPTS
LATENCY = 1.0
CONCURRENCY = 128
RATE_LIMIT_EVERY = 100
RETRY_AFTER = "1"
SMALL_LATENCY, SMALL_CONCURRENCY = 0.2, 32
REPEATS = 3  # the bare loop and the whole command, each the median of this many runs (process start-up is noisy here)
GOAL_RATIO = 1.1
GOAL_CPU_MS = 1.0
ROOT = Path(__file__).resolve().parent.parent


class _Server:
    """The stand-in server in its own process; its first line names the address."""

    def __init__(self, latency: float):
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", "benchmark.providers.testserver", "--port", "0", "--latency", str(latency),
             "--rate-limit-every", str(RATE_LIMIT_EVERY), "--retry-after", RETRY_AFTER, "--immediate-rejections"],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )
        self.base_url = self.process.stdout.readline().split()[2]

    def counts(self) -> dict:
        import urllib.request

        with urllib.request.urlopen(self.base_url.removesuffix("/v1") + "/stats", timeout=10) as response:  # noqa: S310
            return json.load(response)

    def __enter__(self) -> "_Server":
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _bodies() -> list[dict]:
    return [{"model": "bench-model", "temperature": 0.0, "max_tokens": 64,
             "messages": [{"role": "user", "content": f"Rate statement {index} on the six-point scale."}]}
            for index in range(REQUESTS)]


def _bare_aiohttp_loop(base_url: str) -> tuple[float, float]:
    """Wall and CPU seconds of the bare loop: post every body, wait out 429s, decode the JSON."""
    import aiohttp

    async def run() -> None:
        todo = _bodies()
        url = base_url + "/chat/completions"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
            async def worker() -> None:
                while todo:
                    body = todo.pop()
                    while True:
                        async with session.post(url, json=body) as response:
                            payload = json.loads(await response.read())
                            if response.status == 429:
                                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                                continue
                            payload["choices"][0]["message"]["content"]
                            break

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))

    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - wall, time.process_time() - cpu


def _environment(database: Path) -> dict:
    return {**os.environ, "DJANGO_DEBUG": "1", "DATABASE_URL": f"sqlite:///{database}", "CELERY_BROKER_URL": "",
            "BENCHMARK_ENDPOINT_HOSTS": "127.0.0.1", "DJANGO_SETTINGS_MODULE": "config.settings.base"}


def _whole_command(base_url: str, *, bank: Path, database: Path, model: str, concurrency: int) -> dict:
    """Run ``manage.py run_benchmark`` in a new process; its wall time, CPU (own rusage) and summary line."""
    out = database.parent / f"{model}.json"
    command = [sys.executable, "manage.py", "run_benchmark", "--items", str(bank), "--provider", "openai",
               "--base-url", base_url, "--model", model, "--concurrency", str(concurrency), "--out", str(out)]
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=_environment(database),  # noqa: S603 - fixed arguments
                                   stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        log = stderr.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise SystemExit(f"run_benchmark failed ({process.returncode}):\n{log[-2000:]}")
    summary = next(line for line in log.splitlines() if "answers from the cache" in line)
    per_answer = re.search(r"([\d.]+) ms CPU per answer", summary)
    requesting = re.search(r"requested in ([\d.]+) s", summary)
    preparing = re.search(r"([\d.]+) s CPU preparing the scoring", summary)
    document = json.loads(out.read_text())
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "summary": summary.strip(),
            "request_cpu_ms": float(per_answer.group(1)) if per_answer else float("nan"),
            "requesting": float(requesting.group(1)) if requesting else float("nan"),
            "preparing_cpu": float(preparing.group(1)) if preparing else 0.0,
            "answered": document["parse"]["answered"], "status": document["status"]}


def main() -> None:
    from benchmark.synthetic import synthetic_items, write_itembank

    floor = REQUESTS * LATENCY / CONCURRENCY
    small_floor = REQUESTS * SMALL_LATENCY / SMALL_CONCURRENCY
    with tempfile.TemporaryDirectory() as tmp:
        bank = write_itembank(Path(tmp) / "bench-runner.jsonl", synthetic_items(N_ITEMS, seed=1))
        database = Path(tmp) / "bench.sqlite3"
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,  # noqa: S603
                       env=_environment(database), check=True)
        bares, wholes = [], []
        for repeat in range(REPEATS):  # alternated, each against a fresh server; the medians are compared
            with _Server(LATENCY) as server:
                bares.append((*_bare_aiohttp_loop(server.base_url), server.counts()))
            with _Server(LATENCY) as server:
                whole = _whole_command(server.base_url, bank=bank, database=database, model=f"bench-model-{repeat}",
                                       concurrency=CONCURRENCY)
                wholes.append({**whole, "counts": server.counts()})
        bare_wall, bare_cpu, bare_counts = sorted(bares, key=lambda bare: bare[0])[REPEATS // 2]
        whole = sorted(wholes, key=lambda run: run["wall"])[REPEATS // 2]
        counts = whole["counts"]
        with _Server(SMALL_LATENCY) as server:
            small = _whole_command(server.base_url, bank=bank, database=database, model="bench-model-small",
                                   concurrency=SMALL_CONCURRENCY)

    complete = all(run["status"] == "completed" and run["answered"] == REQUESTS for run in wholes)
    ratio = whole["wall"] / floor
    cpu_ms = whole["cpu"] / REQUESTS * 1000
    print(f"{REQUESTS} requests at concurrency {CONCURRENCY}, server latency {LATENCY * 1000:.0f} ms, "
          f"429 + Retry-After: {RETRY_AFTER} at once for every {RATE_LIMIT_EVERY}th request")
    print(f"latency floor {floor:.2f} s (requests × latency / concurrency)")
    bare_runs = ", ".join(f"{bare[0]:.2f}" for bare in bares)
    whole_runs = ", ".join(f"{run['wall']:.2f}" for run in wholes)
    print(f"each the median of {REPEATS} runs, alternated: bare loop {bare_runs} s; whole command {whole_runs} s")
    print(f"bare aiohttp loop   {bare_wall:6.2f} s = {bare_wall / floor:.2f} × floor, "
          f"{bare_cpu / REQUESTS * 1000:.2f} ms CPU per request ({bare_counts.get('429', 0)} rate-limited)")
    print(f"whole run_benchmark {whole['wall']:6.2f} s = {ratio:.2f} × floor = {whole['wall'] / bare_wall:.2f} × the bare "
          f"loop ({counts.get('429', 0)} rate-limited; {whole['answered']}/{REQUESTS} answers, {whole['status']})")
    print(f"  CPU: whole process {whole['cpu']:.2f} s = {cpu_ms:.2f} ms per request (start-up, import, scoring and "
          f"OUT.json included); while requesting {whole['request_cpu_ms']:.2f} ms per request "
          f"= {whole['request_cpu_ms'] / (bare_cpu / REQUESTS * 1000):.1f} × the bare loop's (besides "
          f"{whole['preparing_cpu']:.1f} s in the thread preparing the scoring meanwhile)")
    print(f"  of which requesting (runner, parsing, storing, progress) {whole['requesting']:.2f} s = "
          f"{whole['requesting'] / floor:.2f} × floor = {whole['requesting'] / bare_wall:.2f} × the bare loop; the rest is "
          f"start-up, item-bank import, prompts and cache look-up before, scoring and OUT.json after")
    print(f"  {whole['summary']}")
    print(f"at {SMALL_LATENCY * 1000:.0f} ms / concurrency {SMALL_CONCURRENCY}: whole run_benchmark {small['wall']:.2f} s = "
          f"{small['wall'] / small_floor:.2f} × its floor {small_floor:.2f} s, requesting {small['requesting']:.2f} s = "
          f"{small['requesting'] / small_floor:.2f} ×; {small['request_cpu_ms']:.2f} ms CPU per request while requesting")
    ok = complete and ratio <= GOAL_RATIO and whole["request_cpu_ms"] <= GOAL_CPU_MS
    print(f"goal: whole command <= {GOAL_RATIO} × floor and <= {GOAL_CPU_MS:g} ms CPU per request (HTTP, parsing, "
          f"storing, progress): {ratio:.2f} ×, {whole['request_cpu_ms']:.2f} ms -> {'OK' if ok else 'MISSED'}")

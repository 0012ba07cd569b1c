"""``make loadtest``: a Prolific launch against the production shape on this machine, with figures.

Starts PostgreSQL and Redis if they are down, creates a fresh database ``loadtest_vp``, migrates,
seeds a load study (15 item groups of 12 queries x 3 responses, as in the paper: 520 items, about 35
per participant), serves it with gunicorn (``gunicorn.conf.py``, DEBUG off, a generated secret key)
and a Celery worker on Redis, runs Locust headless (``loadtest/locustfile.py``), then checks the
database against what every simulated participant submitted. Writes ``var/loadtest-report.json``,
prints the figures and exits 1 if the goal (p95 < 200 ms, 0 errors, 0 lost or duplicated answers,
0 double assignments, fill spread <= 1) is missed. Stops everything it started.

    .venv/bin/python loadtest/run.py --users 300 --ramp 60

``--mixed`` (``make loadtest SCENARIO=mixed``) is issue 15's scenario: 500 participants arriving within
2 minutes while 10 anonymous clients loop over the results pages (the published results loaded, each
client from its own address); the goal applies to the participants' pages, the visitors' rows are
reported beside them, and the report goes to ``docs/measurements/loadtest-mixed-DATE.json``.
"""

# ruff: noqa: S603, S607 (fixed local commands: pg_ctlcluster, redis, gunicorn, celery, locust)

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtest.stack import ROOT, VAR, Stack, log  # noqa: E402

LOCUST = ROOT / ".venv-load" / "bin" / "locust"
STUDY_SLUG = "loadtest"
GROUPS, QUERIES_PER_GROUP, RESPONSES_PER_QUERY = 15, 12, 3
GOAL_P95_MS = 200
# All simulated participants come from 127.0.0.1, so the per-address entry-link limit and caps are lifted for the run.
LOAD_ENV = {"ENTRY_RATE_LIMIT": "100000/60", "UNCONSENTED_PER_ADDRESS": "100000", "PLACES_PER_ADDRESS": "100000"}
# The results visitors each send their own X-Forwarded-For, so each gets the results rate limit of one address.
MIXED_ENV = {"TRUSTED_PROXY_HOPS": "1"}
RESULTS_PAGES = ["/results/", "/results/compare/", "/results/alignment/", "/results/items/",
                 "/results/?dimensions=Benevolence,Universalism&aggregate=rawlsian"]
RESULTS_ROW_PREFIX = "results"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=int(os.environ.get("USERS") or 300), help="participants (default 300, env USERS)")
    parser.add_argument("--ramp", type=float, default=float(os.environ.get("RAMP") or 60), help="seconds over which they arrive (default 60, env RAMP)")
    parser.add_argument("--think", type=float, default=float(os.environ.get("THINK") or 7.0),
                        help="mean think time per page in seconds; item pages take 3x, so a participant needs about "
                             "41x this for the survey (default 7: about 5 minutes, a 4x compressed 20-minute survey; env THINK)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS") or 4), help="gunicorn workers (default 4, env WORKERS)")
    parser.add_argument("--max-minutes", type=float, default=10, help="hard limit on the Locust run (default 10)")
    parser.add_argument("--report", type=Path, default=None,
                        help="JSON report path (default var/loadtest-report.json; docs/measurements/loadtest-mixed-DATE.json with --mixed)")
    parser.add_argument("--mixed", action="store_true", default=os.environ.get("SCENARIO") == "mixed",
                        help="issue 15's mixed scenario: defaults to 500 participants over 120 s and 10 results clients (env SCENARIO=mixed)")
    parser.add_argument("--results-clients", type=int, default=None,
                        help="anonymous clients looping over the results pages (default 0, 10 with --mixed; env RESULTS_CLIENTS)")
    args = parser.parse_args()
    explicit = set(sys.argv[1:])
    if args.mixed:
        if "--users" not in explicit and not os.environ.get("USERS"):
            args.users = 500
        if "--ramp" not in explicit and not os.environ.get("RAMP"):
            args.ramp = 120
    if args.results_clients is None:
        args.results_clients = int(os.environ.get("RESULTS_CLIENTS") or (10 if args.mixed else 0))
    if args.report is None:
        day = time.strftime("%Y-%m-%d", time.gmtime())
        args.report = ROOT / "docs" / "measurements" / f"loadtest-mixed-{day}.json" if args.mixed else VAR / "loadtest-report.json"
    return args


def seed_load_study(users: int) -> None:
    """A live study with enough item groups that every group keeps a free place for the whole run."""
    from surveys.importing import items_import, validate_rows
    from surveys.models import Study

    study = Study.objects.create(
        slug=STUDY_SLUG,
        title="Load test: how similar are these responses to your own thoughts?",
        status=Study.Status.LIVE,
        consent_text="A simulated launch. Do you agree to take part?",
        completion_code="LOAD-OK",
        failed_checks_code="LOAD-FAIL",
        no_consent_code="LOAD-NOCONSENT",
        target_raters_per_item=max(46, users // GROUPS + 2),
    )
    rows = []
    for g in range(GROUPS):
        for q in range(QUERIES_PER_GROUP):
            query = f"Group {g + 1}, question {q + 1}: what should I do when a friend asks me for a large favour? " * 3
            for r in range(RESPONSES_PER_QUERY):
                rows.append({"item_id": f"load-{g:02d}-{q:02d}-{r}", "group": f"G{g + 1:02d}", "source": "loadtest",
                             "title": f"Question {q + 1}", "query": query, "response": f"Response {r + 1}: " + "Think it over kindly. " * 8})
    items_import(study=study, rows=validate_rows(study=study, rows=list(enumerate(rows, start=2)), filename="loadtest"))


def read_locust_stats(prefix: Path) -> tuple[list[dict], dict]:
    per_type, total = [], {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            entry = {
                "type": row["Type"],
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "requests_per_second": round(float(row["Requests/s"]), 1),
                "p50_ms": float(row["50%"]),
                "p95_ms": float(row["95%"]),
                "p99_ms": float(row["99%"]),
                "max_ms": round(float(row["Max Response Time"]), 1),
            }
            if row["Name"] == "Aggregated":
                total = entry
            else:
                per_type.append(entry)
    return per_type, total


def read_failures(prefix: Path) -> list[dict]:
    with open(f"{prefix}_failures.csv", newline="") as handle:
        return [{"request": f"{r['Method']} {r['Name']}", "error": r["Error"][:300], "count": int(r["Occurrences"])} for r in csv.DictReader(handle)]


def server_side_latency(access_log: Path) -> dict:
    """Percentiles of gunicorn's own request time (the access log's last field, e.g. '42ms')."""
    times = sorted(int(line.rsplit(" ", 1)[-1].removesuffix("ms\n").removesuffix("ms")) for line in access_log.open() if line.rstrip().endswith("ms"))
    if not times:
        return {}
    def pick(q: float) -> int:
        return times[min(len(times) - 1, int(q * len(times)))]

    return {"requests": len(times), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "p99_ms": pick(0.99), "max_ms": times[-1]}


def print_report(report: dict) -> None:
    print()
    print(f"{report['settings']['users']} participants over {report['settings']['ramp_seconds']:.0f} s, think {report['settings']['think_seconds']} s, "
          f"{report['duration_seconds']} s; web CPU {report['web_cpu_ms_per_request']} ms/request; "
          f"load average {report['load_average_1min']['before']} -> {report['load_average_1min']['after']}")
    print(f"{'request':<28}{'count':>8}{'fail':>6}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>8}  (ms)")
    for row in [*report["requests"], report["total"]]:
        print(f"{row['name'] if row['name'] != 'Aggregated' else 'ALL':<28}{row['requests']:>8}{row['failures']:>6}{row['requests_per_second']:>8}"
              f"{row['p50_ms']:>7.0f}{row['p95_ms']:>7.0f}{row['p99_ms']:>7.0f}{row['max_ms']:>8.0f}")
    server = report["server_side_latency"]
    if server:
        print(f"{'server side (gunicorn)':<28}{server['requests']:>8}{'':>14}{server['p50_ms']:>7}{server['p95_ms']:>7}{server['p99_ms']:>7}{server['max_ms']:>8}")
    for failure in report["failures"]:
        print(f"  failure x{failure['count']}: {failure['request']}: {failure['error']}")
    print()
    for key, value in report["database"].items():
        print(f"  {key}: {value}")
    print()
    for line in report["goal"]["missed"] or ["goal met: " + report["goal"]["text"]]:
        print(("GOAL MISSED: " if report["goal"]["missed"] else "") + line)


def evaluate(total: dict, per_type: list[dict], database: dict, *, visitors: bool = False) -> dict:
    """The goal on the participants' requests (with visitors, their rows are reported but not judged)."""
    missed = []
    participants = [row for row in per_type if not row["name"].startswith(RESULTS_ROW_PREFIX)]
    slow = [row for row in participants if row["p95_ms"] >= GOAL_P95_MS]
    failures = sum(row["failures"] for row in participants) if visitors else total["failures"]
    if (not visitors and total["p95_ms"] >= GOAL_P95_MS) or slow:
        missed.append(f"p95 {total['p95_ms']:.0f} ms overall; >= {GOAL_P95_MS} ms: " + ", ".join(f"{r['name']} {r['p95_ms']:.0f}" for r in slow))
    if failures:
        missed.append(f"{failures} failed requests")
    for key in ("lost_answers", "changed_answers", "duplicated_answers", "unexpected_answers", "participants_missing", "participants_assigned_twice"):
        if database[key]:
            missed.append(f"{key}: {database[key]}")
    if database["spread"] > 1:
        missed.append(f"group fill spread {database['spread']} > 1")
    if database["participants_completed_client_side"] != database["participants_simulated"]:
        missed.append(f"only {database['participants_completed_client_side']} of {database['participants_simulated']} participants reached the completion page")
    text = f"p95 < {GOAL_P95_MS} ms for every participant page type, 0 errors, 0 lost/changed/duplicated answers, 0 double assignments, spread <= 1"
    return {"text": text, "met": not missed, "missed": missed}


def main() -> int:
    args = parse_args()
    if not LOCUST.exists():
        print(f"{LOCUST} is missing: run `make loadtest` (it installs requirements-load.txt into .venv-load)", file=sys.stderr)
        return 2
    prefix = VAR / "loadtest"
    records = VAR / "loadtest-records.jsonl"
    extra_env = {**LOAD_ENV, **(MIXED_ENV if args.results_clients else {})}
    with Stack(database="loadtest_vp", workers=args.workers, extra_env=extra_env) as stack:
        stack.ensure_services()
        stack.fresh_database()
        log("fresh database loadtest_vp: migrating")
        stack.manage("migrate", "--noinput")
        stack.manage("collectstatic", "--noinput")
        stack.setup_django()
        seed_load_study(args.users)
        if args.results_clients:
            stack.manage("load_published_results")
        from django.db import connections

        connections.close_all()
        log(f"seeded study '{STUDY_SLUG}': {GROUPS} groups x {QUERIES_PER_GROUP} queries x {RESPONSES_PER_QUERY} responses")
        stack.start_web()
        stack.warm_up([f"/s/{STUDY_SLUG}/", "/", "/static/css/site.css", *(RESULTS_PAGES if args.results_clients else [])])
        stack.start_worker()
        records.unlink(missing_ok=True)
        env = {**stack.env, "LOADTEST_STUDY": STUDY_SLUG, "LOADTEST_USERS": str(args.users), "LOADTEST_THINK": str(args.think),
               "LOADTEST_RECORDS": str(records), "LOADTEST_RESULTS_CLIENTS": str(args.results_clients),
               "LOADTEST_RESULTS_PAGES": ",".join(RESULTS_PAGES)}
        spawn_rate = max((args.users + args.results_clients) / args.ramp, 0.1)
        command = [str(LOCUST), "-f", "loadtest/locustfile.py", "--headless", "--host", stack.base_url, "-u", str(args.users + args.results_clients),
                   "-r", f"{spawn_rate:.3f}", "--run-time", f"{int(args.max_minutes * 60)}s", "--stop-timeout", "30",
                   "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
        log(f"Locust: {args.users} participants arriving over {args.ramp:.0f} s ({spawn_rate:.1f}/s), think time {args.think} s"
            + (f", {args.results_clients} results clients looping" if args.results_clients else ""))
        load_before, cpu_before = os.getloadavg()[0], stack.web_cpu_seconds()
        started = time.monotonic()
        subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL, stderr=open(VAR / "loadtest-locust.log", "w"))  # noqa: SIM115
        duration = time.monotonic() - started
        web_cpu = stack.web_cpu_seconds() - cpu_before
        load_after = os.getloadavg()[0]

        from surveys.models import Study
        from surveys.tasks import expire_reservations

        expired = expire_reservations.delay().get(timeout=60)
        log(f"Celery worker ran surveys.tasks.expire_reservations: {expired} reservations expired")
        from loadtest.checks import check_study

        lines = records.read_text().splitlines() if records.exists() else []
        database = check_study(study=Study.objects.get(slug=STUDY_SLUG), records=[json.loads(line) for line in lines])
    per_type, total = read_locust_stats(prefix)
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {"users": args.users, "ramp_seconds": args.ramp, "results_clients": args.results_clients, "think_seconds": args.think, "gunicorn_workers": args.workers,
                     "celery_workers": 1, "database": "PostgreSQL", "broker": "Redis"},
        "duration_seconds": round(duration, 1),
        # CPU the web workers spent per request, and the machine's load (other processes share the cores).
        "web_cpu_ms_per_request": round(1000 * web_cpu / max(total.get("requests", 0), 1), 2),
        "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "requests": sorted(per_type, key=lambda r: r["name"]),
        "total": total,
        "server_side_latency": server_side_latency(VAR / "loadtest_vp-access.log"),
        "failures": read_failures(prefix),
        "database": database,
    }
    report["goal"] = evaluate(total, per_type, database, visitors=bool(args.results_clients))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    log(f"report written to {args.report}")
    return 0 if report["goal"]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""``make drills``: real faults against the production shape on loopback, with checks afterwards.

1. web: gunicorn workers are killed (SIGKILL) while participants are mid-survey. Every participant
   resumes on the page the server shows and finishes; the database holds every committed answer once.
2. celery: the Celery pool process running a benchmark run is killed mid-task, then the whole worker.
   The task is re-delivered (late acknowledgement), the run completes once, answers come from the
   completion cache, no duplicate rows, one set of scores.
3. database: PostgreSQL is restarted while participants are mid-survey. Requests in flight get the
   friendly 503 page, later ones succeed, nothing half-written. (Restarts the machine's PostgreSQL
   cluster for a few seconds: other users of it see their connections drop.)

The LLM API being down or answering garbage is covered by tests/hardening/test_llm_faults.py.

    .venv/bin/python loadtest/drills.py [web] [celery] [database]
"""

# ruff: noqa: S603, S607 (fixed local commands: pg_ctlcluster, pgrep, gunicorn, celery)

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtest.stack import VAR, Stack, log, postgres_cluster, postgres_ready  # noqa: E402

DATABASE = "h_hardening_drills"
SLUG = "drill"
PARTICIPANTS = 24
INTEGRITY_KEYS = ("lost_answers", "changed_answers", "duplicated_answers", "unexpected_answers",
                  "participants_missing", "participants_assigned_twice")


def seed_study() -> None:
    from surveys.importing import items_import, validate_rows
    from surveys.models import Study

    Study.objects.filter(slug=SLUG).delete()
    study = Study.objects.create(slug=SLUG, title="Drill", status=Study.Status.LIVE, consent_text="Agree?",
                                 completion_code="DRILL-OK", target_raters_per_item=100)
    rows = [{"item_id": f"d-{g}-{q}-{r}", "group": f"G{g}", "source": "", "title": "", "query": f"Question {g}.{q}?",
             "response": f"Response {r}."} for g in range(4) for q in range(6) for r in range(3)]
    items_import(study=study, rows=validate_rows(study=study, rows=list(enumerate(rows, start=2)), filename="drill"))


def run_participants(stack: Stack, *, think: float, prefix: str) -> tuple[list[dict], list[str]]:
    from loadtest.participant import SurveyParticipant

    def one(n: int) -> dict:
        return SurveyParticipant(stack.base_url, SLUG, f"{prefix}{n:023x}", think=think, seed=n).run()

    errors, records = [], []
    with ThreadPoolExecutor(max_workers=PARTICIPANTS) as pool:
        for future in [pool.submit(one, n) for n in range(PARTICIPANTS)]:
            try:
                records.append(future.result())
            except Exception as error:  # reported as a drill failure below
                errors.append(str(error))
    return records, errors


def survey_integrity(records: list[dict], errors: list[str]) -> dict:
    from django.db import connections

    from loadtest.checks import check_study
    from surveys.models import Study

    connections.close_all()  # the database may have restarted under this process too
    result = check_study(study=Study.objects.get(slug=SLUG), records=records)
    result = {key: result[key] for key in (*INTEGRITY_KEYS, "participants_simulated", "participants_completed_client_side", "answers_stored")}
    result["participant_errors"] = errors
    statuses: dict = {}
    for record in records:
        for status, count in record["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    result["responses_seen"] = statuses
    result["passed"] = not errors and not any(result[key] for key in INTEGRITY_KEYS) and (
        result["participants_completed_client_side"] == PARTICIPANTS
    )
    return result


def drill_web(stack: Stack) -> dict:
    """SIGKILL every gunicorn worker, three times, while participants answer pages."""
    from surveys.models import Participant

    Participant.objects.filter(study__slug=SLUG).delete()
    stop = threading.Event()
    kills = []

    def killer():
        for _ in range(3):
            if stop.wait(4.0):
                return
            for pid in stack.web_worker_pids():
                os.kill(pid, signal.SIGKILL)
                kills.append(pid)
            log(f"web drill: killed gunicorn workers ({len(kills)} so far); the master starts new ones")

    thread = threading.Thread(target=killer)
    thread.start()
    records, errors = run_participants(stack, think=0.1, prefix="a")
    stop.set()
    thread.join()
    result = survey_integrity(records, errors)
    result["workers_killed"] = len(kills)
    result["passed"] = result["passed"] and len(kills) > 0
    return result


def drill_database(stack: Stack) -> dict:
    """Restart PostgreSQL while participants answer pages."""
    from surveys.models import Participant

    Participant.objects.filter(study__slug=SLUG).delete()
    restarted = threading.Event()

    def restarter():
        time.sleep(4.0)
        log("database drill: restarting PostgreSQL")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", postgres_cluster(), "main", "restart", "-m", "fast"], check=True)
        while not postgres_ready():
            time.sleep(0.2)
        restarted.set()
        log("database drill: PostgreSQL is back")

    thread = threading.Thread(target=restarter)
    thread.start()
    records, errors = run_participants(stack, think=0.4, prefix="b")
    thread.join()
    result = survey_integrity(records, errors)
    result["restarted"] = restarted.is_set()
    seen = result["responses_seen"]
    # Requests during the restart must get the friendly page (or wait for a connection), never a bare error.
    result["passed"] = result["passed"] and restarted.is_set() and not any(k for k in seen if k.startswith("5") and k != "503 friendly page")
    return result


def drill_celery(stack: Stack) -> dict:
    """Kill the pool process mid-run, then the whole worker; the run must still complete exactly once."""
    from django.db.models import Count

    from benchmark.models import Answer, Run, Score
    from benchmark.providers.testserver import LLMTestServer, ServerBehaviour
    from benchmark.services import itembank_import, run_create
    from benchmark.synthetic import synthetic_items, write_itembank
    from benchmark.tasks import run_benchmark_task

    server = LLMTestServer(ServerBehaviour(latency=0.05)).start()
    try:
        bank = itembank_import(path=write_itembank(VAR / "drill-bank.jsonl", synthetic_items(40, seed=5)), name=f"drill-{time.time_ns()}")
        run = run_create(bank=bank, provider="openai", model="drill", base_url=server.base_url, settings={"concurrency": 2})
        run_benchmark_task.delay(run.pk)
        events = []

        def wait_for(predicate, what: str, timeout: float = 180.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                run.refresh_from_db()
                if predicate(run):
                    return
                time.sleep(0.3)
            raise RuntimeError(f"celery drill: {what} did not happen within {timeout:.0f} s (run {run.status}, {run.progress_done}/{run.progress_total})")

        wait_for(lambda r: r.progress_done >= 24, "first answers")
        children = stack.worker_pool_pids()
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        events.append(f"killed the pool process at {run.progress_done}/{run.progress_total}")
        log(f"celery drill: {events[-1]}")
        progress = run.progress_done
        wait_for(lambda r: r.progress_done > progress + 24, "progress after the pool kill")
        stack.stop("celery", signal.SIGKILL)
        events.append(f"killed the whole worker at {run.progress_done}/{run.progress_total}; starting a new one")
        log(f"celery drill: {events[-1]}")
        stack.start_worker()
        wait_for(lambda r: r.status == Run.Status.COMPLETED, "completion", timeout=240)
        duplicates = Answer.objects.filter(run=run).values("item_id", "prompt_index").annotate(n=Count("id")).filter(n__gt=1).count()
        answers = Answer.objects.filter(run=run).count()
        scores = Score.objects.filter(run=run).values("family", "dimension").annotate(n=Count("id"))
        result = {
            "events": events,
            "run_status": run.status,
            "answers": answers,
            "expected_answers": run.progress_total,
            "duplicate_answers": duplicates,
            "score_rows": sum(row["n"] for row in scores),
            "scored_dimensions": len(scores),
            "requests_to_llm": server.counts["answered"],
        }
        result["passed"] = (run.status == Run.Status.COMPLETED and answers == run.progress_total and not duplicates
                            and all(row["n"] == 1 for row in scores) and len(scores) > 0)
        return result
    finally:
        server.stop()


DRILLS = {"web": drill_web, "celery": drill_celery, "database": drill_database}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("drills", nargs="*", metavar="DRILL", help=f"which drills: {', '.join(DRILLS)} (default: all)")
    parser.add_argument("--report", type=Path, default=VAR / "drills-report.json", help="JSON report path")
    args = parser.parse_args()
    unknown = [name for name in args.drills if name not in DRILLS]
    if unknown:
        parser.error(f"unknown drill {unknown[0]!r}: choose from {', '.join(DRILLS)}")
    # A whole worker killed mid-task is re-delivered once Redis's visibility timeout passes.
    env = {"ENTRY_RATE_LIMIT": "100000/60", "UNCONSENTED_PER_ADDRESS": "100000", "PLACES_PER_ADDRESS": "100000",
           "CELERY_VISIBILITY_TIMEOUT": "15"}
    results = {}
    with Stack(database=DATABASE, workers=3, extra_env=env) as stack:
        stack.ensure_services()
        stack.fresh_database()
        stack.manage("migrate", "--noinput")
        stack.manage("collectstatic", "--noinput")
        stack.setup_django()
        seed_study()
        from django.db import connections

        connections.close_all()
        stack.start_web()
        stack.start_worker()
        for name in args.drills or list(DRILLS):
            log(f"drill: {name}")
            try:
                results[name] = DRILLS[name](stack)
            except Exception as error:
                results[name] = {"passed": False, "error": f"{type(error).__name__}: {error}"}
            log(f"drill {name}: {'PASSED' if results[name]['passed'] else 'FAILED'} {json.dumps(results[name])}")
    args.report.write_text(json.dumps(results, indent=2) + "\n")
    log(f"report written to {args.report}")
    return 0 if all(result["passed"] for result in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

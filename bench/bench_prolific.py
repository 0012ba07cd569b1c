"""Prolific operations on a 2,000-participant study against the local fake Prolific.

Baseline, measured in the same run: fetching every submission over HTTP (10 pages of 200) with no
database work. Reported: a first reconcile (creates 2,000 rows, frees places), a second reconcile
(nothing changed: the steady state of a button press), building the review plan, and sending the
review (2 bulk approvals, 200 rejections, 100 return requests, then a confirming reconcile).
The goal is a steady-state reconcile within 3x the bare fetch. Run alone: ``python -m bench prolific``.
"""

import time

from bench.scratch import scratch_database

N = 2000
GOAL = 3.0


def main() -> None:
    import logging

    # The client logs every request at INFO (hundreds here): the figures, not the log, are the output.
    client_log = logging.getLogger("prolific.client")
    level = client_log.level
    client_log.setLevel(logging.WARNING)
    try:
        with scratch_database():
            _measure()
    finally:
        client_log.setLevel(level)


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _measure() -> None:
    from django.conf import settings
    from django.utils import timezone

    from prolific.client import ProlificClient
    from prolific.selectors import review_plan
    from prolific.services import prolific_settings_update, review_send, submissions_reconcile
    from prolific.testserver import FakeProlific
    from surveys.models import AttentionCheckResponse, Participant, Study

    token = "bench-token-0000"  # noqa: S105 (the local fake server's token)
    with FakeProlific(token=token, page_size=200) as fake:
        settings.PROLIFIC_API_BASE_URL = fake.url
        fake.add_study("bench-study")
        study = Study.objects.create(slug="bench-prolific", title="Bench", prolific_study_id="bench-study")
        prolific_settings_update(study=study, token=token)
        now = timezone.now()
        statuses = ["completed"] * 17 + ["failed_checks"] * 2 + ["no_consent"]
        participants = Participant.objects.bulk_create(
            Participant(
                study=study, prolific_pid=f"{i:024x}", pseudonym=f"B{i:06d}", seed=i, status=statuses[i % 20],
                arrived_at=now, expires_at=now, prolific_session_id=f"s{i:023x}",
            )  # fmt: skip
            for i in range(N)
        )
        # Failed-checks participants failed two checks: Prolific's minimum for a rejection.
        AttentionCheckResponse.objects.bulk_create(
            AttentionCheckResponse(
                participant=p, check_key=f"check-{k}", step=k, expected=3, answer=1, passed=False, answered_at=now
            )
            for p in participants
            if p.status == "failed_checks"
            for k in (1, 2)
        )
        for p in participants:
            fake.add_submission("bench-study", p.prolific_pid, submission_id=p.prolific_session_id)

        with ProlificClient(token=token, study=study) as client:
            fetch, rows = _timed(lambda: client.submissions_list("bench-study"))
        first, _ = _timed(lambda: submissions_reconcile(study=study))
        steady, _ = _timed(lambda: submissions_reconcile(study=study))
        plan_time, plan = _timed(lambda: review_plan(study=study))
        send, result = _timed(lambda: review_send(study=study))

    print(f"baseline: fetch {len(rows)} submissions over HTTP  {fetch:7.3f} s")
    print(f"first reconcile (creates rows)          {first:7.3f} s  ratio {first / fetch:5.2f}")
    print(f"steady-state reconcile (no changes)     {steady:7.3f} s  ratio {steady / fetch:5.2f}  goal <= {GOAL}")
    print(f"review plan ({len(plan.requests)} requests)            {plan_time:7.3f} s  ratio {plan_time / fetch:5.2f}")
    print(f"review send + confirming reconcile      {send:7.3f} s  ratio {send / fetch:5.2f}  sent {result.sent}")

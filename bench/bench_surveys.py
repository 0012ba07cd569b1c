"""Survey hot paths on a study that already has 2,000 participants in 20 item groups.

Baselines, measured in the same run: inserting a participant row directly (for arrival and
consent) and bulk-inserting one page's ratings plus its page row directly (for page submit).
Reported: ``participant_arrive`` (locks the study, counts places per group and the unconsented
visits against their caps, inserts), ``participant_consent`` (locks the study and the participant,
assigns the least-filled group: where a place is reserved) and ``page_submit`` of an item page
(locks the participant, rebuilds the plan, validates, stores).
Both run about seven SQL statements in one locked transaction where the baseline runs one or
two, so the goal is each within 10x its bare insert. Run alone: ``python -m bench surveys``.
"""

import time

from bench.scratch import scratch_database

N_EXISTING = 2000
N_GROUPS = 20
REPEATS = 200
GOAL = 10.0


def main() -> None:
    with scratch_database():
        _measure()


def _per_call(fn, repeats: int = REPEATS) -> float:
    started = time.perf_counter()
    for i in range(repeats):
        fn(i)
    return (time.perf_counter() - started) / repeats


def _measure() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from surveys.models import Item, ItemGroup, PageSubmission, Participant, Rating, Study
    from surveys.selectors import participant_plan
    from surveys.services import page_submit, participant_arrive, participant_consent

    now = timezone.now()
    study = Study.objects.create(slug="bench-surveys", title="Bench", status=Study.Status.LIVE, target_raters_per_item=10_000)
    groups = ItemGroup.objects.bulk_create(ItemGroup(study=study, name=f"G{g:02d}") for g in range(N_GROUPS))
    Item.objects.bulk_create(
        Item(study=study, group=group, item_id=f"{group.name}-{q}-{r}", query=f"Query {q}", response=f"Response {r}")
        for group in groups for q in range(5) for r in range(5)
    )
    Participant.objects.bulk_create(
        Participant(study=study, prolific_pid=f"{i:024x}", pseudonym=f"E{i:06d}", seed=i, group=groups[i % N_GROUPS],
                    status="completed" if i % 3 else "active", arrived_at=now, consented_at=now,
                    expires_at=now + timedelta(hours=1))
        for i in range(N_EXISTING)
    )

    def bare_insert(i):
        Participant.objects.create(study=study, prolific_pid=f"b{i:023x}", pseudonym=f"B{i:06d}", seed=i,
                                   group=groups[i % N_GROUPS], arrived_at=now, expires_at=now)

    def arrive(i):
        participant_arrive(study=study, prolific_pid=f"a{i:023x}")

    baseline_arrive = _per_call(bare_insert)
    arrive_time = _per_call(arrive)

    arrived = list(Participant.objects.filter(prolific_pid__startswith="a").order_by("id"))

    def consent(i):
        participant_consent(participant=arrived[i], consent=True)

    consent_time = _per_call(consent)

    # Participants positioned on their first item page, one per repeat.
    ready = list(Participant.objects.filter(prolific_pid__startswith="a").order_by("id"))
    Participant.objects.filter(pk__in=[p.pk for p in ready]).update(step=2)
    plans = {}
    for p in ready:
        p.step = 2
        plans[p.pk] = participant_plan(p)[2]
    others = list(Participant.objects.filter(prolific_pid__startswith="b").order_by("id"))

    def bare_page(i):
        page = plans[ready[i].pk]
        Rating.objects.bulk_create(Rating(participant=others[i], item_id=pk, rating=3, answered_at=now) for pk in page.item_ids)
        PageSubmission.objects.create(participant=others[i], step=2, page_key=page.key, submitted_at=now)

    def submit(i):
        page = plans[ready[i].pk]
        data = {"step": "2", **{f"item-{pk}": "3" for pk in page.item_ids},
                **{f"check-{c.key}": str(c.expected) for c in page.checks}}
        page_submit(participant=ready[i], step="2", data=data)

    baseline_page = _per_call(bare_page)
    submit_time = _per_call(submit)

    timings = (
        ("participant_arrive", arrive_time, baseline_arrive),
        ("participant_consent", consent_time, baseline_arrive),
        ("page_submit (item page)", submit_time, baseline_page),
    )
    for name, took, base in timings:
        ratio = took / base
        verdict = "ok" if ratio <= GOAL else f"above the {GOAL:.0f}x goal"
        print(f"{name}: {took * 1000:.2f} ms per call, {ratio:.1f}x the bare insert ({base * 1000:.2f} ms) — {verdict}")

"""Integrity checks after a load test or a drill: the database against what participants submitted.

``records`` are the JSON lines written by ``loadtest/locustfile.py`` (or a drill): per simulated
participant its PROLIFIC_PID, the participant tokens it was given and, per page, the answers the
server accepted first. Needs a configured Django (``django.setup()``).
"""

from collections import Counter, defaultdict

from django.db.models import Count, Max, Min, Q

from surveys.models import AttentionCheckResponse, InstrumentAnswer, ItemGroup, Participant, Rating, Study

INSTRUMENT_PREFIXES = {"pvq": InstrumentAnswer.Instrument.PVQ21, "bfi": InstrumentAnswer.Instrument.BFI10}


def expected_answers(record: dict) -> dict[tuple, int]:
    """Answers a record says were accepted, keyed like ``stored_answers`` keys."""
    expected: dict[tuple, int] = {}
    for page in record["pages"]:
        for field, value in page["answers"].items():
            prefix, _, rest = field.partition("-")
            if prefix == "item":
                expected[("item", int(rest))] = int(value)
            elif prefix == "check":
                expected[("check", rest)] = int(value)
            elif prefix in INSTRUMENT_PREFIXES:
                expected[(INSTRUMENT_PREFIXES[prefix], int(rest))] = int(value)
    return expected


def stored_answers(participant_ids: list[int]) -> dict[int, list[tuple[tuple, int]]]:
    """Every stored answer per participant id, as ((kind, key), value) pairs (duplicates kept)."""
    stored: dict[int, list] = defaultdict(list)
    for pid, item, value in Rating.objects.filter(participant_id__in=participant_ids).values_list("participant_id", "item_id", "rating"):
        stored[pid].append((("item", item), value))
    for pid, key, value in AttentionCheckResponse.objects.filter(participant_id__in=participant_ids).values_list(
        "participant_id", "check_key", "answer"
    ):
        stored[pid].append((("check", key), value))
    for pid, instrument, question, value in InstrumentAnswer.objects.filter(participant_id__in=participant_ids).values_list(
        "participant_id", "instrument", "question", "answer"
    ):
        stored[pid].append(((instrument, question), value))
    return stored


def group_spread(study: Study) -> dict:
    """Completed (non-preview) participants per item group: min, max and their difference."""
    rows = (
        ItemGroup.objects.filter(study=study)
        .order_by()
        .annotate(n=Count("participants", filter=Q(participants__status=Participant.Status.COMPLETED, participants__is_preview=False)))
        .aggregate(low=Min("n"), high=Max("n"))
    )
    low, high = rows["low"] or 0, rows["high"] or 0
    return {"min_per_group": low, "max_per_group": high, "spread": high - low}


def check_study(*, study: Study, records: list[dict]) -> dict:
    """Lost, changed, duplicated and unexpected answers; participants assigned twice; group spread.

    - lost: an accepted answer that is not in the database;
    - changed: stored with another value than the one accepted first (e.g. a back-button resubmit won);
    - duplicated: more than one stored row for the same participant and question;
    - unexpected: a stored answer no accepted page contained;
    - assigned twice: a PROLIFIC_PID with more than one participant row, or given two different tokens.
    """
    participants = {p.prolific_pid: p for p in Participant.objects.filter(study=study, prolific_pid__in=[r["pid"] for r in records])}
    stored = stored_answers([p.pk for p in participants.values()])
    lost = changed = duplicated = unexpected = missing_participants = 0
    for record in records:
        participant = participants.get(record["pid"])
        if participant is None:
            missing_participants += bool(record["tokens"])
            lost += len(expected_answers(record))
            continue
        rows = stored.get(participant.pk, [])
        counts = Counter(key for key, _ in rows)
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
        values = dict(rows)
        expected = expected_answers(record)
        for key, value in expected.items():
            if key not in values:
                lost += 1
            elif values[key] != value:
                changed += 1
        unexpected += sum(1 for key in counts if key not in expected)
    pid_rows = Participant.objects.filter(study=study).values("prolific_pid").annotate(n=Count("id")).filter(n__gt=1).count()
    two_tokens = sum(1 for record in records if len(set(record["tokens"])) > 1)
    statuses = Counter(Participant.objects.filter(study=study, is_preview=False).values_list("status", flat=True))
    return {
        "participants_simulated": len(records),
        "participants_completed_client_side": sum(1 for r in records if r.get("completed")),
        "participants_in_database": sum(statuses.values()),
        "participant_status": dict(sorted(statuses.items())),
        "answers_accepted": sum(len(expected_answers(r)) for r in records),
        "answers_stored": sum(len(rows) for rows in stored.values()),
        "lost_answers": lost,
        "changed_answers": changed,
        "duplicated_answers": duplicated,
        "unexpected_answers": unexpected,
        "participants_missing": missing_participants,
        "participants_assigned_twice": pid_rows + two_tokens,
        "back_button_resubmits_ignored": sum(r.get("ignored_resubmits", 0) for r in records),
        **group_spread(study),
    }

"""Read-only queries over studies and participants. Services and views call these."""

from datetime import datetime, timedelta
from statistics import median

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from surveys.models import AttentionCheckResponse, EntryEvent, Item, ItemGroup, PageDraft, Participant, Study
from surveys.plan import Page, PlanItem, build_plan, parse_check_pages


def studies_for_researcher(user) -> QuerySet[Study]:
    """The studies ``user`` may see as a researcher: their own, or every study for superusers (``is_staff`` alone
    grants nothing)."""
    if not user.is_authenticated or not user.is_active:
        return Study.objects.none()
    if user.is_superuser:
        return Study.objects.all()
    return Study.objects.filter(researchers=user)


def user_is_researcher(*, user, study: Study) -> bool:
    return studies_for_researcher(user).filter(pk=study.pk).exists()


def holds_place_q(now: datetime, prefix: str = "") -> Q:
    """Participants who hold a place in their group: completed, or consented, active and not yet expired.

    A place is taken at consent, never at arrival, so invented Prolific IDs that open the link
    hold nothing. ``prefix`` (e.g. ``"participants__"``) applies it across a relation.
    """
    status = Participant.Status
    return Q(**{f"{prefix}status": status.COMPLETED}) | Q(
        **{f"{prefix}status": status.ACTIVE, f"{prefix}consented_at__isnull": False, f"{prefix}expires_at__gt": now}
    )


def group_fill(*, study: Study, now: datetime | None = None) -> dict[int, int]:
    """Places held per item group id (every group of the study, 0 when empty). Previews never count."""
    now = now or timezone.now()
    holds = Q(participants__is_preview=False) & holds_place_q(now, "participants__")
    # order_by() drops the default ordering, which would join the study table for nothing.
    rows = ItemGroup.objects.filter(study=study).order_by().annotate(n=Count("participants", filter=holds))
    return dict(rows.values_list("id", "n"))


def open_group_fill(*, study: Study, now: datetime | None = None) -> dict[int, int]:
    """``group_fill`` restricted to the groups that have items: the groups a participant can get."""
    with_items = set(Item.objects.filter(study=study).order_by().values_list("group_id", flat=True).distinct())
    return {group: n for group, n in group_fill(study=study, now=now).items() if group in with_items}


def unconsented_visits(*, study: Study, now: datetime, address_hash: str = "") -> QuerySet[Participant]:
    """Real participants who opened the link, have not answered the consent page and have not lapsed.

    With ``address_hash``, only those who arrived from that client address.
    """
    rows = Participant.objects.filter(
        study=study, is_preview=False, status=Participant.Status.ACTIVE, consented_at__isnull=True, expires_at__gt=now
    )
    return rows.filter(address_hash=address_hash) if address_hash else rows


def places_held_from_address(*, study: Study, address_hash: str, now: datetime) -> int:
    """Consented, unfinished, unexpired real participants of ``study`` who arrived from one client address."""
    return Participant.objects.filter(
        study=study, is_preview=False, address_hash=address_hash, status=Participant.Status.ACTIVE,
        consented_at__isnull=False, expires_at__gt=now,
    ).count()


def participant_plan(participant: Participant) -> list[Page]:
    """The participant's pages, rebuilt from their seed and the items assigned at arrival."""
    items = []
    if participant.group_id is not None:
        rows = Item.objects.filter(group_id=participant.group_id).order_by()
        if participant.assigned_items:
            rows = rows.filter(pk__in=participant.assigned_items)
        items = [PlanItem(pk=pk, title=title, query=query) for pk, title, query in rows.values_list("pk", "title", "query")]
    study = participant.study
    return build_plan(
        seed=participant.seed,
        items=items,
        check_count=study.attention_check_count,
        check_pages=parse_check_pages(study.attention_check_pages),
        pvq_per_page=participant.pvq_per_page,
    )


def page_draft_answers(participant: Participant) -> dict[str, str]:
    """The answers kept for the participant's current page (``PageDraft``), empty when there are none."""
    draft = PageDraft.objects.filter(participant=participant, step=participant.step).values_list("answers", flat=True).first()
    return draft if isinstance(draft, dict) else {}


def participant_failed_checks(participant: Participant) -> int:
    return AttentionCheckResponse.objects.filter(participant=participant, passed=False).count()


def participant_is_expired(participant: Participant, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return participant.status == Participant.Status.EXPIRED or (
        participant.status == Participant.Status.ACTIVE and participant.expires_at <= now
    )


def study_dashboard(*, study: Study, now: datetime | None = None) -> dict:
    """Counts for the study dashboard and its JSON feed (previews excluded)."""
    now = now or timezone.now()
    real = Participant.objects.filter(study=study, is_preview=False)
    status = Participant.Status
    counts = real.aggregate(
        arrivals=Count("id"),
        active=Count("id", filter=Q(status=status.ACTIVE, expires_at__gt=now)),
        completed=Count("id", filter=Q(status=status.COMPLETED)),
        failed_checks=Count("id", filter=Q(status=status.FAILED_CHECKS)),
        no_consent=Count("id", filter=Q(status=status.NO_CONSENT)),
        returned=Count("id", filter=Q(status=status.RETURNED)),
        expired=Count("id", filter=Q(status=status.EXPIRED) | Q(status=status.ACTIVE, expires_at__lte=now)),
    )
    durations = [
        (done - arrived).total_seconds()
        for arrived, done in real.filter(status=status.COMPLETED, completed_at__isnull=False).values_list(
            "arrived_at", "completed_at"
        )
    ]
    fill = group_fill(study=study, now=now)
    completed_per_group = dict(
        real.filter(status=status.COMPLETED).values("group").annotate(n=Count("id")).values_list("group", "n")
    )
    groups = []
    for group in ItemGroup.objects.filter(study=study).annotate(n_items=Count("items")).order_by("name"):
        held = fill.get(group.id, 0)
        groups.append(
            {
                "name": group.name,
                "items": group.n_items,
                "completed": completed_per_group.get(group.id, 0),
                "holding_places": held,
                "target": study.target_raters_per_item,
                "percent": round(100 * held / study.target_raters_per_item, 1) if study.target_raters_per_item else None,
            }
        )
    return {
        "study": study.slug,
        "status": study.status,
        "generated_at": now.isoformat(),
        "generated_at_display": study_time(study, now),
        "time_zone": study.time_zone,
        "raters_needed": raters_needed_figure(),
        "counts": counts,
        "entry": entry_activity(study=study, now=now),
        "median_completion_seconds": median(durations) if durations else None,
        "groups": groups,
    }


ENTRY_WINDOW = timedelta(hours=1)


def study_time(study: Study, moment: datetime) -> str:
    """A time as a researcher reads it, in the study's time zone: "7 Dec 2026, 14:05:09 CET"."""
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(study.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M:%S} {local.tzname()}"


def raters_needed_figure() -> dict:
    """The raters an item needs to detect the selection threshold, the same figure as the analysis's power report."""
    from psychometrics.stats.selection import DEFAULT_ALPHA, DEFAULT_POWER, DEFAULT_THRESHOLD, raters_needed

    return {"r": DEFAULT_THRESHOLD, "alpha": DEFAULT_ALPHA, "power": DEFAULT_POWER,
            "n": raters_needed(DEFAULT_THRESHOLD, DEFAULT_ALPHA, DEFAULT_POWER)}


def entry_activity(*, study: Study, now: datetime | None = None) -> dict:
    """Signs of invented or borrowed Prolific IDs at the entry link (previews excluded).

    Counts over the last hour: arrivals, arrivals that never consented, arrivals refused by a cap or
    a wrong STUDY_ID, and known Prolific IDs opened from another browser with another SESSION_ID
    (also in total, with the pseudonyms concerned, so the researcher can follow up on Prolific).
    """
    now = now or timezone.now()
    since = now - ENTRY_WINDOW
    status = Participant.Status
    recent = Participant.objects.filter(study=study, is_preview=False, arrived_at__gte=since)
    events = EntryEvent.objects.filter(study=study)
    elsewhere = events.filter(kind=EntryEvent.Kind.SESSION_ELSEWHERE)
    by_pseudonym = (
        elsewhere.order_by().values("pseudonym").annotate(n=Count("id"), last=Max("at")).order_by("-last")[:20]
    )
    return {
        "unconsented_now": unconsented_visits(study=study, now=now).count(),
        "arrivals_last_hour": recent.count(),
        "unconsented_last_hour": recent.filter(
            consented_at__isnull=True, status__in=[status.ACTIVE, status.EXPIRED]
        ).count(),
        "refused_last_hour": events.filter(kind__in=EntryEvent.REFUSALS, at__gte=since).count(),
        "session_elsewhere_last_hour": elsewhere.filter(at__gte=since).count(),
        "session_elsewhere_total": elsewhere.count(),
        "session_elsewhere_by_participant": [
            {"participant_id": row["pseudonym"], "attempts": row["n"], "last_at": row["last"].isoformat(),
             "last_at_display": study_time(study, row["last"])}
            for row in by_pseudonym
        ],
    }

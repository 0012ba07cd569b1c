"""Services that change survey state. Views, tasks and commands call these.

Concurrency: every service that reads-then-writes runs in one transaction that starts by
locking a row (``SELECT ... FOR UPDATE`` on PostgreSQL). On SQLite the settings open
transactions with ``BEGIN IMMEDIATE``, which takes the database write lock up front, so the
same sections are serialised there too.
"""

import logging
import random
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from surveys import plan as plans
from surveys.instruments import (
    BFI10_SCALE,
    ITEM_SCALE,
    PVQ21_SCALE,
    answer_code,
    pvq21_form_for_gender,
)
from surveys.models import (
    AttentionCheckResponse,
    EntryEvent,
    InstrumentAnswer,
    Item,
    PageDraft,
    PageSubmission,
    Participant,
    Rating,
    Study,
)
from surveys.selectors import (
    open_group_fill,
    participant_failed_checks,
    participant_is_expired,
    participant_plan,
    places_held_from_address,
    unconsented_visits,
)

logger = logging.getLogger(__name__)

GENDERS = [("female", "Female"), ("male", "Male"), ("other", "Another gender"), ("undisclosed", "Prefer not to say")]
AGE_BANDS = [
    ("18-24", "18–24"),
    ("25-34", "25–34"),
    ("35-44", "35–44"),
    ("45-54", "45–54"),
    ("55-64", "55–64"),
    ("65+", "65 or older"),
    ("undisclosed", "Prefer not to say"),
]


class SurveyError(Exception):
    """A domain error whose message is shown to the participant or researcher as is."""


class StudyClosed(SurveyError):
    pass


class StudyFull(SurveyError):
    pass


class ParticipantExpired(SurveyError):
    pass


class SessionElsewhere(SurveyError):
    """A known Prolific ID opened from another browser without the SESSION_ID of its first arrival."""


class TooManyStarting(SurveyError):
    """A cap on unconsented visits or on places per client address is reached: try again in a few minutes."""


class PageOutOfOrder(SurveyError):
    """A POST for a page the participant is not on (forged or malformed page number)."""


class PageInvalid(SurveyError):
    """A POST whose answers fail validation.

    ``problems`` lists every problem found as ``(field, message)`` in display order, ``field`` being
    the answer field the message is about ('' for the page as a whole); ``errors`` the messages alone.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        self.errors = [message for _, message in problems]
        super().__init__(" ".join(self.errors))

    @property
    def field_errors(self) -> dict[str, str]:
        """The first message for each answer field: the rows to mark on the page."""
        marked: dict[str, str] = {}
        for field, message in self.problems:
            if field:
                marked.setdefault(field, message)
        return marked


MSG_CLOSED = "This study is not open at the moment, so no new participants can start it."
MSG_FULL = "This study has all the participants it needs. Thank you for your interest."
MSG_NO_GROUPS = "This study has no items yet, so it cannot be started."
MSG_FULL_AT_CONSENT = (
    "While you were reading the consent page, the last places in this study were taken, so nothing was saved. "
    "Places free up when other participants run out of time: you can try again in a few minutes, or return the "
    "study on Prolific."
)
MSG_EXPIRED = "The time limit for this study has passed, so your answers can no longer be saved."
MSG_UNCONSENTED_EXPIRED = (
    "The consent page was open for more than {minutes} minutes without an answer. "
    "Please open the study again from Prolific to start; nothing has been saved yet."
)
MSG_SESSION_ELSEWHERE = (
    "This study was started on another device or browser. Please continue on the device and browser where you "
    "started. If that is not possible, contact the researcher through Prolific."
)
MSG_TOO_MANY_STARTING = "Too many people are starting this study right now. Please try again in a few minutes."
MSG_TOO_MANY_PLACES = (
    "Too many people from your network are taking this study right now, so nothing was saved. "
    "Please try again in a few minutes."
)
MSG_BAD_STEP = "The page number '{value}' in your submission is not valid; nothing was saved."
MSG_FUTURE_STEP = "Your submission is for page {step}, but you are on page {current}; nothing was saved."
MSG_MISSING = "Please answer {row}."
MSG_OUT_OF_SCALE = "'{value}' is not an answer on the scale for {row}; please choose one of the options shown."
MSG_NOT_ON_PAGE = "'{field}' is not part of this page; nothing was saved."
MSG_TWICE = "The submission holds more than one answer for {row}; please choose one option."
MSG_CONSENT = "Please choose whether you agree to take part."
MSG_GENDER = "Please choose an answer for gender."
MSG_AGE = "Please choose an age band."

# Fields a form may carry besides answers.
FORM_META_FIELDS = {"csrfmiddlewaretoken", "step"}
ANSWER_PREFIXES = ("item-", "check-", "pvq-", "bfi-", "consent", "gender", "age_band")
STEP_RE = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class SubmitResult:
    participant: Participant
    saved: bool  # False when the page had already been submitted (double click, back button)


def unconsented_window(study: Study) -> timedelta:
    """How long a visit may stay on the consent page: ``UNCONSENTED_EXPIRY_MINUTES``, at most the time limit."""
    return timedelta(minutes=min(settings.UNCONSENTED_EXPIRY_MINUTES, study.time_limit_minutes))


def _new_participant_fields(now: datetime, study: Study) -> dict:
    return {
        "pseudonym": "P" + secrets.token_hex(8),
        "token": secrets.token_urlsafe(24),
        "seed": secrets.randbits(62),
        "arrived_at": now,
        "last_seen_at": now,
        "expires_at": now + unconsented_window(study),
    }


def entry_event_record(*, study: Study, kind: str, pseudonym: str = "", now: datetime | None = None) -> EntryEvent:
    """Note a refused or suspicious entry for the study dashboard (never a Prolific ID or an address)."""
    event = EntryEvent(study=study, kind=kind, pseudonym=pseudonym, at=now or timezone.now())
    event.full_clean(exclude=["study"])
    event.save()
    if kind == EntryEvent.Kind.SESSION_ELSEWHERE:
        logger.warning("study %s: participant %s opened from another browser with another SESSION_ID; refused",
                       study.slug, pseudonym)
    else:
        logger.warning("study %s: entry refused (%s)", study.slug, kind)
    return event


def _may_resume(participant: Participant, prolific_session_id: str, started_here: Collection[int]) -> bool:
    """The browser that started this participant, or one that brings the SESSION_ID recorded at first arrival."""
    if participant.pk in started_here:
        return True
    recorded = participant.prolific_session_id
    return bool(recorded) and secrets.compare_digest(recorded.encode(), prolific_session_id.encode())


def _unconsented_cap(study: Study, address_hash: str, fill: dict[int, int], now: datetime) -> str | None:
    """The EntryEvent kind of the cap a new unconsented visit would exceed, or None."""
    per_address = settings.UNCONSENTED_PER_ADDRESS
    if address_hash and unconsented_visits(study=study, now=now, address_hash=address_hash).count() >= per_address:
        return EntryEvent.Kind.ADDRESS_CAP
    free = sum(max(0, study.target_raters_per_item - n) for n in fill.values())
    if unconsented_visits(study=study, now=now).count() >= max(per_address, free * settings.UNCONSENTED_STUDY_PERCENT // 100):
        return EntryEvent.Kind.STUDY_CAP
    return None


def _resume(participant: Participant, *, study: Study, prolific_session_id: str, started_here: Collection[int],
            address_hash: str, now: datetime) -> Participant | SurveyError:
    """The known participant back, their lapsed unconsented visit renewed, or the error to raise."""
    if not _may_resume(participant, prolific_session_id, started_here):
        entry_event_record(study=study, kind=EntryEvent.Kind.SESSION_ELSEWHERE, pseudonym=participant.pseudonym, now=now)
        return SessionElsewhere(MSG_SESSION_ELSEWHERE)
    if _lapsed_before_consent(participant, now) and not participant.is_preview and study.status == Study.Status.LIVE:
        # Lock order study -> participant, as at consent (page_submit).
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if _lapsed_before_consent(participant, now):
            # Someone who left the consent page too long opens the link again: a fresh visit, under the same caps.
            cap = _unconsented_cap(study, address_hash, open_group_fill(study=study, now=now), now)
            if cap is not None:
                entry_event_record(study=study, kind=cap, now=now)
                return TooManyStarting(MSG_TOO_MANY_STARTING)
            participant.status = Participant.Status.ACTIVE
            participant.arrived_at = participant.last_seen_at = now
            participant.expires_at = now + unconsented_window(study)
            participant.address_hash = address_hash
            participant.save(update_fields=["status", "arrived_at", "last_seen_at", "expires_at", "address_hash"])
            return participant
    Participant.objects.filter(pk=participant.pk).update(last_seen_at=now)
    return participant


def _lapsed_before_consent(participant: Participant, now: datetime) -> bool:
    return participant.consented_at is None and participant_is_expired(participant, now)


def participant_arrive(
    *,
    study: Study,
    prolific_pid: str,
    prolific_study_id: str = "",
    prolific_session_id: str = "",
    started_here: Collection[int] = (),
    address_hash: str = "",
    is_preview: bool = False,
    now: datetime | None = None,
) -> Participant:
    """A visit to the entry link: a new unconsented participant, or a known one resumed.

    A Prolific ID is not a key. A known participant is returned only to the browser that started
    them (``started_here``: the participant ids in that browser's session) or to a request carrying
    the SESSION_ID recorded at their first arrival; anyone else gets SessionElsewhere, and the
    attempt is recorded under the participant's pseudonym.

    A new participant holds no group place: the place is reserved at consent (``page_submit``).
    Their visit lapses after ``UNCONSENTED_EXPIRY_MINUTES``; concurrent unconsented visits are
    capped per client address (``address_hash``, none when empty) and per study (TooManyStarting).
    The study row lock (PostgreSQL) / write lock (SQLite) makes concurrent arrivals see each other.
    Raises StudyClosed, StudyFull, SessionElsewhere, TooManyStarting or SurveyError.
    """
    now = now or timezone.now()
    resume = {"prolific_session_id": prolific_session_id, "started_here": started_here, "address_hash": address_hash,
              "now": now}
    try:
        with transaction.atomic():
            study = Study.objects.select_for_update().get(pk=study.pk)
            existing = Participant.objects.filter(study=study, prolific_pid=prolific_pid).order_by().first()
            if existing is not None:
                outcome = _resume(existing, study=study, **resume)
            else:
                outcome = _arrive_new(
                    study=study, prolific_pid=prolific_pid, prolific_study_id=prolific_study_id,
                    prolific_session_id=prolific_session_id, address_hash=address_hash, is_preview=is_preview, now=now,
                )
    except IntegrityError:
        # The same PID arrived twice at once where the lock did not serialise them: keep the first.
        with transaction.atomic():
            existing = Participant.objects.get(study=study, prolific_pid=prolific_pid)
            outcome = _resume(existing, study=study, **resume)
    # Raised after the transaction so the refusal's EntryEvent is committed.
    if isinstance(outcome, SurveyError):
        raise outcome
    return outcome


def _arrive_new(*, study: Study, prolific_pid: str, prolific_study_id: str, prolific_session_id: str,
                address_hash: str, is_preview: bool, now: datetime) -> Participant | SurveyError:
    if study.status != Study.Status.LIVE and not is_preview:
        raise StudyClosed(MSG_CLOSED)
    fill = open_group_fill(study=study, now=now)
    if not fill:
        raise SurveyError(MSG_NO_GROUPS)
    if not is_preview:
        if min(fill.values()) >= study.target_raters_per_item:
            raise StudyFull(MSG_FULL)
        cap = _unconsented_cap(study, address_hash, fill, now)
        if cap is not None:
            entry_event_record(study=study, kind=cap, now=now)
            return TooManyStarting(MSG_TOO_MANY_STARTING)
    participant = Participant(
        study=study,
        prolific_pid=prolific_pid,
        prolific_study_id=prolific_study_id,
        prolific_session_id=prolific_session_id,
        address_hash=address_hash,
        is_preview=is_preview,
        **_new_participant_fields(now, study),
    )
    # Uniqueness is the lock's and the database constraint's job (IntegrityError in the caller).
    participant.full_clean(exclude=["study", "group"], validate_unique=False, validate_constraints=False)
    participant.save()
    return participant


def _place_reserve(participant: Participant, study: Study, now: datetime) -> SurveyError | None:
    """Give a consenting participant the least-filled item group, or return why not (caller holds the study lock).

    The group with the fewest places held (completed + consented, active and unexpired; previews
    excluded), ties broken at random; its items are frozen into ``assigned_items``. The reservation
    then runs until ``time_limit_minutes`` after arrival.
    """
    fill = open_group_fill(study=study, now=now)
    if not fill:
        return SurveyError(MSG_NO_GROUPS)
    least = min(fill.values())
    if not participant.is_preview:
        if least >= study.target_raters_per_item:
            return StudyFull(MSG_FULL_AT_CONSENT)
        if participant.address_hash and places_held_from_address(
            study=study, address_hash=participant.address_hash, now=now
        ) >= settings.PLACES_PER_ADDRESS:
            entry_event_record(study=study, kind=EntryEvent.Kind.PLACES_PER_ADDRESS, pseudonym=participant.pseudonym, now=now)
            return TooManyStarting(MSG_TOO_MANY_PLACES)
    group_id = random.SystemRandom().choice(sorted(g for g, n in fill.items() if n == least))
    participant.group_id = group_id
    participant.assigned_items = list(Item.objects.filter(group_id=group_id).order_by("pk").values_list("pk", flat=True))
    participant.expires_at = participant.arrived_at + timedelta(minutes=study.time_limit_minutes)
    return None


def participant_preview(*, study: Study, now: datetime | None = None) -> Participant:
    """A fresh researcher preview participant: goes through the whole survey, excluded from analysis."""
    return participant_arrive(study=study, prolific_pid="preview-" + secrets.token_hex(8), is_preview=True, now=now)


def _choice(value, scale: list[tuple[int, str]], field: str, row: str, problems: list[tuple[str, str]]) -> int | None:
    if value is None or value == "":
        problems.append((field, MSG_MISSING.format(row=row)))
        return None
    code = answer_code(value)
    if code is None or code not in {code for code, _ in scale}:
        problems.append((field, MSG_OUT_OF_SCALE.format(value=str(value)[:40], row=row)))
        return None
    return code


def _check_fields(page: plans.Page) -> set[str]:
    return {f"check-{check.key}" for check in page.checks}


def _expected_fields(page: plans.Page) -> set[str]:
    if page.kind == plans.ITEMS:
        return {f"item-{pk}" for pk in page.item_ids} | _check_fields(page)
    if page.kind == plans.PVQ21_PAGE:
        return {f"pvq-{q}" for q in page.questions} | _check_fields(page)
    if page.kind == plans.BFI10_PAGE:
        return {f"bfi-{q}" for q in page.questions} | _check_fields(page)
    if page.kind == plans.CONSENT:
        return {"consent"}
    if page.kind == plans.ABOUT:
        return {"gender", "age_band"}
    return set()


PAGE_SCALES = {plans.ITEMS: ITEM_SCALE, plans.PVQ21_PAGE: PVQ21_SCALE, plans.BFI10_PAGE: BFI10_SCALE}


def _rows_with_labels(page: plans.Page) -> list[tuple[str, str]]:
    """(field, human label) for every answer row of a page, in display order."""
    if page.kind == plans.ITEMS:
        rows = [f"item-{pk}" for pk in page.item_ids]
        noun = "response"
    elif page.kind == plans.PVQ21_PAGE:
        rows = [f"pvq-{q}" for q in page.questions]
        noun = "description"
    elif page.kind == plans.BFI10_PAGE:
        rows = [f"bfi-{q}" for q in page.questions]
        noun = "statement"
    else:
        return []
    shown = plans.interleave(rows, page.checks)
    return [
        (f"check-{row.key}" if isinstance(row, plans.CheckSpec) else row, f"{noun} {n}")
        for n, row in enumerate(shown, start=page.first_number)
    ]


def _validate_page(page: plans.Page, study: Study, data: Mapping[str, str]) -> tuple[dict, list[tuple[str, str]]]:
    """Parse ``data`` for ``page``: (clean values by field, problems as (field, message)). Never writes."""
    problems: list[tuple[str, str]] = []
    expected = _expected_fields(page)
    for field in data:
        if field in FORM_META_FIELDS or field in expected:
            continue
        if field.startswith(ANSWER_PREFIXES):
            problems.append(("", MSG_NOT_ON_PAGE.format(field=field[:60])))
    getlist = getattr(data, "getlist", None)  # a QueryDict keeps every value of a repeated field
    if getlist is not None:
        labels = dict(_rows_with_labels(page)) or {f: f for f in sorted(expected)}
        problems += [(f, MSG_TWICE.format(row=label)) for f, label in labels.items() if len(getlist(f)) > 1]
    clean: dict = {}
    if page.kind == plans.CONSENT:
        answer = data.get("consent")
        if answer not in ("yes", "no"):
            problems.append(("consent", MSG_CONSENT))
        clean["consent"] = answer == "yes"
    elif page.kind == plans.ABOUT:
        gender = data.get("gender")
        if gender not in dict(GENDERS):
            problems.append(("gender", MSG_GENDER))
        clean["gender"] = gender
        age_band = data.get("age_band", "")
        if study.ask_demographics and age_band not in dict(AGE_BANDS):
            problems.append(("age_band", MSG_AGE))
        clean["age_band"] = age_band if study.ask_demographics else ""
    else:
        scale = PAGE_SCALES.get(page.kind)
        for field, row in _rows_with_labels(page):
            clean[field] = _choice(data.get(field), scale, field, row, problems)
    return clean, problems


def _save_page(participant: Participant, page: plans.Page, clean: dict, now: datetime) -> None:
    step = participant.step
    if page.kind == plans.CONSENT:
        if clean["consent"]:
            participant.consented_at = now
        else:
            participant.status = Participant.Status.NO_CONSENT
    elif page.kind == plans.ABOUT:
        participant.gender = clean["gender"]
        participant.age_band = clean["age_band"]
        participant.pvq_form = pvq21_form_for_gender(clean["gender"])
    elif page.kind == plans.ITEMS:
        Rating.objects.bulk_create(
            [Rating(participant=participant, item_id=pk, rating=clean[f"item-{pk}"], answered_at=now) for pk in page.item_ids]
        )
    elif page.kind in (plans.PVQ21_PAGE, plans.BFI10_PAGE):
        instrument, prefix = ("pvq21", "pvq") if page.kind == plans.PVQ21_PAGE else ("bfi10", "bfi")
        InstrumentAnswer.objects.bulk_create(
            [
                InstrumentAnswer(
                    participant=participant, instrument=instrument, question=q, answer=clean[f"{prefix}-{q}"], answered_at=now
                )
                for q in page.questions
            ]
        )
    if page.checks:
        AttentionCheckResponse.objects.bulk_create(
            [
                AttentionCheckResponse(
                    participant=participant,
                    check_key=check.key,
                    step=step,
                    expected=check.expected,
                    answer=clean[f"check-{check.key}"],
                    passed=clean[f"check-{check.key}"] == check.expected,
                    answered_at=now,
                )
                for check in page.checks
            ]
        )
    PageSubmission.objects.create(participant=participant, step=step, page_key=page.key, submitted_at=now)
    PageDraft.objects.filter(participant=participant).delete()


def _parse_step(value) -> int:
    text = str(value if value is not None else "").strip()
    if not STEP_RE.fullmatch(text):
        raise PageOutOfOrder(MSG_BAD_STEP.format(value=text[:20]))
    return int(text)


def participant_consent(*, participant: Participant, consent: bool, now: datetime | None = None) -> SubmitResult:
    """Record the participant's answer on the consent page (first page of every plan)."""
    return page_submit(participant=participant, step="0", data={"consent": "yes" if consent else "no"}, now=now)


def page_submit(
    *, participant: Participant, step, data: Mapping[str, str], now: datetime | None = None
) -> SubmitResult:
    """Validate and store one page of answers, then move the participant to their next page.

    Idempotent: a page that was already submitted (double click, resubmitted back-button page)
    stores nothing and returns ``saved=False``. Stores nothing at all when it raises:
    PageOutOfOrder (forged/malformed page number), PageInvalid (answers), ParticipantExpired,
    and at consent StudyFull (the last place went while they read) or TooManyStarting (their
    address holds ``PLACES_PER_ADDRESS`` places). Agreeing to take part reserves the group place.
    The last page finishes the participant as completed or failed-checks.
    """
    now = now or timezone.now()
    refusal: SurveyError | None = None
    with transaction.atomic():
        step_number = _parse_step(step)
        if step_number == 0:
            # The consent page reserves a group place: the study row lock serialises it with other
            # consents and arrivals, taken before the participant's row like participant_arrive does.
            Study.objects.select_for_update().filter(pk=participant.study_id).first()
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if participant.status != Participant.Status.ACTIVE:
            if participant.status == Participant.Status.EXPIRED:
                raise ParticipantExpired(participant_expired_message(participant))
            return SubmitResult(participant=participant, saved=False)
        if participant_is_expired(participant, now):
            participant.status = Participant.Status.EXPIRED
            participant.save(update_fields=["status"])
            refusal = ParticipantExpired(participant_expired_message(participant))
        else:
            if step_number < participant.step:
                return SubmitResult(participant=participant, saved=False)
            pages = participant_plan(participant)
            if step_number > participant.step or step_number >= len(pages):
                raise PageOutOfOrder(MSG_FUTURE_STEP.format(step=step_number + 1, current=participant.step + 1))
            page = pages[step_number]
            clean, problems = _validate_page(page, participant.study, data)
            if problems:
                raise PageInvalid(problems)
            if page.kind == plans.CONSENT and clean["consent"] and participant.group_id is None:
                refusal = _place_reserve(participant, participant.study, now)
                pages = participant_plan(participant)
            if refusal is None:
                _save_page(participant, page, clean, now)
                participant.step = step_number + 1
                participant.last_seen_at = now
                if participant.status == Participant.Status.ACTIVE and participant.step >= len(pages):
                    _finish(participant, now)
                participant.save()
                return SubmitResult(participant=participant, saved=True)
    # Outside the atomic block so what the refusal recorded (expiry, an EntryEvent) is committed.
    raise refusal


def _draft_answers(page: plans.Page, study: Study, data: Mapping[str, str]) -> dict[str, str]:
    """The answers in ``data`` that are valid on ``page``, by field; anything else is left out."""
    if page.kind == plans.ABOUT:
        choices = {"gender": dict(GENDERS), "age_band": dict(AGE_BANDS) if study.ask_demographics else {}}
        return {field: data[field] for field, valid in choices.items() if data.get(field) in valid}
    scale = PAGE_SCALES.get(page.kind)
    if scale is None:
        return {}
    codes = {code for code, _ in scale}
    kept = {}
    for field, _ in _rows_with_labels(page):
        code = answer_code(data.get(field))
        if code in codes:
            kept[field] = str(code)
    return kept


def page_draft_save(*, participant: Participant, step, data: Mapping[str, str], now: datetime | None = None) -> int | None:
    """Keep the answers given so far on the participant's current page (``PageDraft``); returns how many were kept.

    A draft is not a submission: it moves nobody on and is never analysed, so saving it twice, late
    or from an old tab cannot count anything twice. Only answers valid on the page are kept
    (anything else is left out, not an error: the page is validated when it is submitted), and they
    replace the page's earlier draft. Stores nothing and returns None when ``step`` is not the
    participant's current page (an old tab, a page already submitted) or the participant has
    finished or run out of time; a page without answers (consent, instructions) keeps nothing.
    """
    now = now or timezone.now()
    try:
        step_number = _parse_step(step)
    except PageOutOfOrder:
        return None
    with transaction.atomic():
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if participant.status != Participant.Status.ACTIVE or participant_is_expired(participant, now):
            return None
        if step_number != participant.step:
            return None
        page = participant_plan(participant)[step_number]
        if page.kind in (plans.CONSENT, plans.INSTRUCTIONS):
            return 0
        answers = _draft_answers(page, participant.study, data)
        PageDraft.objects.update_or_create(
            participant=participant, step=step_number, defaults={"answers": answers, "saved_at": now}
        )
        return len(answers)


def participant_expired_message(participant: Participant) -> str:
    """What an expired participant is told: start again from Prolific before consent, time is up after."""
    if participant.consented_at is None:
        return MSG_UNCONSENTED_EXPIRED.format(minutes=int(unconsented_window(participant.study).total_seconds() // 60))
    return MSG_EXPIRED


def _finish(participant: Participant, now: datetime) -> None:
    failed = participant_failed_checks(participant)
    too_many = failed > participant.study.max_failed_checks
    participant.status = Participant.Status.FAILED_CHECKS if too_many else Participant.Status.COMPLETED
    participant.completed_at = now


def participant_mark_returned(*, participant: Participant) -> Participant:
    """A participant who returned their Prolific submission: frees their place for someone else."""
    with transaction.atomic():
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if participant.status == Participant.Status.ACTIVE:
            participant.status = Participant.Status.RETURNED
            participant.save(update_fields=["status"])
        return participant


def completion_code(participant: Participant) -> str:
    """The Prolific completion code for a finished participant ('' while still active)."""
    study = participant.study
    return {
        Participant.Status.COMPLETED: study.completion_code,
        Participant.Status.FAILED_CHECKS: study.failed_checks_code,
        Participant.Status.NO_CONSENT: study.no_consent_code,
    }.get(participant.status, "")


@transaction.atomic
def reservations_expire(*, now=None) -> int:
    """Mark active participants whose reservation has run out as expired, freeing their group place.

    Returns the number of participants expired. Idempotent: running it twice changes nothing more.
    """
    now = now or timezone.now()
    return Participant.objects.filter(status=Participant.Status.ACTIVE, expires_at__lt=now).update(
        status=Participant.Status.EXPIRED
    )

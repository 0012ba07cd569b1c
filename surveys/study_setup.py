"""Setting a study up and launching it from the researcher pages: who may create studies, the
launch checklist, and the services that create, change, open and close a study.

A researcher is a member of the ``researchers`` group (``manage.py createresearcher``); a member
may create studies and becomes a researcher of each study they create. Everything else a
researcher may do follows the study (``surveys.selectors.user_is_researcher``). ``is_staff``
grants nothing here: the admin is for the operators.

Kept apart from ``surveys.services`` (the participant's survey) because it changes the study,
never a participant's answers.
"""

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from surveys.models import Item, ItemGroup, Participant, Study

RESEARCHERS_GROUP = "researchers"

# Pages are rebuilt from these on every request: changing them under a participant who has started
# would move their checks and page numbers, so they are frozen once anyone arrived (as in the admin).
FROZEN_ONCE_STARTED = ("attention_check_count", "attention_check_pages")


class StudySetupError(Exception):
    """A study cannot be changed or opened; the message says why and is shown as is."""


class StudyNotReady(StudySetupError):
    """Opening refused: ``unmet`` lists the checklist entries that are not done."""

    def __init__(self, unmet: list["ChecklistEntry"]):
        super().__init__("The study cannot open yet: " + "; ".join(entry.label for entry in unmet) + ".")
        self.unmet = unmet


MSG_NOT_A_DRAFT_SLUG = "The slug is part of the participant link: it can only change while the study is a draft."
MSG_FROZEN = "Participants have started this study, so its attention check placement can no longer change."
MSG_ITEMS_IN_USE = (
    "Participants have taken part in this study, so its items stay: their answers refer to them. "
    "Import further items instead."
)
MSG_CONFIRM_CLEAR = "Tick the box to confirm that every item and item group of this study should be removed."
MSG_ALREADY_LIVE = "The study is already open."
MSG_NOT_LIVE = "The study is not open."


def researchers_group() -> Group:
    group, _ = Group.objects.get_or_create(name=RESEARCHERS_GROUP)
    return group


def user_may_create_studies(user) -> bool:
    """Members of the researchers group and superusers (``is_staff`` alone grants nothing)."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=RESEARCHERS_GROUP).exists()


@dataclass(frozen=True)
class ChecklistEntry:
    key: str
    label: str
    ok: bool
    detail: str


def study_preview_done(*, study: Study) -> bool:
    """Someone went through a preview of the study to its last page."""
    return Participant.objects.filter(study=study, is_preview=True, completed_at__isnull=False).exists()


def study_launch_checklist(*, study: Study, link_confirmed: bool = False) -> list[ChecklistEntry]:
    """What must hold before ``study`` opens, each entry with what is missing.

    ``link_confirmed``: the researcher says the participant link is pasted into the Prolific study
    (the one entry this platform cannot see for itself).
    """
    groups = ItemGroup.objects.filter(study=study).order_by("name")
    with_items = set(Item.objects.filter(study=study).order_by().values_list("group_id", flat=True).distinct())
    empty = [g.name for g in groups if g.pk not in with_items]
    if not groups:
        items_detail = "No items yet: import them on the Items page."
    elif empty:
        items_detail = f"Item group{'s' if len(empty) > 1 else ''} without items: {', '.join(empty)}."
    else:
        n_items = Item.objects.filter(study=study).count()
        items_detail = f"{len(groups)} item group{'s' if len(groups) > 1 else ''}, {n_items} items."

    codes = {"completed": study.completion_code, "failed attention checks": study.failed_checks_code,
             "declined consent": study.no_consent_code}
    missing_codes = [name for name, code in codes.items() if not code.strip()]
    if missing_codes:
        codes_detail = f"Missing the Prolific code for: {', '.join(missing_codes)}."
    elif len(set(codes.values())) < len(codes):
        codes_detail = "Two outcomes share one code: Prolific could not tell them apart."
    else:
        codes_detail = ", ".join(f"{name}: {code}" for name, code in codes.items()) + "."

    preview_done = study_preview_done(study=study)
    return [
        ChecklistEntry("items", "Items in every item group", bool(groups) and not empty, items_detail),
        ChecklistEntry("codes", "Prolific completion codes set", not missing_codes and len(set(codes.values())) == len(codes),
                       codes_detail),
        ChecklistEntry("consent", "Consent text written", bool(study.consent_text.strip()),
                       "Shown on the first page." if study.consent_text.strip() else "Write it in the study settings."),
        ChecklistEntry("prolific_study_id", "Prolific study id set", bool(study.prolific_study_id),
                       f"Links with another STUDY_ID are refused ({study.prolific_study_id})." if study.prolific_study_id
                       else "Create the study on Prolific and enter its id in the study settings."),
        ChecklistEntry("preview", "Survey previewed to the end", preview_done,
                       "A preview reached the completion code." if preview_done
                       else "Preview the survey as a participant and go through to the completion code."),
        ChecklistEntry("link", "Participant link pasted into the Prolific study", link_confirmed,
                       "Confirmed." if link_confirmed else "Paste the link below into Prolific, then confirm it."),
    ]


def _validated_save(instance) -> None:
    instance.full_clean()
    instance.save()


@transaction.atomic
def study_create(*, owner, study: Study, analysis_settings) -> Study:
    """Save a new ``study`` (a draft) with its screening rules; ``owner`` becomes its researcher."""
    study.status = Study.Status.DRAFT
    _validated_save(study)
    study.researchers.add(owner)
    analysis_settings.study = study
    _validated_save(analysis_settings)
    return study


@transaction.atomic
def study_update(*, study: Study, analysis_settings) -> Study:
    """Save changed settings of an existing study and its screening rules.

    Refuses a new slug unless the study is a draft, and a new attention check placement once
    anyone (a preview included) has started.
    """
    stored = Study.objects.select_for_update().get(pk=study.pk)
    if study.slug != stored.slug and stored.status != Study.Status.DRAFT:
        raise StudySetupError(MSG_NOT_A_DRAFT_SLUG)
    if any(getattr(study, f) != getattr(stored, f) for f in FROZEN_ONCE_STARTED) and stored.participants.exists():
        raise StudySetupError(MSG_FROZEN)
    study.status = stored.status  # opening and closing have their own services
    _validated_save(study)
    analysis_settings.study = study
    _validated_save(analysis_settings)
    return study


@transaction.atomic
def study_items_clear(*, study: Study) -> int:
    """Remove every item and item group of a study nobody but previews has taken part in (a wrong upload).

    The previews go too (their answers refer to the items), so the checklist asks for a new one.
    Returns the number of items removed.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if Participant.objects.filter(study=study, is_preview=False).exists():
        raise StudySetupError(MSG_ITEMS_IN_USE)
    Participant.objects.filter(study=study, is_preview=True).delete()
    removed, _ = Item.objects.filter(study=study).delete()
    ItemGroup.objects.filter(study=study).delete()
    return removed


@transaction.atomic
def study_open(*, study: Study, link_confirmed: bool) -> Study:
    """Open ``study`` to participants if every checklist entry holds; else StudyNotReady with the unmet ones."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status == Study.Status.LIVE:
        raise StudySetupError(MSG_ALREADY_LIVE)
    unmet = [entry for entry in study_launch_checklist(study=study, link_confirmed=link_confirmed) if not entry.ok]
    if unmet:
        raise StudyNotReady(unmet)
    study.status = Study.Status.LIVE
    study.save(update_fields=["status"])
    return study


@transaction.atomic
def study_close(*, study: Study) -> Study:
    """Close ``study``: nobody new can start; those already in it can finish."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.LIVE:
        raise StudySetupError(MSG_NOT_LIVE)
    study.status = Study.Status.CLOSED
    study.save(update_fields=["status"])
    return study

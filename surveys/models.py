"""Studies, their items, participants and every answer they give.

Invariants live in database constraints as well as in services: one participant per
PROLIFIC_PID and study, one rating per participant and item, ratings inside their scale.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from surveys.plan import PVQ21_PER_PAGE, parse_check_pages
from surveys.validators import validate_time_zone

RATING_MIN, RATING_MAX = 1, 6
PVQ21_MIN, PVQ21_MAX = 1, 6
BFI10_MIN, BFI10_MAX = 1, 5
DEFAULT_RATERS_PER_ITEM = 46  # the paper's target per item (§3.2.3); see psychometrics power report: r = .3, two-sided alpha .05, power .8 needs 85


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        CLOSED = "closed", "Closed"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    is_private = models.BooleanField(default=False, help_text="Hide this study's items from public API reads.")
    researchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="studies")

    consent_text = models.TextField(blank=True)
    instructions_text = models.TextField(blank=True)
    completion_code = models.CharField(max_length=64, blank=True, help_text="Prolific code for completed submissions.")
    failed_checks_code = models.CharField(max_length=64, blank=True, help_text="Prolific code for failed attention checks.")
    no_consent_code = models.CharField(max_length=64, blank=True, help_text="Prolific code for declined consent.")

    time_limit_minutes = models.PositiveIntegerField(default=60, help_text="A reservation expires after this time.")
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="IANA time zone in which the dashboard shows times, e.g. Europe/Berlin or America/New_York.",
    )
    target_raters_per_item = models.PositiveIntegerField(default=DEFAULT_RATERS_PER_ITEM)
    attention_check_count = models.PositiveIntegerField(default=4)
    attention_check_pages = models.CharField(
        max_length=200, blank=True,
        help_text="Where the checks go, one entry per check, separated by commas: items (an item page), items:N "
        "(the participant's N-th item page), pvq21 or bfi10; e.g. 'items, items:3, pvq21, bfi10'. Empty: with 4 "
        "or more checks one each in PVQ-21 and BFI-10 and the rest on distinct item pages, else all on item pages.",
    )
    max_failed_checks = models.PositiveIntegerField(
        default=2, help_text="More failed checks than this ends the survey with the failed-checks code."
    )
    ask_demographics = models.BooleanField(default=True)

    prolific_study_id = models.CharField(max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self):
        try:
            places = parse_check_pages(self.attention_check_pages)
        except ValueError as error:
            raise ValidationError({"attention_check_pages": str(error)}) from None
        if places and len(places) != self.attention_check_count:
            raise ValidationError({"attention_check_pages": (
                f"This names {len(places)} places, but the study has {self.attention_check_count} attention checks: "
                "give one place per check, or leave it empty for the default placement."
            )})


class ItemGroup(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ["study", "name"]
        constraints = [models.UniqueConstraint(fields=["study", "name"], name="itemgroup_unique_name")]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.name}"


class Item(models.Model):
    """One query-response pair. Items of a group that share a query are shown on one page."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="items")
    group = models.ForeignKey(ItemGroup, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(max_length=128)
    source = models.CharField(max_length=64, blank=True)
    title = models.TextField(blank=True)
    query = models.TextField()
    response = models.TextField()

    class Meta:
        ordering = ["study", "group", "id"]
        constraints = [models.UniqueConstraint(fields=["study", "item_id"], name="item_unique_id")]

    def __str__(self) -> str:
        return self.item_id


class Participant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        FAILED_CHECKS = "failed_checks", "Failed attention checks"
        NO_CONSENT = "no_consent", "Declined consent"
        EXPIRED = "expired", "Expired"
        RETURNED = "returned", "Returned"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    prolific_pid = models.CharField(max_length=64)
    prolific_study_id = models.CharField(max_length=64, blank=True)
    prolific_session_id = models.CharField(max_length=64, blank=True)
    pseudonym = models.CharField(max_length=32, unique=True, help_text="Stable id used in every export.")
    address_hash = models.CharField(
        max_length=64, blank=True,
        help_text="Keyed hash of the client address at arrival (never the address): caps sessions per address.",
    )
    token = models.CharField(
        max_length=64, unique=True, null=True, blank=True, help_text="Secret in the participant's page URL."
    )
    is_preview = models.BooleanField(default=False, help_text="Researcher preview: excluded from analysis.")
    group = models.ForeignKey(
        ItemGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="participants",
        help_text="Assigned at consent: a place is held by someone who agreed to take part, not by a link.",
    )
    seed = models.BigIntegerField(help_text="Seeds this participant's reproducible item order.")
    assigned_items = models.JSONField(
        default=list, blank=True,
        help_text="Primary keys of the group's items at consent: items imported later never shift this participant's pages.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    step = models.PositiveIntegerField(default=0, help_text="Index of the next page in the participant's plan.")

    gender = models.CharField(max_length=16, blank=True)
    age_band = models.CharField(max_length=16, blank=True)
    pvq_form = models.CharField(max_length=8, blank=True, help_text="PVQ-21 wording shown: male, female or neutral.")
    pvq_per_page = models.PositiveSmallIntegerField(
        default=PVQ21_PER_PAGE,
        help_text="PVQ-21 portraits per page in this participant's plan (21: one page, as before the split).",
    )

    arrived_at = models.DateTimeField()
    consented_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        help_text="Before consent: when the unconsented visit lapses. After: when the group place is freed unless completed."
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "arrived_at"]
        constraints = [
            models.UniqueConstraint(fields=["study", "prolific_pid"], name="participant_unique_pid"),
        ]
        indexes = [
            models.Index(fields=["study", "group", "status", "expires_at"], name="participant_fill_idx"),
            models.Index(fields=["study", "address_hash"], name="participant_address_idx"),
        ]

    def __str__(self) -> str:
        return self.pseudonym


class EntryEvent(models.Model):
    """A refused or suspicious use of a study's entry link, counted on the researcher's dashboard.

    Holds neither a Prolific ID nor a client address: a refused newcomer is only a count, and a
    known participant is named by their pseudonym.
    """

    class Kind(models.TextChoices):
        SESSION_ELSEWHERE = "session_elsewhere", "Known Prolific ID from another browser with another SESSION_ID"
        ADDRESS_CAP = "address_cap", "Refused: too many unconsented visits from one address"
        STUDY_CAP = "study_cap", "Refused: too many unconsented visits in the study"
        PLACES_PER_ADDRESS = "places_per_address", "Consent refused: too many places held from one address"
        STUDY_ID = "study_id", "Refused: STUDY_ID missing or for another Prolific study"

    REFUSALS = (Kind.ADDRESS_CAP, Kind.STUDY_CAP, Kind.PLACES_PER_ADDRESS, Kind.STUDY_ID)

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="entry_events")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    pseudonym = models.CharField(max_length=32, blank=True, help_text="The participant concerned, when there is one.")
    at = models.DateTimeField()

    class Meta:
        ordering = ["study", "at"]
        indexes = [models.Index(fields=["study", "kind", "at"], name="entryevent_recent_idx")]

    def __str__(self) -> str:
        return f"{self.study_id}/{self.kind}@{self.at:%Y-%m-%d %H:%M}"


class PageSubmission(models.Model):
    """One committed page of a participant's plan, with its server-side timestamp."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="pages")
    step = models.PositiveIntegerField()
    page_key = models.CharField(max_length=64)
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["participant", "step"]
        constraints = [models.UniqueConstraint(fields=["participant", "step"], name="pagesubmission_unique_step")]

    def __str__(self) -> str:
        return f"{self.participant_id}/{self.step}:{self.page_key}"


class PageDraft(models.Model):
    """Answers given so far on a participant's current page, kept so a refresh or an error shows them again.

    Saved as the participant answers (``static/surveys/survey.js``) and when a page comes back with
    an error; deleted when the page is submitted. Never analysed or exported: only submitted pages count.
    """

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="drafts")
    step = models.PositiveIntegerField()
    answers = models.JSONField(default=dict, help_text="Form field -> value, only answers valid on the page.")
    saved_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "step"], name="pagedraft_unique_step")]

    def __str__(self) -> str:
        return f"{self.participant_id}/{self.step}: {len(self.answers)} answers"


class Rating(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="ratings")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="ratings")
    rating = models.PositiveSmallIntegerField()
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "item"], name="rating_unique_item"),
            models.CheckConstraint(
                condition=Q(rating__gte=RATING_MIN) & Q(rating__lte=RATING_MAX), name="rating_in_scale"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id}/{self.item_id}={self.rating}"


class AttentionCheckResponse(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="checks")
    check_key = models.CharField(max_length=32)
    step = models.PositiveIntegerField()
    expected = models.PositiveSmallIntegerField()
    answer = models.PositiveSmallIntegerField()
    passed = models.BooleanField()
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "check_key"], name="check_unique_key")]

    def __str__(self) -> str:
        return f"{self.participant_id}/{self.check_key}: {'passed' if self.passed else 'failed'}"


class InstrumentAnswer(models.Model):
    class Instrument(models.TextChoices):
        PVQ21 = "pvq21", "PVQ-21"
        BFI10 = "bfi10", "BFI-10"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="instrument_answers")
    instrument = models.CharField(max_length=8, choices=Instrument.choices)
    question = models.PositiveSmallIntegerField(help_text="1-based item number in the instrument's published order.")
    answer = models.PositiveSmallIntegerField()
    answered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["participant", "instrument", "question"], name="instrument_unique_question"),
            models.CheckConstraint(
                condition=(Q(instrument="pvq21") & Q(question__gte=1) & Q(question__lte=21) & Q(answer__gte=PVQ21_MIN) & Q(answer__lte=PVQ21_MAX))
                | (Q(instrument="bfi10") & Q(question__gte=1) & Q(question__lte=10) & Q(answer__gte=BFI10_MIN) & Q(answer__lte=BFI10_MAX)),
                name="instrument_answer_in_scale",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id}/{self.instrument}-{self.question}={self.answer}"

"""Prolific operations: per-study settings, Prolific's view of each submission, review actions,
received webhook events and a log of every outbound API call.

Prolific identifiers (participant and submission ids) are stored here because reconciling needs them,
but they never appear in the API call log (a keyed hash stands in) nor in exports.
"""

from django.db import models
from django.db.models import Q

from surveys.models import Participant, Study

MIN_REJECTION_MESSAGE_LENGTH = 100  # Prolific refuses shorter rejection messages

DEFAULT_REJECTION_MESSAGE = (
    "Thank you for taking part. Unfortunately your submission failed more of the study's attention checks "
    "than the study allows, as stated in the instructions, so we cannot approve it."
)
DEFAULT_RETURN_REASON = "Did not complete the study as required (declined consent, or the answers could not be used)."
# Prolific's attention-check policy: a submission may be rejected only for at least two failed fair checks.
MIN_FAILED_CHECKS_TO_REJECT = 2


class SubmissionStatus(models.TextChoices):
    """Prolific's submission statuses, spelled as its API spells them."""

    RESERVED = "RESERVED", "Reserved"
    ACTIVE = "ACTIVE", "Active"
    AWAITING_REVIEW = "AWAITING REVIEW", "Awaiting review"
    PROCESSING = "PROCESSING", "Processing"
    TIMED_OUT = "TIMED-OUT", "Timed out"
    RETURNED = "RETURNED", "Returned"
    APPROVED = "APPROVED", "Approved"
    PARTIALLY_APPROVED = "PARTIALLY APPROVED", "Partially approved"
    REJECTED = "REJECTED", "Rejected"
    SCREENED_OUT = "SCREENED OUT", "Screened out"
    UNKNOWN = "UNKNOWN", "Unknown"


def submission_status_normalise(value) -> str:
    """A Prolific status spelled as ``SubmissionStatus`` spells it.

    Prolific writes statuses with spaces ("AWAITING REVIEW") but accepts underscores in filters
    ("AWAITING_REVIEW"); both spellings (and "TIMED_OUT") map to the same value. Unknown statuses
    are kept upper-cased so that the report shows them.
    """
    text = " ".join(str(value or "").upper().replace("_", " ").split())
    if text == "TIMED OUT":
        return SubmissionStatus.TIMED_OUT
    return text[:24]


class ProlificSettings(models.Model):
    """How the platform talks to Prolific for one study.

    The API token is either stored encrypted (``token_encrypted``) or read at call time from the
    environment variable named in ``token_env_var``; it is never shown back beyond its last four characters.
    """

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="prolific_settings")
    token_encrypted = models.TextField(blank=True, help_text="Fernet-encrypted API token.")
    token_hint = models.CharField(max_length=8, blank=True, help_text="Last four characters of the stored token.")
    token_env_var = models.CharField(
        max_length=64, blank=True, help_text="Read the token from this environment variable instead of storing it."
    )
    webhook_secret_encrypted = models.TextField(blank=True, help_text="Fernet-encrypted webhook signing secret.")
    webhook_secret_hint = models.CharField(max_length=8, blank=True)
    workspace_id = models.CharField(max_length=64, blank=True, help_text="Prolific workspace the webhook is set up in.")
    hook_subscription_id = models.CharField(max_length=64, blank=True, help_text="Prolific's id of the subscription.")
    hook_target_url = models.URLField(max_length=500, blank=True, help_text="Where Prolific sends the events.")
    hook_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the subscription was confirmed; Prolific delivers nothing before."
    )
    rejection_message = models.TextField(default=DEFAULT_REJECTION_MESSAGE)
    return_reason = models.CharField(max_length=300, default=DEFAULT_RETURN_REASON)
    return_excluded_for_quality = models.BooleanField(
        default=False,
        help_text="Ask participants who completed the study but whom the latest analysis excluded (for anything but "
        "attention checks) to return instead of approving them. Off: pay follows Prolific's rules only.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Prolific settings"
        verbose_name_plural = "Prolific settings"
        constraints = [
            models.CheckConstraint(
                condition=~(~Q(token_encrypted="") & ~Q(token_env_var="")),
                name="prolific_settings_one_token_source",
            ),
        ]

    def __str__(self) -> str:
        return f"Prolific settings for {self.study.slug}"


class ProlificSubmission(models.Model):
    """Prolific's view of one submission, from the last reconcile or a later webhook event."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="prolific_submissions")
    submission_id = models.CharField(max_length=64, unique=True, help_text="Prolific's SESSION_ID.")
    prolific_pid = models.CharField(max_length=64)
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="prolific_submissions"
    )
    status = models.CharField(max_length=24, choices=SubmissionStatus.choices)
    status_at = models.DateTimeField(help_text="When Prolific reported this status (fetch or event time).")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    return_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "started_at", "id"]
        indexes = [models.Index(fields=["study", "status"], name="prolific_sub_status_idx")]

    def __str__(self) -> str:
        return f"{self.study.slug}/{self.status}"


class ReviewAction(models.Model):
    """One decision sent (or being sent) to Prolific for a submission.

    ``state`` only becomes CONFIRMED when Prolific itself reports the resulting status; a bulk
    approval Prolific has accepted but not yet applied stays SENT (and becomes FAILED, to be sent
    again, when Prolific still shows the submission awaiting review after
    ``PROLIFIC_PENDING_GRACE_SECONDS``). A return request is recorded as SENDING before it is sent
    and stays so when no answer came, until a reconcile shows whether Prolific recorded it.
    """

    class Action(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"
        REQUEST_RETURN = "request_return", "Ask to return"

    class State(models.TextChoices):
        SENDING = "sending", "Being sent, or no answer came: not sent again until Prolific's state is checked"
        SENT = "sent", "Sent, awaiting Prolific's confirmation"
        CONFIRMED = "confirmed", "Confirmed by Prolific"
        FAILED = "failed", "Failed"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="prolific_review_actions")
    submission = models.OneToOneField(ProlificSubmission, on_delete=models.CASCADE, related_name="review_action")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="prolific_review_actions")
    action = models.CharField(max_length=16, choices=Action.choices)
    rejection_category = models.CharField(max_length=24, blank=True)
    message = models.TextField(blank=True)
    reason = models.TextField(help_text="Why the platform chose this action (the basis shown in the review).")
    state = models.CharField(max_length=12, choices=State.choices)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=1)
    sent_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["study", "sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.participant.pseudonym}: {self.action} ({self.state})"


class WebhookEvent(models.Model):
    """A received Prolific webhook event, kept to de-duplicate redeliveries by event id."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        STALE = "stale", "Older or backward status: ignored"
        UNMATCHED = "unmatched", "No matching submission or participant"
        IGNORED = "ignored", "Event type not handled"

    event_id = models.CharField(max_length=128, unique=True)
    event_type = models.CharField(max_length=64)
    study = models.ForeignKey(Study, null=True, blank=True, on_delete=models.CASCADE, related_name="prolific_events")
    submission = models.ForeignKey(
        ProlificSubmission, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    status = models.CharField(max_length=24, blank=True)
    event_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.outcome}"


class ApiCall(models.Model):
    """One outbound HTTP attempt to Prolific. No tokens; Prolific ids appear only as keyed hashes."""

    study = models.ForeignKey(Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="prolific_calls")
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300, help_text="Path with submission ids replaced by {submission_id}.")
    subject = models.CharField(max_length=200, blank=True, help_text="Pseudonymised subject of the call.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty when no response came.")
    attempt = models.PositiveSmallIntegerField(default=1)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "-created_at"], name="prolific_call_study_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status_code}"

from django.contrib import admin

from config.admin_scope import StudyScopedAdmin, only_related
from prolific.models import ApiCall, ProlificSettings, ProlificSubmission, ReviewAction, WebhookEvent


@admin.register(ProlificSettings)
class ProlificSettingsAdmin(StudyScopedAdmin):
    list_display = ["study", "token_hint", "token_env_var", "hook_confirmed_at", "updated_at"]
    # Secrets are edited on the study's Prolific page, never shown here; so is the returns-for-data-quality
    # setting, whose confirmation (how many participants it affects) only that page asks for.
    exclude = ["token_encrypted", "webhook_secret_encrypted"]
    # The webhook subscription is set up by 'subscribe' (or the page), which keeps it in step with Prolific.
    readonly_fields = [
        "token_hint", "webhook_secret_hint", "return_excluded_for_quality",
        "workspace_id", "hook_subscription_id", "hook_target_url", "hook_confirmed_at",
    ]  # fmt: skip


@admin.register(ProlificSubmission)
class ProlificSubmissionAdmin(StudyScopedAdmin):
    list_display = ["study", "participant", "status", "status_at"]
    list_filter = ["status", only_related("study")]
    exclude = ["submission_id", "prolific_pid"]
    readonly_fields = ["study", "participant", "status", "status_at", "started_at", "completed_at", "return_requested_at"]


@admin.register(ReviewAction)
class ReviewActionAdmin(StudyScopedAdmin):
    list_display = ["study", "participant", "action", "state", "sent_at", "confirmed_at"]
    list_filter = ["action", "state", only_related("study")]
    readonly_fields = [f.name for f in ReviewAction._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(StudyScopedAdmin):
    list_display = ["event_type", "study", "status", "outcome", "event_at", "received_at"]
    list_filter = ["outcome", "event_type"]
    readonly_fields = [f.name for f in WebhookEvent._meta.fields]


@admin.register(ApiCall)
class ApiCallAdmin(StudyScopedAdmin):
    list_display = ["created_at", "study", "method", "path", "subject", "status_code", "attempt", "duration_ms"]
    list_filter = ["status_code", "method"]
    readonly_fields = [f.name for f in ApiCall._meta.fields]

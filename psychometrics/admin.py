from django.contrib import admin

from config.admin_scope import StudyScopedAdmin, only_related
from psychometrics.models import Analysis, ParticipantOverride, StudyAnalysisSettings


@admin.register(StudyAnalysisSettings)
class StudyAnalysisSettingsAdmin(StudyScopedAdmin):
    list_display = [
        "study", "max_failed_checks", "min_completion_seconds", "min_median_fraction", "outlier_rate",
        "max_longstring_pvq21", "threshold", "alpha", "use_fdr",
    ]


@admin.register(Analysis)
class AnalysisAdmin(StudyScopedAdmin):
    list_display = ["id", "study", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status", only_related("study")]
    readonly_fields = [f.name for f in Analysis._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ParticipantOverride)
class ParticipantOverrideAdmin(StudyScopedAdmin):
    """The audit trail of manual decisions: rows can be added, never changed or deleted."""

    study_lookup = "participant__study"
    list_display = ["participant", "decision", "note", "created_by", "created_at"]
    list_filter = ["decision"]
    search_fields = ["participant__pseudonym", "note"]
    raw_id_fields = ["participant"]
    fields = ["participant", "decision", "note"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Here, not at the top: admin modules load at every django.setup(), and the services load pandas.
        from psychometrics.services import participant_override_create

        created = participant_override_create(
            participant=obj.participant, decision=obj.decision, note=obj.note, user=request.user
        )
        obj.pk = created.pk
        obj.created_at = created.created_at

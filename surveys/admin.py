"""Admin for studies, item groups, items and participants (answers are read-only)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from config.admin_scope import StudyScopedAdmin, only_related
from surveys.importing import FORMATS, ItemImportError, import_file
from surveys.models import (
    AttentionCheckResponse,
    InstrumentAnswer,
    Item,
    ItemGroup,
    PageSubmission,
    Participant,
    Rating,
    Study,
)
from surveys.services import participant_mark_returned


class ItemImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, JSON (array of objects) or JSONL with item_id, group, source, title, query, response.")
    format = forms.ChoiceField(choices=[("", "From the file extension")] + [(f, f) for f in FORMATS], required=False)


@admin.register(Study)
class StudyAdmin(StudyScopedAdmin):
    study_lookup = ""
    list_display = ["slug", "title", "status", "n_groups", "n_items", "n_participants", "links"]
    list_filter = ["status", "is_private"]
    search_fields = ["slug", "title", "prolific_study_id"]
    filter_horizontal = ["researchers"]
    prepopulated_fields = {"slug": ["title"]}
    fieldsets = [
        (None, {"fields": ["slug", "title", "status", "is_private", "researchers", "prolific_study_id"]}),
        ("Texts", {"fields": ["consent_text", "instructions_text"]}),
        ("Prolific completion codes", {"fields": ["completion_code", "failed_checks_code", "no_consent_code"]}),
        ("Design", {"fields": ["time_limit_minutes", "target_raters_per_item", "attention_check_count",
                               "attention_check_pages", "max_failed_checks", "ask_demographics"]}),
    ]
    # Pages are rebuilt from these on every request: changing them under a participant who has
    # started would move their checks and page numbers, so they are frozen once anyone arrived.
    frozen_once_started = ["attention_check_count", "attention_check_pages"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.participants.exists():
            return [*super().get_readonly_fields(request, obj), *self.frozen_once_started]
        return super().get_readonly_fields(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _groups=Count("groups", distinct=True), _items=Count("items", distinct=True),
            _participants=Count("participants", distinct=True),
        )

    @admin.display(description="groups", ordering="_groups")
    def n_groups(self, obj):
        return obj._groups

    @admin.display(description="items", ordering="_items")
    def n_items(self, obj):
        return obj._items

    @admin.display(description="participants", ordering="_participants")
    def n_participants(self, obj):
        return obj._participants

    @admin.display(description="")
    def links(self, obj):
        return format_html(
            '<a href="{}">dashboard</a> · <a href="{}">import items</a>',
            reverse("surveys:dashboard", kwargs={"slug": obj.slug}),
            reverse("admin:surveys_study_import_items", args=[obj.pk]),
        )

    def get_urls(self):
        extra = [
            path("<int:study_id>/import-items/", self.admin_site.admin_view(self.import_items_view),
                 name="surveys_study_import_items"),
        ]
        return extra + super().get_urls()

    def import_items_view(self, request, study_id):
        study = get_object_or_404(self.get_queryset(request), pk=study_id)
        if not self.has_change_permission(request, study):
            raise PermissionDenied
        form = ItemImportForm(request.POST or None, request.FILES or None)
        errors = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_file(study=study, data=upload.read(), filename=upload.name,
                                     fmt=form.cleaned_data["format"] or None)
            except ItemImportError as error:
                errors = error.errors
            else:
                self.message_user(request, f"Imported {result.items_created} items ({result.groups_created} new item groups).",
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:surveys_study_change", args=[study.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Import items into {study.slug}",
                   "study": study, "form": form, "errors": errors, "opts": self.model._meta}
        return TemplateResponse(request, "surveys/admin_import_items.html", context)


@admin.register(ItemGroup)
class ItemGroupAdmin(StudyScopedAdmin):
    list_display = ["name", "study", "n_items"]
    list_filter = [only_related("study")]
    search_fields = ["name", "study__slug"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_items=Count("items"))

    @admin.display(description="items", ordering="_items")
    def n_items(self, obj):
        return obj._items


@admin.register(Item)
class ItemAdmin(StudyScopedAdmin):
    list_display = ["item_id", "study", "group", "source", "title", "short_response"]
    list_filter = [only_related("study"), only_related("group"), "source"]
    search_fields = ["item_id", "title", "query", "response"]
    list_select_related = ["study", "group"]

    @admin.display(description="response")
    def short_response(self, obj):
        return obj.response[:80]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PageSubmissionInline(ReadOnlyInline):
    model = PageSubmission
    fields = ["step", "page_key", "submitted_at"]


class RatingInline(ReadOnlyInline):
    model = Rating
    fields = ["item", "rating", "answered_at"]


class CheckInline(ReadOnlyInline):
    model = AttentionCheckResponse
    fields = ["check_key", "step", "expected", "answer", "passed", "answered_at"]


class InstrumentAnswerInline(ReadOnlyInline):
    model = InstrumentAnswer
    fields = ["instrument", "question", "answer", "answered_at"]


@admin.register(Participant)
class ParticipantAdmin(StudyScopedAdmin):
    list_display = ["pseudonym", "study", "group", "status", "is_preview", "step", "arrived_at", "completed_at"]
    list_filter = [only_related("study"), "status", "is_preview", only_related("group"), "gender", "age_band"]
    search_fields = ["pseudonym", "prolific_pid", "prolific_session_id"]
    list_select_related = ["study", "group"]
    date_hierarchy = "arrived_at"
    exclude = ["token"]
    inlines = [PageSubmissionInline, RatingInline, CheckInline, InstrumentAnswerInline]
    actions = ["mark_returned"]

    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "token"]

    @admin.action(description="Mark as returned on Prolific (frees their place)")
    def mark_returned(self, request, queryset):
        for participant in queryset.filter(status=Participant.Status.ACTIVE):
            participant_mark_returned(participant=participant)
        self.message_user(request, "Active participants among those selected are now marked as returned.")

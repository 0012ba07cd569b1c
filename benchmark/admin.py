"""Admin for the operator's credential grants (superusers only: a grant hands out a server-held API key)."""

from django import forms
from django.contrib import admin

from benchmark import credentials
from benchmark.models import CredentialGrant


class CredentialGrantForm(forms.ModelForm):
    credential = forms.ChoiceField(choices=())

    class Meta:
        model = CredentialGrant
        fields = ["credential", "study", "group"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["credential"].choices = [
            (c.name, f"{c.name} ({c.provider}: {', '.join(c.hosts)})") for c in credentials.configured().values()
        ]

    def clean(self):
        data = super().clean()
        if bool(data.get("study")) == bool(data.get("group")):
            raise forms.ValidationError("Grant the credential to a study or to a group (exactly one).")
        return data


@admin.register(CredentialGrant)
class CredentialGrantAdmin(admin.ModelAdmin):
    form = CredentialGrantForm
    list_display = ["credential", "study", "group", "created_at"]
    list_filter = ["credential"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_add_permission = has_change_permission = has_delete_permission = has_view_permission

"""Forms of the researcher pages that set a study up: its settings and item uploads."""

from django import forms

from surveys.importing import FORMATS
from surveys.models import Study
from surveys.study_setup import FROZEN_ONCE_STARTED

STUDY_SECTIONS = [
    ("Study", ["title", "slug", "prolific_study_id", "is_private"]),
    ("Texts", ["consent_text", "instructions_text"]),
    ("Prolific completion codes", ["completion_code", "failed_checks_code", "no_consent_code"]),
    ("Participants", ["target_raters_per_item", "time_limit_minutes", "ask_demographics", "time_zone"]),
    ("Attention checks", ["attention_check_count", "attention_check_pages", "max_failed_checks"]),
]


class StudyForm(forms.ModelForm):
    """A study's settings. On an existing study the slug is fixed unless it is a draft, and the
    attention check placement is fixed once anyone has started (the service enforces both)."""

    class Meta:
        model = Study
        fields = [name for _, names in STUDY_SECTIONS for name in names]
        labels = {
            "slug": "Slug (in the participant link)",
            "prolific_study_id": "Prolific study id",
            "is_private": "Keep this study's items out of the public API",
            "completion_code": "Completed",
            "failed_checks_code": "Failed attention checks",
            "no_consent_code": "Declined consent",
            "target_raters_per_item": "Raters per item group (target)",
            "time_limit_minutes": "Time limit (minutes)",
            "time_zone": "Time zone of the dashboard",
            "ask_demographics": "Ask gender and age band",
            "attention_check_count": "Number of attention checks",
            "attention_check_pages": "Where the checks go",
            "max_failed_checks": "Failed checks allowed before the survey ends",
        }
        help_texts = {
            "slug": "Letters, digits, '-' and '_'. Participants open /s/<slug>/; fixed once the study has opened.",
            "prolific_study_id": "From the Prolific study's page; links carrying another STUDY_ID are refused.",
            "consent_text": "The first page. Participants agree or decline; declining ends the survey with the declined-consent code.",
            "instructions_text": "The second page; empty shows the standard instructions.",
            "target_raters_per_item": "Each group is closed to newcomers when this many participants hold a place in it.",
        }
        widgets = {
            "consent_text": forms.Textarea(attrs={"rows": 6}),
            "instructions_text": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, frozen_checks: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        study = self.instance
        if study.pk and study.status != Study.Status.DRAFT:
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = "Fixed: the study has been opened, and the slug is in its participant link."
        if frozen_checks:
            for name in FROZEN_ONCE_STARTED:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Fixed: participants (or previews) have started this study."
        self.fields["consent_text"].required = True

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in STUDY_SECTIONS]


class ItemUploadForm(forms.Form):
    file = forms.FileField(
        label="Items file",
        help_text="CSV, JSON (an array of objects) or JSONL with item_id, group, source, title, query, response.",
    )
    format = forms.ChoiceField(
        choices=[("", "From the file extension")] + [(f, f.upper()) for f in FORMATS], required=False,
    )

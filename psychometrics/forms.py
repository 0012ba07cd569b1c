"""The screening rules and selection criteria of a study, edited on the study's settings page."""

from django import forms

from psychometrics.models import StudyAnalysisSettings

SCREENING_FIELDS = [
    "max_failed_checks", "min_completion_seconds", "min_median_fraction", "exclude_identical_answers",
    "max_longstring_pvq21", "max_longstring_bfi10", "outlier_rate", "min_pvq21_consistency", "min_bfi10_consistency",
]
SELECTION_FIELDS = ["threshold", "alpha", "use_fdr"]


class ScreeningRulesForm(forms.ModelForm):
    """Every rule of ``StudyAnalysisSettings`` (blank switches a rule off) and the selection criteria."""

    class Meta:
        model = StudyAnalysisSettings
        fields = SCREENING_FIELDS + SELECTION_FIELDS
        labels = {
            "max_failed_checks": "Most failed attention checks kept",
            "min_completion_seconds": "Shortest completion time kept (seconds)",
            "min_median_fraction": "Shortest completion time kept (share of the median)",
            "exclude_identical_answers": "Exclude identical answers to a whole questionnaire",
            "max_longstring_pvq21": "Longest run of identical PVQ-21 answers kept",
            "max_longstring_bfi10": "Longest run of identical BFI-10 answers kept",
            "outlier_rate": "Outlier screen: share of ordinary respondents flagged",
            "min_pvq21_consistency": "Lowest PVQ-21 even-odd consistency kept",
            "min_bfi10_consistency": "Lowest BFI-10 even-odd consistency kept",
            "threshold": "Select items with |ρ| at least",
            "alpha": "Select items with p below",
            "use_fdr": "Benjamini–Hochberg correction",
        }

    def clean_threshold(self):
        threshold = self.cleaned_data["threshold"]
        if not 0 <= threshold <= 1:
            raise forms.ValidationError(f"A correlation threshold is between 0 and 1, got {threshold}.")
        return threshold

    def clean_alpha(self):
        alpha = self.cleaned_data["alpha"]
        if not 0 < alpha < 1:
            raise forms.ValidationError(f"Alpha is a probability strictly between 0 and 1, got {alpha}.")
        return alpha

    def screening_fields(self):
        return [self[name] for name in SCREENING_FIELDS]

    def selection_fields(self):
        return [self[name] for name in SELECTION_FIELDS]

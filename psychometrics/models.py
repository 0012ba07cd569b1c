"""Analyses of a study's answers: the rules used, every participant decision and every item x dimension result."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from psychometrics.stats.rules import FilterRules
from psychometrics.stats.selection import DEFAULT_ALPHA, DEFAULT_THRESHOLD
from surveys.models import Item, Participant, Study

_DEFAULT_RULES = FilterRules()


class StudyAnalysisSettings(models.Model):
    """A study's participant-filtering rules and selection criteria (defaults from the paper)."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="analysis_settings")
    max_failed_checks = models.PositiveIntegerField(
        null=True, blank=True, default=_DEFAULT_RULES.max_failed_checks,
        help_text="Exclude participants with more failed attention checks than this. Blank: no rule.",
    )
    min_completion_seconds = models.PositiveIntegerField(
        null=True, blank=True, default=None,
        help_text="Exclude participants who completed faster than this many seconds (fit it to this study's "
        "length). Blank: only the median rule below.",
    )
    min_median_fraction = models.FloatField(
        null=True, blank=True, default=_DEFAULT_RULES.min_median_fraction,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Exclude participants faster than this fraction of the median completion time "
        "(0.5 = Leiner 2019's relative speed index 2). Blank: no rule.",
    )
    exclude_identical_answers = models.BooleanField(
        default=_DEFAULT_RULES.exclude_identical_answers,
        help_text="Exclude participants with one answer to every PVQ-21 item or every BFI-10 item.",
    )
    max_longstring_pvq21 = models.PositiveIntegerField(
        null=True, blank=True, default=_DEFAULT_RULES.max_longstring_pvq21,
        validators=[MinValueValidator(1)],
        help_text="Exclude participants with a run of identical PVQ-21 answers longer than this. Blank: no rule.",
    )
    max_longstring_bfi10 = models.PositiveIntegerField(
        null=True, blank=True, default=_DEFAULT_RULES.max_longstring_bfi10,
        validators=[MinValueValidator(1)],
        help_text="Exclude participants with a run of identical BFI-10 answers longer than this. Blank: no rule.",
    )
    outlier_rate = models.FloatField(
        null=True, blank=True, default=_DEFAULT_RULES.outlier_rate,
        validators=[MinValueValidator(0), MaxValueValidator(0.5)],
        help_text="Outlier screen: share of ordinary respondents it may flag (0.04, calibrated). Blank: no rule.",
    )
    min_pvq21_consistency = models.FloatField(
        null=True, blank=True, default=_DEFAULT_RULES.min_pvq21_consistency,
        help_text="Opt-in: minimum even-odd consistency over the PVQ-21 values (Johnson, 2005: .30; excludes "
        "about a quarter of real respondents). Blank: no rule.",
    )
    min_bfi10_consistency = models.FloatField(
        null=True, blank=True, default=_DEFAULT_RULES.min_bfi10_consistency,
        help_text="Opt-in: minimum even-odd (antonym-pair) consistency over the BFI-10 traits. Blank: no rule.",
    )
    threshold = models.FloatField(default=DEFAULT_THRESHOLD, help_text="Select items with |rho| at least this.")
    alpha = models.FloatField(default=DEFAULT_ALPHA, help_text="Select items with p below this.")
    use_fdr = models.BooleanField(default=False, help_text="Compare Benjamini-Hochberg adjusted p-values with alpha.")

    class Meta:
        verbose_name = "study analysis settings"
        verbose_name_plural = "study analysis settings"
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=0) & Q(threshold__lte=1), name="settings_threshold_range"),
            models.CheckConstraint(condition=Q(alpha__gt=0) & Q(alpha__lt=1), name="settings_alpha_range"),
        ]

    def __str__(self) -> str:
        return f"analysis settings of {self.study.slug}"

    def filter_rules(self) -> FilterRules:
        return FilterRules(
            max_failed_checks=self.max_failed_checks,
            min_completion_seconds=None if self.min_completion_seconds is None else float(self.min_completion_seconds),
            min_median_fraction=self.min_median_fraction,
            exclude_identical_answers=self.exclude_identical_answers,
            max_longstring_pvq21=self.max_longstring_pvq21,
            max_longstring_bfi10=self.max_longstring_bfi10,
            outlier_rate=self.outlier_rate,
            min_pvq21_consistency=self.min_pvq21_consistency,
            min_bfi10_consistency=self.min_bfi10_consistency,
        )


class Analysis(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        # Ran to the end but nothing could be computed (nobody kept, too few raters): ``warning`` says why.
        WARNING = "warning", "Finished with a warning"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.WARNING)

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="analyses")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0, help_text="Share of the work done, 0 to 1.")
    task_id = models.CharField(max_length=64, blank=True)
    rules = models.JSONField(help_text="The participant-filtering rule set this analysis used.")
    threshold = models.FloatField(default=DEFAULT_THRESHOLD)
    alpha = models.FloatField(default=DEFAULT_ALPHA)
    use_fdr = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    warning = models.TextField(blank=True, help_text="Why an analysis finished with a warning (nothing could be computed).")

    class Meta:
        verbose_name_plural = "analyses"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1), name="analysis_progress_range"),
            models.CheckConstraint(condition=Q(threshold__gte=0) & Q(threshold__lte=1), name="analysis_threshold_range"),
            models.CheckConstraint(condition=Q(alpha__gt=0) & Q(alpha__lt=1), name="analysis_alpha_range"),
        ]

    def __str__(self) -> str:
        return f"analysis {self.pk} of {self.study.slug}"


class ParticipantDecision(models.Model):
    """Whether a participant's answers were analysed, with the reasons (codes of ``stats.filtering.REASONS``)."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="decisions")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="analysis_decisions")
    kept = models.BooleanField()
    reasons = models.JSONField(default=list, blank=True)
    manual = models.CharField(max_length=8, blank=True, help_text="A researcher's include/exclude, if any.")
    failed_checks = models.PositiveIntegerField(default=0)
    completion_seconds = models.FloatField(null=True, blank=True)
    pvq21_consistency = models.FloatField(null=True, blank=True)
    bfi10_consistency = models.FloatField(null=True, blank=True)
    indices = models.JSONField(
        default=dict, blank=True, help_text="Every careless-responding index computed (null where not computable)."
    )

    class Meta:
        ordering = ["analysis", "participant"]
        constraints = [
            models.UniqueConstraint(fields=["analysis", "participant"], name="decision_unique_participant"),
        ]

    def __str__(self) -> str:
        return f"{'kept' if self.kept else 'excluded'} {self.participant.pseudonym}"


class ItemCorrelation(models.Model):
    """Spearman's rho of one item with one dimension in one analysis, and whether it was selected."""

    analysis = models.ForeignKey(Analysis, on_delete=models.CASCADE, related_name="correlations")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="correlations")
    family = models.CharField(max_length=16)
    dimension = models.CharField(max_length=64)
    rho = models.FloatField(null=True, blank=True, help_text="Null when undefined (constant ratings or scores).")
    p_value = models.FloatField(null=True, blank=True)
    p_adjusted = models.FloatField(null=True, blank=True, help_text="Benjamini-Hochberg adjusted p-value.")
    n = models.PositiveIntegerField(help_text="Raters with both a rating and a score.")
    selected = models.BooleanField(default=False)
    direction = models.SmallIntegerField(default=0, help_text="1 positively keyed, -1 negatively keyed, 0 not selected.")

    class Meta:
        ordering = ["analysis", "item", "id"]
        constraints = [
            models.UniqueConstraint(fields=["analysis", "item", "dimension"], name="correlation_unique_dimension"),
            models.CheckConstraint(condition=Q(rho__isnull=True) | (Q(rho__gte=-1) & Q(rho__lte=1)), name="correlation_rho_range"),
            models.CheckConstraint(condition=Q(direction__in=[-1, 0, 1]), name="correlation_direction_values"),
            models.CheckConstraint(condition=Q(selected=False) | ~Q(direction=0), name="correlation_selected_has_direction"),
        ]
        indexes = [models.Index(fields=["analysis", "selected", "family"], name="correlation_selected_idx")]

    def __str__(self) -> str:
        return f"{self.item.item_id} x {self.dimension}"


class ParticipantOverride(models.Model):
    """A researcher's decision to include or exclude a participant by hand. Rows are never changed:
    the newest row of a participant is in force ("automatic" returns the participant to the rules)."""

    class Decision(models.TextChoices):
        INCLUDE = "include", "Include"
        EXCLUDE = "exclude", "Exclude"
        AUTOMATIC = "automatic", "Back to the rules"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="overrides")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    note = models.TextField(help_text="Why: kept in the audit trail.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["participant", "created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(note=""), name="override_note_required"),
            models.CheckConstraint(condition=Q(decision__in=["include", "exclude", "automatic"]), name="override_decision_values"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.participant.pseudonym}"

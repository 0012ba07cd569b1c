"""Item banks, models (LLMs), benchmark runs, the completion cache, answers, scores and human references.

A run evaluates one model on one item bank under one condition (baseline, persona, steering or a
custom system prompt). Every (item, prompt) pair of a run gets one ``Answer``; every answer points at
the cached ``Completion`` it came from, so a resumed or repeated run costs no new requests.
Scores are computed from the answers when the run completes and stored per family × dimension.
"""

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q

PROMPT_COUNT = 6
RATING_MIN, RATING_MAX = 1, 6


class ItemBank(models.Model):
    """A named, versioned set of benchmark items with their value/trait correlations."""

    name = models.CharField(max_length=100, unique=True)
    version = models.CharField(max_length=32, default="1")
    description = models.TextField(blank=True)
    is_private = models.BooleanField(default=False, help_text="Hide this bank's items from public API reads.")
    source_study = models.ForeignKey(
        "surveys.Study", null=True, blank=True, on_delete=models.SET_NULL, related_name="item_banks"
    )
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="item_banks",
        help_text="Who imported the bank; a private bank is visible to its owner and its study's researchers.",
    )
    selection_rules = models.JSONField(
        null=True, blank=True,
        help_text="The rule set of the bank's stored selection (threshold, alpha, fdr, …) from the file's header; "
        "null for a bank file without one (runs then apply the default rule).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class BankItem(models.Model):
    """One query-response pair of an item bank. ``title`` is empty for items without a title."""

    bank = models.ForeignKey(ItemBank, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField(max_length=128)
    source = models.CharField(max_length=64, blank=True)
    title = models.TextField(blank=True)
    query = models.TextField()
    response = models.TextField()

    class Meta:
        ordering = ["bank", "id"]
        constraints = [models.UniqueConstraint(fields=["bank", "item_id"], name="bankitem_unique_id")]

    def __str__(self) -> str:
        return self.item_id


class ItemCorrelation(models.Model):
    """Spearman correlation between human ratings of an item and raters' scores on one dimension."""

    item = models.ForeignKey(BankItem, on_delete=models.CASCADE, related_name="correlations")
    family = models.CharField(max_length=32)
    dimension = models.CharField(max_length=64)
    rho = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    n = models.PositiveIntegerField(default=0)
    p_adjusted = models.FloatField(null=True, blank=True, help_text="Adjusted p-value (null when no correction was applied).")
    selected = models.BooleanField(
        null=True, blank=True, help_text="Whether the bank's analysis selected the item for this dimension (null: not stored)."
    )

    class Meta:
        ordering = ["item", "family", "dimension"]
        constraints = [
            models.UniqueConstraint(fields=["item", "family", "dimension"], name="itemcorrelation_unique"),
        ]
        indexes = [models.Index(fields=["family", "dimension"], name="itemcorrelation_dim_idx")]

    def __str__(self) -> str:
        return f"{self.item_id} {self.family}/{self.dimension} rho={self.rho}"


class LLM(models.Model):
    """A language model as evaluated: provider, model name and (for self-hosted servers) base URL."""

    provider = models.CharField(max_length=32)
    name = models.CharField(max_length=200, help_text="The model name sent to the provider's API.")
    base_url = models.CharField(max_length=500, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    organization = models.CharField(max_length=100, blank=True)
    is_published_only = models.BooleanField(
        default=False, help_text="Known only from published results (e.g. the paper's tables), never run here."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name", "base_url"], name="llm_unique_endpoint"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.name


class Run(models.Model):
    """One model evaluated on one item bank under one condition."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        FAILED = "failed", "Failed"
        COMPLETED = "completed", "Completed"
        # "running" without a heartbeat for BENCHMARK_RUN_STALE_SECONDS: its process died; resumable.
        INTERRUPTED = "interrupted", "Interrupted"

    class Source(models.TextChoices):
        RUN = "run", "Run on this platform"
        PUBLISHED = "published", "Published results"
        IMPORTED = "imported", "Imported answers"

    bank = models.ForeignKey(ItemBank, on_delete=models.PROTECT, related_name="runs")
    llm = models.ForeignKey(LLM, on_delete=models.PROTECT, related_name="runs")
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    base_url = models.CharField(max_length=500, blank=True)
    credential = models.CharField(
        max_length=64, blank=True, help_text="Operator-configured credential (BENCHMARK_CREDENTIALS) the run uses."
    )
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="threshold, alpha, mode, temperature, max_tokens, params, preset, concurrency, persona/steer key …; "
                  "request: what the run sends (model family, body parameters, what is left out and why).",
    )
    protocol = models.JSONField(
        default=dict, blank=True,
        help_text="The scoring protocol (benchmark.protocol): bank, item selection, prompts, temperature, max tokens, "
        "provider parameters, parser, mode.",
    )
    protocol_digest = models.CharField(max_length=64, blank=True, db_index=True, help_text="sha256 of ``protocol``.")
    system_prompt = models.TextField(blank=True)
    condition = models.CharField(
        max_length=100, default="baseline", help_text="'baseline', 'persona:<key>', 'steer:<value>' or 'custom'."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.RUN)
    is_published = models.BooleanField(default=True, help_text="Scores visible on the public results pages.")

    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    answered = models.PositiveIntegerField(default=0, help_text="Answers received.")
    parsed = models.PositiveIntegerField(default=0, help_text="Answers mapped to a rating 1-6.")
    failed = models.PositiveIntegerField(default=0, help_text="Answers the parser could not map.")
    error = models.TextField(blank=True, help_text="Why the run stopped, with the provider's reply: its researchers only.")
    concurrency_settled = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Requests in flight when the last execution ended: the adaptive limit with concurrency 'auto'.",
    )
    celery_task_id = models.CharField(max_length=255, blank=True)
    batch = models.JSONField(
        default=dict, blank=True,
        help_text="Provider batch job (run_benchmark --batch): its id and state, so a restart polls it instead of "
                  "submitting again. Empty for runs requested one by one.",
    )

    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="benchmark_runs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the process executing the run (every few seconds)."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "condition"], name="run_status_idx")]

    def __str__(self) -> str:
        return f"run {self.pk}: {self.model} on {self.bank.name} ({self.condition})"

    def save(self, *args, **kwargs):
        # Every run carries its protocol, however it was created (services, admin, fixtures): the
        # results pages compare runs only within one protocol.
        if not self.protocol_digest:
            from benchmark.protocol import protocol_digest
            from benchmark.selectors import run_protocol

            self.protocol = run_protocol(self)
            self.protocol_digest = protocol_digest(self.protocol)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "protocol", "protocol_digest"}
        super().save(*args, **kwargs)

    @property
    def parse_rate(self) -> float | None:
        return self.parsed / self.answered if self.answered else None


class CredentialGrant(models.Model):
    """The operator lets the researchers of a study, or the members of a group, use a named credential."""

    credential = models.CharField(max_length=64, help_text="A name in BENCHMARK_CREDENTIALS.")
    study = models.ForeignKey("surveys.Study", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="credential_grants")
    group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="credential_grants")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["credential", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(study__isnull=False, group__isnull=True) | Q(study__isnull=True, group__isnull=False), name="grant_study_xor_group"),
            models.UniqueConstraint(fields=["credential", "study"], name="grant_unique_study"),
            models.UniqueConstraint(fields=["credential", "group"], name="grant_unique_group"),
        ]

    def __str__(self) -> str:
        return f"{self.credential} for {self.study or self.group}"


class Completion(models.Model):
    """The completion cache: one provider response per hash of what determines it."""

    key = models.CharField(max_length=64, unique=True, help_text="sha256 of provider, base URL, model, parameters, messages.")
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    base_url = models.CharField(max_length=500, blank=True)
    request = models.JSONField(help_text="The request body as sent (without credentials).")
    response_text = models.TextField()
    logprobs = models.JSONField(null=True, blank=True)
    finish_reason = models.CharField(
        max_length=64, blank=True, default="",
        help_text="Why the model stopped, as the API spells it (finish_reason, stop_reason, finishReason).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.model} {self.key[:12]}"


class Answer(models.Model):
    """A model's answer to one item under one of the six prompts; ``rating`` null = unparsed."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(BankItem, on_delete=models.CASCADE, related_name="answers")
    prompt_index = models.PositiveSmallIntegerField()
    completion = models.ForeignKey(Completion, null=True, blank=True, on_delete=models.SET_NULL, related_name="answers")
    raw_text = models.TextField(blank=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    expected_rating = models.FloatField(
        null=True, blank=True, help_text="Expected rating over the six options from log-probabilities, if returned."
    )
    finish_reason = models.CharField(
        max_length=64, blank=True, default="",
        help_text="Why the model stopped: 'stop'/'end_turn'/'STOP', or 'length'/'max_tokens'/'MAX_TOKENS' when cut off.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "item", "prompt_index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "item", "prompt_index"], name="answer_unique_prompt"),
            models.CheckConstraint(condition=Q(prompt_index__lt=PROMPT_COUNT), name="answer_prompt_index_range"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=RATING_MIN, rating__lte=RATING_MAX),
                name="answer_rating_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.item_id}/{self.prompt_index}: {self.rating}"


class Score(models.Model):
    """A run's score on one dimension: centred ``score``, uncentred ``mean``, bootstrap 95% CI of ``score``."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="scores")
    family = models.CharField(max_length=32)
    dimension = models.CharField(max_length=64)
    score = models.FloatField(null=True, blank=True)
    mean = models.FloatField(null=True, blank=True)
    sd = models.FloatField(null=True, blank=True)
    n_items = models.PositiveIntegerField(default=0)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["run", "family", "dimension"]
        constraints = [models.UniqueConstraint(fields=["run", "family", "dimension"], name="score_unique_dimension")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.family}/{self.dimension}: {self.score}"


class HumanReference(models.Model):
    """A human reference group (e.g. ESS 'Female' or 'Age 20-39') with per-dimension values.

    ``kind`` says what the values are, so that only like is compared with like (docs/results.md):
    a *deviation* (the group's mean minus the population's, as the paper's ESS rows; compared with
    a persona run minus its baseline) or a *profile* of the group itself, either centred (each
    person's value minus their own mean, as Schwartz scores) or mean ratings (uncentred).
    """

    class Kind(models.TextChoices):
        DEVIATION = "deviation", "deviation from the population (group − population)"
        CENTRED = "centred", "profile, centred (value − own mean)"
        MEAN = "mean", "profile, mean ratings (uncentred)"

    name = models.CharField(max_length=100, unique=True)
    group_kind = models.CharField(max_length=32, blank=True, help_text="gender, age, politics, education, …")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DEVIATION,
                            help_text="What the values are: a deviation from the population or a profile.")
    bank = models.ForeignKey(
        ItemBank, null=True, blank=True, on_delete=models.CASCADE, related_name="rater_profiles",
        help_text="Set when this is the profile of the kept participants who rated this item bank's items.",
    )
    description = models.TextField(blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["group_kind", "name"]

    def __str__(self) -> str:
        return self.name


class HumanReferenceValue(models.Model):
    reference = models.ForeignKey(HumanReference, on_delete=models.CASCADE, related_name="values")
    family = models.CharField(max_length=32)
    dimension = models.CharField(max_length=64)
    value = models.FloatField()

    class Meta:
        ordering = ["reference", "family", "dimension"]
        constraints = [
            models.UniqueConstraint(fields=["reference", "family", "dimension"], name="humanreferencevalue_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.reference.name} {self.family}/{self.dimension}={self.value}"

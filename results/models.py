"""The results app stores only what visitors explicitly agree to share: their self-test answers."""

from django.db import models


class SelfTestResponse(models.Model):
    """PVQ-21 answers of a self-test visitor who ticked "store my answers"; no identity, no IP address."""

    form = models.CharField(max_length=16, help_text="PVQ-21 form shown: male, female or neutral.")
    answers = models.JSONField(help_text='{"1": 1-6, ..., "21": 1-6}')
    profile = models.JSONField(help_text="Centred Schwartz scores computed from the answers.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"self-test {self.pk} ({self.form})"

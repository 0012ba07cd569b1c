from django import forms

from prolific.models import MIN_REJECTION_MESSAGE_LENGTH


class ProlificSettingsForm(forms.Form):
    prolific_study_id = forms.CharField(max_length=64, required=False, label="Prolific study id")
    token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        label="API token",
        help_text="Stored encrypted. Leave empty to keep the current token.",
    )
    token_env_var = forms.CharField(
        max_length=64,
        required=False,
        label="…or environment variable holding the token",
        help_text="One the server operator allows for this study (PROLIFIC_TOKEN_ENV_VARS). Replaces a stored token.",
    )
    webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Prolific webhook secret for this study's workspace. Leave empty to keep.",
    )
    rejection_message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        min_length=MIN_REJECTION_MESSAGE_LENGTH,
        help_text=f"Sent with every rejection; Prolific requires at least {MIN_REJECTION_MESSAGE_LENGTH} characters.",
    )
    return_reason = forms.CharField(max_length=300, help_text="Sent when asking a participant to return.")
    return_excluded_for_quality = forms.BooleanField(
        required=False,
        label="Ask participants the analysis excluded to return (returns for data quality)",
        help_text="Off (the default): everyone who completed the study is approved, whatever the analysis decided "
        "about their answers; only at least two failed attention checks lead to a rejection (Prolific's policy). "
        "On: those the latest analysis excluded for anything but attention checks (too fast, identical, "
        "inconsistent or outlying answers, a researcher's exclusion) are asked to return instead; never rejected.",
    )
    confirm_quality_returns = forms.BooleanField(required=False)
    quality_returns_count = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(
        self, *args, token_env_help: str | None = None, quality_returns_now: int = 0, quality_returns_on: bool = False,
        **kwargs,
    ):  # fmt: skip
        super().__init__(*args, **kwargs)
        if token_env_help:
            self.fields["token_env_var"].help_text = token_env_help
        if quality_returns_on:
            del self.fields["confirm_quality_returns"], self.fields["quality_returns_count"]
        else:
            confirm = self.fields["confirm_quality_returns"]
            confirm.label = f"Yes, ask these {quality_returns_now} participants to return"
            confirm.help_text = (
                "Needed to turn the setting on: the number of participants who finished the study whom the latest "
                "analysis excluded for a reason other than attention checks."
            )
            self.fields["quality_returns_count"].initial = quality_returns_now

    @property
    def confirmed_quality_returns(self) -> int | None:
        """The count the researcher confirmed (the one shown when the page was rendered), if they ticked the box."""
        if not self.cleaned_data.get("confirm_quality_returns"):
            return None
        return self.cleaned_data.get("quality_returns_count")

    def clean(self):
        data = super().clean()
        if data.get("token") and data.get("token_env_var"):
            raise forms.ValidationError("Give either a token to store or an environment variable name, not both.")
        return data


class ReviewSendForm(forms.Form):
    digest = forms.CharField(max_length=64)


class WebhookSubscribeForm(forms.Form):
    workspace_id = forms.CharField(
        max_length=64, label="Prolific workspace id", help_text="In Prolific's address bar when the workspace is open."
    )
    target_url = forms.URLField(
        max_length=500, assume_scheme="https", label="Webhook address",
        help_text="This platform's webhook endpoint as Prolific reaches it; Prolific requires public https.",
    )  # fmt: skip
    new_secret = forms.BooleanField(
        required=False, label="Create a new workspace secret even if one is stored here",
        help_text="Prolific keeps one secret per workspace: a new one replaces the old for every study of the workspace.",
    )  # fmt: skip

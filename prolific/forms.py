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

    def __init__(self, *args, token_env_help: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if token_env_help:
            self.fields["token_env_var"].help_text = token_env_help

    def clean(self):
        data = super().clean()
        if data.get("token") and data.get("token_env_var"):
            raise forms.ValidationError("Give either a token to store or an environment variable name, not both.")
        return data


class ReviewSendForm(forms.Form):
    digest = forms.CharField(max_length=64)

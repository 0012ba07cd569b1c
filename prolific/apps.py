from django.apps import AppConfig


class ProlificAppConfig(AppConfig):
    name = "prolific"
    verbose_name = "Prolific operations"

import logging

from django.apps import AppConfig


class ProlificAppConfig(AppConfig):
    name = "prolific"
    verbose_name = "Prolific operations"

    def ready(self):
        from django.core import checks

        checks.register(token_env_vars_check)

        from config.logging import RedactParticipantData

        # httpx logs each request's full URL at INFO, submission ids included; whatever level and
        # handlers the logging settings give it, those ids must not reach the logs.
        httpx_logger = logging.getLogger("httpx")
        if not any(isinstance(f, RedactParticipantData) for f in httpx_logger.filters):
            httpx_logger.addFilter(RedactParticipantData())


def token_env_vars_check(app_configs=None, **kwargs):
    """PROLIFIC_TOKEN_ENV_VARS names variables and the studies that may use them; say at startup if it cannot."""
    from django.core.checks import Error

    from prolific.services import token_env_config_problems

    return [Error(problem, hint="See docs/prolific.md, 'Token from the environment'.", id="prolific.E001")
            for problem in token_env_config_problems()]

import logging

from django.apps import AppConfig


class ProlificAppConfig(AppConfig):
    name = "prolific"
    verbose_name = "Prolific operations"

    def ready(self):
        from prolific.client import RedactProlificIds

        # httpx logs each request's full URL at INFO, submission ids included; whatever level the
        # logging settings give it, those ids must not reach the logs.
        httpx_logger = logging.getLogger("httpx")
        if not any(isinstance(f, RedactProlificIds) for f in httpx_logger.filters):
            httpx_logger.addFilter(RedactProlificIds())

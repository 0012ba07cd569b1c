"""Cross-cutting request handling: body size limit (413) and a friendly page when the database is down."""

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


class BodySizeLimitMiddleware:
    """Refuse request bodies larger than DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before anything reads them.

    Django's own limit raises RequestDataTooBig (a 400) only when the body is parsed; checking the
    declared Content-Length up front answers with the right status and never buffers the body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            message = f"Request body too large: {length} bytes, the limit is {limit} bytes."
            if _wants_json(request):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A database that is restarting or unreachable gives a friendly 503, not a stack trace.

    Every write happens inside a transaction, so a request that failed here changed nothing;
    the participant can retry and resumes where their last committed page left them. SQLite's
    "database is locked" is an OperationalError too: contention, answered the same way (retry).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, type(exception).__name__)
        if _wants_json(request):
            response = JsonResponse({"detail": "The database is briefly unavailable. Please retry in a few seconds."}, status=503)
        else:
            response = HttpResponse(render_to_string("503.html", request=None), status=503)
        response["Retry-After"] = "5"
        return response


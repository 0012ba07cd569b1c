"""Cross-cutting request handling: body size limit (413), a friendly page when the database is down,
security headers, the entry-link rate limit and login throttling."""

import contextlib
import hashlib
import logging
import re
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

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



# --- hardening (issue 7): security headers, entry-link rate limit, login throttling ---

CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    # Templates set style attributes (e.g. --options on rating rows) and error pages inline <style>.
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "worker-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(*, inline_scripts: bool = False) -> str:
    """The CSP header value; ``inline_scripts`` relaxes script-src for pages that still need it."""
    directives = dict(CSP_DIRECTIVES)
    if inline_scripts:
        directives["script-src"] = "'self' 'unsafe-inline'"
        directives["worker-src"] = "'self' blob:"  # ReDoc renders in a blob: worker
        # ReDoc's side menu always shows its maker's logo from this address (no option turns it off).
        directives["img-src"] = f"{directives['img-src']} https://cdn.redoc.ly"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer", "autoplay", "browsing-topics", "camera", "display-capture", "geolocation", "gyroscope",
        "magnetometer", "microphone", "midi", "payment", "usb",
    )
)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response.

    Scripts must come from our own origin: participant, researcher and admin pages have no inline
    script. Paths listed in ``CSP_INLINE_SCRIPT_PATHS`` (pages whose templates still carry inline
    <script> blocks or handlers; see docs/hardening.md) get ``'unsafe-inline'`` for scripts until their
    scripts move to static files. HSTS, X-Content-Type-Options, Referrer-Policy and X-Frame-Options come
    from Django's SecurityMiddleware and XFrameOptionsMiddleware (settings).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.strict = content_security_policy()
        self.relaxed = content_security_policy(inline_scripts=True)

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            inline = request.path.startswith(tuple(settings.CSP_INLINE_SCRIPT_PATHS))
            response["Content-Security-Policy"] = self.relaxed if inline else self.strict
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind N trusted proxies the Nth X-Forwarded-For entry from the right."""
    hops = getattr(settings, "TRUSTED_PROXY_HOPS", 0)
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops][:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def parse_rate(text: str, setting: str) -> tuple[int, int]:
    """'60/60' (requests/seconds) as (60, 60); a clear error naming the setting otherwise."""
    try:
        count, seconds = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ImproperlyConfigured(f"{setting} must look like '60/60' (requests/seconds), got {text!r}.") from None
    if count < 1 or seconds < 1:
        raise ImproperlyConfigured(f"{setting} needs positive numbers, got {text!r}.")
    return count, seconds


def _key(*parts: str) -> str:
    return "hardening:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _hit(key: str, window: int) -> int:
    """Count one event in a fixed window; the number of events so far (0 if the cache is down)."""
    try:
        cache.add(key, 0, timeout=window)
        return cache.incr(key)
    except Exception:  # a cache outage must not stop participants; the limit just does not apply
        logger.warning("rate-limit cache unavailable; request allowed", exc_info=True)
        return 0


def _count(key: str) -> int:
    try:
        return int(cache.get(key) or 0)
    except Exception:
        logger.warning("rate-limit cache unavailable; request allowed", exc_info=True)
        return 0


def rate_limit_exceeded(request, *, scope: str, setting: str) -> int | None:
    """Count this request against the rate in ``settings.<setting>`` ('N/seconds') for the client's
    address (``client_ip``) in ``scope``; the seconds until the window ends when over the limit, else None.

    Fixed windows in the default cache (Redis in production, shared by all gunicorn workers).
    """
    limit, window = parse_rate(getattr(settings, setting), setting)
    now = int(time.time())
    if _hit(_key(scope, client_ip(request), str(window), str(now // window)), window) > limit:
        logger.warning("%s rate limit reached for one client address", scope)
        return window - now % window
    return None


def too_many_requests(request, message: str, retry_after: int):
    """429 with ``Retry-After``: JSON for API clients, the friendly page otherwise."""
    if _wants_json(request):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = HttpResponse(
            render_to_string("429.html", {"message": message}), status=429, content_type="text/html; charset=utf-8"
        )
    response["Retry-After"] = str(retry_after)
    return response


ENTRY_PATH_RE = re.compile(r"^/s/[-a-zA-Z0-9_]+/$")
MSG_ENTRY_LIMIT = (
    "Many people are starting studies from your network right now. Please wait a minute, then open the "
    "study link from Prolific again; nothing is lost."
)
MSG_LOGIN_LIMIT = "Too many failed logins. Please wait {minutes} minutes before trying again."


class EntryRateLimitMiddleware:
    """Limit requests to the Prolific entry link ``/s/<slug>/`` per client IP (``ENTRY_RATE_LIMIT``).

    The entry link creates a participant and reserves a place in an item group, so a flood of invented
    PROLIFIC_PIDs from one address could fill a study. Counters live in the default cache (Redis in
    production, so all gunicorn workers share them); participant pages (``/s/<slug>/p/<token>/``) are
    not limited.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        # A bad value fails at start-up (the self-test store limit is applied by its view).
        for setting in ("ENTRY_RATE_LIMIT", "SELF_TEST_STORE_RATE_LIMIT"):
            parse_rate(getattr(settings, setting), setting)

    def __call__(self, request):
        if ENTRY_PATH_RE.match(request.path):
            retry_after = rate_limit_exceeded(request, scope="entry", setting="ENTRY_RATE_LIMIT")
            if retry_after is not None:
                return too_many_requests(request, MSG_ENTRY_LIMIT, retry_after)
        return self.get_response(request)


class LoginThrottleMiddleware:
    """Slow down password guessing on the researcher and admin login forms.

    After ``LOGIN_FAILURES_PER_USER`` failed logins for one username from one address, or
    ``LOGIN_FAILURES_PER_IP`` from one address for any usernames, within ``LOGIN_THROTTLE_SECONDS``,
    further login POSTs from that address get 429 until the window ends. A successful login clears
    that username's count. A failed login is a login POST answered with the form again (status 200).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def _is_login(self, request) -> bool:
        if request.method != "POST":
            return False
        paths = {settings.LOGIN_URL}
        with contextlib.suppress(NoReverseMatch):
            paths.add(reverse("admin:login"))
        return request.path in paths

    def __call__(self, request):
        if not self._is_login(request):
            return self.get_response(request)
        per_user, per_ip, window = settings.LOGIN_FAILURES_PER_USER, settings.LOGIN_FAILURES_PER_IP, settings.LOGIN_THROTTLE_SECONDS
        ip = client_ip(request)
        username = str(request.POST.get("username", "")).strip().lower()[:150]
        user_key, ip_key = _key("login-user", ip, username), _key("login-ip", ip)
        if _count(user_key) >= per_user or _count(ip_key) >= per_ip:
            logger.warning("login throttled for one client address")
            return too_many_requests(request, MSG_LOGIN_LIMIT.format(minutes=max(1, window // 60)), window)
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            try:
                cache.delete(user_key)
            except Exception:
                logger.warning("rate-limit cache unavailable", exc_info=True)
        elif response.status_code == 200:
            _hit(user_key, window)
            _hit(ip_key, window)
        return response

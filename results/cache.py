"""Public results pages that never slow the survey: a page cache keyed by the data's version, and a rate limit.

The results pages are read-mostly: what they show changes only when a run, its scores, an item bank
or a human reference changes. :class:`ResultsCacheMiddleware` serves anonymous ``GET``/``HEAD``
requests under ``/results/`` from the default cache (Redis in production, so every gunicorn worker
shares it), keyed by the path with its query string, the ``Accept`` header and the **data
version**. A change to the data gives a new version, so a cached page is never stale beyond what
the version can see:

- :func:`bump_data_version` is called on every ``post_save``/``post_delete`` of the models the pages
  read (after the transaction commits);
- writes that send no signal (``bulk_create``, ``QuerySet.update``, the kind the benchmark runner
  makes) are seen by a cheap fingerprint of the database: per run status and publication flag the
  number of runs, the newest id and the latest finish time, and the largest id of the score, bank,
  correlation and reference tables, read with a handful of small queries on every request;
- ``RESULTS_CACHE_SECONDS`` (default 300) bounds the age of any entry regardless.

Only complete ``200`` responses that set no cookie and used no CSRF token are stored (a form's token
is personal); signed-in users (researchers see their private runs) always get a fresh page.

Anonymous results traffic has its own per-address limit, ``RESULTS_RATE_LIMIT`` (default 300
requests per 60 s), counted before the cache, so a loop over the results pages is answered with
``429`` long before it can take the web workers from participants.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse

logger = logging.getLogger(__name__)

PREFIX = "/results/"
VERSION_KEY = "results:data-version"
MSG_RESULTS_LIMIT = (
    "You are loading results pages very quickly. Please wait a minute; the pages and downloads stay available."
)
_SKIPPED_HEADERS = {"set-cookie", "vary"}


def bump_data_version(**_kwargs) -> None:
    """A new data version once the current transaction commits (every cached page becomes unreachable)."""

    def bump():
        try:
            cache.add(VERSION_KEY, 0, timeout=None)
            cache.incr(VERSION_KEY)
        except Exception:  # the cache being down only means pages are not served from it
            logger.warning("results cache unavailable; data version not bumped", exc_info=True)

    transaction.on_commit(bump)


def database_fingerprint() -> str:
    """What the signal-less writes change: each run's state, and the newest row of the score-bearing tables."""
    from benchmark.models import BankItem, HumanReferenceValue, ItemBank, ItemCorrelation, Run, Score

    # Per (status, published) group: how many runs, the newest, the latest finish. A run that changes state
    # moves between groups, so the counts change; a dozen rows whatever the number of runs.
    runs = (
        Run.objects.order_by("status", "is_published").values_list("status", "is_published")
        .annotate(count=Count("pk"), top=Max("pk"), finished=Max("finished_at"))
    )
    newest = [
        model.objects.aggregate(top=Max("pk"))["top"]
        for model in (Score, ItemBank, BankItem, ItemCorrelation, HumanReferenceValue)
    ]
    material = repr((list(runs), newest))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def data_version() -> str:
    try:
        counter = cache.get(VERSION_KEY, 0)
    except Exception:
        logger.warning("results cache unavailable", exc_info=True)
        counter = "down"
    return f"{counter}:{database_fingerprint()}"


def _page_key(request, version: str) -> str:
    material = "\x1f".join((request.get_full_path(), request.META.get("HTTP_ACCEPT", ""), version))
    return "results:page:" + hashlib.sha256(material.encode()).hexdigest()


def _cacheable(request, response) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and not response.cookies
        and not request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
    )


class ResultsCacheMiddleware:
    """Rate-limit anonymous results traffic, then serve it from the cache (see the module docstring)."""

    def __init__(self, get_response):
        from config.middleware import parse_rate

        self.get_response = get_response
        parse_rate(settings.RESULTS_RATE_LIMIT, "RESULTS_RATE_LIMIT")  # a bad value fails at start-up

    def __call__(self, request):
        if request.method not in ("GET", "HEAD") or not request.path.startswith(PREFIX):
            return self.get_response(request)
        if request.user.is_authenticated:
            return self.get_response(request)
        from config.middleware import rate_limit_exceeded, too_many_requests

        retry_after = rate_limit_exceeded(request, scope="results", setting="RESULTS_RATE_LIMIT")
        if retry_after is not None:
            return too_many_requests(request, MSG_RESULTS_LIMIT, retry_after)
        if settings.RESULTS_CACHE_SECONDS <= 0:
            return self.get_response(request)
        key = _page_key(request, data_version())
        try:
            stored = cache.get(key)
        except Exception:
            logger.warning("results cache unavailable; page rendered", exc_info=True)
            stored = None
        if stored is not None:
            status, content, headers = stored
            response = HttpResponse(content, status=status)
            for name, value in headers:
                response[name] = value
            response["X-Results-Cache"] = "hit"
            return response
        response = self.get_response(request)
        if _cacheable(request, response):
            headers = [(name, value) for name, value in response.items() if name.lower() not in _SKIPPED_HEADERS]
            try:
                cache.set(key, (response.status_code, response.content, headers), timeout=settings.RESULTS_CACHE_SECONDS)
            except Exception:
                logger.warning("results cache unavailable; page not stored", exc_info=True)
            response["X-Results-Cache"] = "miss"
        return response


def connect_signals() -> None:
    """Bump the data version on every save or delete of what the results pages read."""
    from benchmark import models as benchmark_models

    for name in ("ItemBank", "BankItem", "ItemCorrelation", "LLM", "Run", "Score", "HumanReference", "HumanReferenceValue"):
        model = getattr(benchmark_models, name)
        post_save.connect(bump_data_version, sender=model, dispatch_uid=f"results-cache-save-{name}")
        post_delete.connect(bump_data_version, sender=model, dispatch_uid=f"results-cache-delete-{name}")

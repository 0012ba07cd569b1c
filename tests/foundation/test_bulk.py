"""config.bulk.insert_rows stores what bulk_create stores, on SQLite and PostgreSQL (CI runs both)."""

import pytest
from django.utils import timezone

from benchmark.models import Completion
from config.bulk import insert_rows

pytestmark = pytest.mark.django_db

FIELDS = ("key", "provider", "model", "base_url", "request", "response_text", "logprobs", "finish_reason", "created_at")


def _row(key: str, logprobs, now) -> tuple:
    return (key, "openai", "m", "http://127.0.0.1:9/v1", {"messages": [{"role": "user", "content": "é \"x\""}], "n": 1},
            "Very much like me", logprobs, "stop", now)


def test_rows_with_json_and_times_read_back_as_bulk_create_writes_them():
    now = timezone.now()
    logprobs = [{"token": "5", "logprob": -0.25}]
    insert_rows(Completion, FIELDS, [_row("a", logprobs, now), _row("b", None, now)])
    Completion.objects.bulk_create([Completion(**dict(zip(FIELDS, _row(key, value, now), strict=True)))
                                    for key, value in (("c", logprobs), ("d", None))])
    stored = {c.key: c for c in Completion.objects.all()}
    for ours, theirs in (("a", "c"), ("b", "d")):
        assert stored[ours].request == stored[theirs].request == {"messages": [{"role": "user", "content": "é \"x\""}], "n": 1}
        assert stored[ours].logprobs == stored[theirs].logprobs
        assert stored[ours].created_at == now  # as given (bulk_create puts its own auto_now_add time)
    assert stored["b"].logprobs is None  # SQL NULL, not JSON null: the field's own conversion
    assert Completion.objects.filter(logprobs__isnull=True).count() == 2


def test_ignore_conflicts_skips_rows_breaking_a_unique_constraint_and_keeps_the_first():
    now = timezone.now()
    insert_rows(Completion, FIELDS, [_row("a", None, now)])
    sent = insert_rows(Completion, FIELDS, [_row("a", [{"token": "1"}], now), _row("e", None, now)], ignore_conflicts=True)
    assert sent == 2 and Completion.objects.count() == 2
    assert Completion.objects.get(key="a").logprobs is None  # the first one stays
    with pytest.raises(Exception, match="(?i)unique"):
        insert_rows(Completion, FIELDS, [_row("a", None, now)])

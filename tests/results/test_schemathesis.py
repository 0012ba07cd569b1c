"""Schema-driven fuzzing of the results API: generated requests (valid and invalid) never get a 5xx."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from config.wsgi import application
from results.services import published_results_load

pytestmark = pytest.mark.django_db

RESULTS_PATHS = r"^/api/v1/(items|itembanks|models|runs|leaderboard|references)"
EXAMPLES = 60  # per generation mode; keeps this file well under a minute


@pytest.fixture
def schema(scored):
    published_results_load()
    # Calling the WSGI app directly fires request_started/finished, whose close_old_connections would
    # close the test's open transaction on PostgreSQL; Django's own test client disconnects it the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(path_regex=RESULTS_PATHS)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_the_schema_lists_every_results_operation(schema):
    operations = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert ("GET", "/api/v1/leaderboard/") in operations and ("POST", "/api/v1/runs/") in operations
    assert len(operations) == 10


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(schema, mode):
    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(checks=[not_a_server_error])

    check()

import collections
import pytest, schemathesis
from hypothesis import HealthCheck, given, settings
from config.wsgi import application
from results.services import published_results_load
pytestmark = pytest.mark.django_db
def test_probe(scored):
    published_results_load()
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application).include(path_regex=r"^/api/v1/(items|itembanks|models|runs|leaderboard|references)")
    seen = collections.Counter()
    @given(case=schema.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE))
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        r = case.call()
        seen[(case.method, case.path, r.status_code)] += 1
    check()
    print(sorted(seen.items()))

"""The load test's own instruments: the simulated participant reads pages right, the checker catches losses."""

import random

import pytest
from django.test import Client

from loadtest.checks import check_study
from loadtest.pages import STEP_RE, answer_form, page_kind
from surveys.models import AttentionCheckResponse, Participant, Rating
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.surveys.helpers import arrive

pytestmark = pytest.mark.django_db
PID = "c0ffee" + "0" * 18


@pytest.fixture
def study():
    group = ItemGroupFactory(study=StudyFactory(slug="tools", attention_check_count=4))
    for n in range(9):
        ItemFactory(group=group, query=f"Query {n // 3}?")
    return group.study


def take_survey(client: Client, study, pid: str = PID) -> dict:
    """Answer every page the way loadtest/locustfile.py does; return its record."""
    url, _ = arrive(client, study.slug, pid)
    record = {"pid": pid, "tokens": [url.rstrip("/").rsplit("/", 1)[1]], "pages": [], "completed": False}
    rng = random.Random(3)
    while True:
        body = client.get(url).content.decode()
        kind = page_kind(body)
        if kind == "finished":
            record["completed"] = True
            return record
        step = STEP_RE.search(body).group(1)
        answers = {"consent": "yes"} if kind == "consent" else {"gender": "male", "age_band": "25-34"} if kind == "about" else answer_form(body, rng)
        assert client.post(url, {"step": step, **answers}).status_code == 303
        record["pages"].append({"step": int(step), "kind": kind, "answers": answers})


def test_the_simulated_participant_passes_every_attention_check_and_completes(study):
    record = take_survey(Client(), study)
    participant = Participant.objects.get(prolific_pid=PID)
    assert record["completed"] and participant.status == Participant.Status.COMPLETED
    checks = AttentionCheckResponse.objects.filter(participant=participant)
    assert checks.count() == 4 and all(checks.values_list("passed", flat=True))
    kinds = [page["kind"] for page in record["pages"]]
    assert kinds[:2] == ["consent", "instructions"] and kinds[-5:] == ["about", "pvq21", "pvq21", "pvq21", "bfi10"]
    assert kinds.count("items") == 3


def test_the_checker_finds_nothing_wrong_with_a_clean_survey(study):
    result = check_study(study=study, records=[take_survey(Client(), study)])
    assert result["answers_accepted"] == result["answers_stored"] == 9 + 4 + 21 + 10
    assert all(result[key] == 0 for key in ("lost_answers", "changed_answers", "duplicated_answers", "unexpected_answers",
                                            "participants_missing", "participants_assigned_twice"))


def test_the_checker_catches_lost_changed_and_unexpected_answers_and_double_assignment(study):
    record = take_survey(Client(), study)
    participant = Participant.objects.get(prolific_pid=PID)
    ratings = Rating.objects.filter(participant=participant).order_by("pk")
    ratings[0].delete()
    changed = ratings[1]
    changed.rating = changed.rating % 6 + 1
    changed.save()
    bfi_page = next(page for page in record["pages"] if page["kind"] == "bfi10")
    record["pages"].remove(bfi_page)  # stored, but the record no longer says it was sent
    record["tokens"].append("another-token")

    result = check_study(study=study, records=[record])
    assert result["lost_answers"] == 1
    assert result["changed_answers"] == 1
    assert result["unexpected_answers"] == len(bfi_page["answers"]) == 11  # 10 statements and 1 attention check
    assert result["participants_assigned_twice"] == 1


def test_the_group_spread_counts_completed_participants_per_group(study):
    ItemFactory(group=ItemGroupFactory(study=study), query="Other?")
    take_survey(Client(), study)
    result = check_study(study=study, records=[])
    assert (result["min_per_group"], result["max_per_group"], result["spread"]) == (0, 1, 1)


def test_page_kind_names_every_page_of_the_survey(study):
    client = Client()
    record = take_survey(client, study)
    url = f"/s/{study.slug}/p/{record['tokens'][0]}/"
    seen = {page["kind"] for page in record["pages"]} | {page_kind(client.get(url).content.decode())}
    assert seen == {"consent", "instructions", "items", "about", "pvq21", "bfi10", "finished"}


def test_mixed_scenario_judges_participant_pages_and_reports_visitors_beside_them():
    from loadtest.run import evaluate

    database = dict.fromkeys(("lost_answers", "changed_answers", "duplicated_answers", "unexpected_answers", "participants_missing", "participants_assigned_twice", "spread"), 0)
    database.update(participants_completed_client_side=5, participants_simulated=5)

    def row(name, p95, failures=0):
        return {"name": name, "p95_ms": p95, "failures": failures}

    participants = [row("GET items", 40), row("POST items", 60)]
    visitors = [row("results /results/", 900, failures=3), row("results (rate-limited 429)", 5)]
    total = row("Aggregated", 700, failures=3)
    assert evaluate(total, participants + visitors, database, visitors=True)["met"]
    assert not evaluate(total, participants + visitors, database, visitors=False)["met"]  # without visitors: all judged
    slow = evaluate(total, [row("GET items", 250), *visitors], database, visitors=True)
    assert not slow["met"] and "GET items 250" in slow["missed"][0]

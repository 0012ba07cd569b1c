"""The page plan: reproducible randomisation and attention-check placement."""

from collections import Counter

import pytest
from django.test import Client

from surveys import plan as plans
from surveys.plan import PlanItem, build_plan
from tests.surveys.helpers import answers_for, arrive, current_page

ITEMS = [PlanItem(pk=n, title="T" if n < 6 else "", query=f"Q{n // 3}") for n in range(12)]


def test_the_same_seed_gives_the_same_plan():
    assert build_plan(seed=7, items=ITEMS, check_count=4) == build_plan(seed=7, items=list(reversed(ITEMS)), check_count=4)


def test_different_seeds_order_queries_and_responses_differently():
    orders = {tuple(p.item_ids for p in build_plan(seed=seed, items=ITEMS, check_count=4) if p.kind == plans.ITEMS)
              for seed in range(20)}
    assert len(orders) > 10


def test_each_page_holds_the_responses_to_one_query():
    pages = [p for p in build_plan(seed=1, items=ITEMS, check_count=4) if p.kind == plans.ITEMS]
    assert len(pages) == 4
    for page in pages:
        assert len({ITEMS[pk].query for pk in page.item_ids}) == 1
    assert sorted(pk for p in pages for pk in p.item_ids) == list(range(12))


def test_the_pages_come_in_the_order_of_the_paper():
    kinds = [p.kind for p in build_plan(seed=1, items=ITEMS, check_count=4)]
    assert kinds == ["consent", "instructions"] + ["items"] * 4 + ["about", "pvq21", "bfi10"]


@pytest.mark.parametrize("count, in_items, in_instruments", [(0, 0, 0), (1, 1, 0), (3, 3, 0), (4, 2, 2), (6, 4, 2)])
def test_checks_are_spread_over_item_pages_and_the_questionnaires(count, in_items, in_instruments):
    for seed in range(10):
        pages = build_plan(seed=seed, items=ITEMS, check_count=count)
        where = Counter(p.kind for p in pages for _ in p.checks)
        assert where[plans.ITEMS] == in_items
        assert where[plans.PVQ21_PAGE] + where[plans.BFI10_PAGE] == in_instruments
        keys = [c.key for p in pages for c in p.checks]
        assert keys == [f"check{n}" for n in range(1, count + 1)]
        item_pages_with_checks = [p for p in pages if p.kind == plans.ITEMS and p.checks]
        assert len(item_pages_with_checks) == min(in_items, 4)  # distinct pages while there are enough


def test_a_check_row_names_the_option_it_expects():
    checks = [c for p in build_plan(seed=3, items=ITEMS, check_count=4) for c in p.checks]
    for check in checks:
        assert f"please select '{check.label}' for this row" in check.text


def test_the_pvq21_wording_follows_the_gender_given_just_before(demo_study):
    for gender, needle in [("female", b"important to her"), ("male", b"important to him"), ("undisclosed", b"important to this person")]:
        client = Client()
        url, participant = arrive(client, "demo", pid=f"{abs(hash(gender)) % 16**24:024x}")
        while current_page(participant).kind != plans.ABOUT:
            client.post(url, answers_for(participant))
        client.post(url, {**answers_for(participant), "gender": gender})
        page = client.get(url)
        assert needle in page.content, gender
        participant.refresh_from_db()
        assert participant.pvq_form == {"female": "female", "male": "male"}.get(gender, "neutral")

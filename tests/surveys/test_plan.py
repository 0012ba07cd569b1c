"""The page plan: reproducible randomisation and attention-check placement."""

import re
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from surveys import plan as plans
from surveys.models import AttentionCheckResponse, PageSubmission, Study
from surveys.plan import PlanItem, build_plan
from tests.surveys.helpers import answers_for, arrive, complete, current_page

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
    assert kinds == ["consent", "instructions"] + ["items"] * 4 + ["about", "pvq21", "pvq21", "pvq21", "bfi10"]


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


# --- per-study placement of the checks ---


def checks_by_page(pages) -> dict[str, int]:
    """Checks per page key, the PVQ-21's pages counted together as "pvq21"."""
    counts: Counter = Counter()
    for p in pages:
        counts[plans.PVQ21_PAGE if p.kind == plans.PVQ21_PAGE else p.key] += len(p.checks)
    return {key: n for key, n in counts.items() if n}


def test_a_study_can_put_each_check_on_a_named_page():
    for seed in range(10):
        pages = build_plan(seed=seed, items=ITEMS, check_count=4, check_pages=("items:2", "items:2", "bfi10", "pvq21"))
        assert checks_by_page(pages) == {"items-2": 2, "pvq21": 1, "bfi10": 1}
        assert [c.key for p in pages for c in p.checks] == ["check1", "check2", "check3", "check4"]


def test_items_without_a_number_go_to_distinct_random_item_pages_and_large_numbers_to_the_last():
    pages = build_plan(seed=5, items=ITEMS, check_count=4, check_pages=("items",) * 3 + ("items:99",))
    counts = [len(p.checks) for p in pages if p.kind == plans.ITEMS]
    assert sum(counts) == 4 and counts[-1] >= 1 and counts.count(0) <= 1
    only_questionnaires = build_plan(seed=5, items=ITEMS, check_count=2, check_pages=("pvq21", "pvq21"))
    assert checks_by_page(only_questionnaires) == {"pvq21": 2}


@pytest.mark.parametrize("text, bad", [("items, pvq", "'pvq'"), ("items:0", "'items:0'"), ("bfi10:2", "'bfi10:2'"), ("items,,bfi10", "Check 2: ''")])
def test_a_bad_placement_names_the_entry(text, bad):
    with pytest.raises(ValueError, match=re.escape(bad)):
        plans.parse_check_pages(text)


def test_the_study_rejects_a_placement_that_does_not_match_its_check_count(db):
    study = Study(slug="x", title="X", attention_check_count=3, attention_check_pages="items, bfi10")
    with pytest.raises(ValidationError, match="names 2 places, but the study has 3 attention checks"):
        study.full_clean()
    study.attention_check_pages = "items, items:2, bfi10"
    study.full_clean()


def test_the_checks_are_stored_on_the_pages_the_study_names(demo_study):
    Study.objects.filter(pk=demo_study.pk).update(attention_check_count=3, attention_check_pages="items:2, bfi10, items:2")
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    pages = dict(PageSubmission.objects.filter(participant=participant).values_list("step", "page_key"))
    where = sorted(pages[step] for step in AttentionCheckResponse.objects.filter(participant=participant).values_list("step", flat=True))
    assert where == ["bfi10", "items-2", "items-2"]


# --- the PVQ-21 over several pages ---


def shown_rows(page) -> list:
    """A questionnaire page's rows as shown: question numbers, with the check keys where the checks are."""
    return [row.key if isinstance(row, plans.CheckSpec) else row for row in plans.interleave(list(page.questions), page.checks)]


@pytest.mark.parametrize("check_pages", [(), ("pvq21", "pvq21", "pvq21", "bfi10"), ("pvq21",) * 4])
def test_the_pvq21_comes_in_pages_of_at_most_seven_portraits_with_the_checks_where_they_fall(check_pages):
    for seed in range(40):
        split = build_plan(seed=seed, items=ITEMS, check_count=4, check_pages=check_pages)
        whole = build_plan(seed=seed, items=ITEMS, check_count=4, check_pages=check_pages, pvq_per_page=21)
        pvq = [p for p in split if p.kind == plans.PVQ21_PAGE]
        (one,) = [p for p in whole if p.kind == plans.PVQ21_PAGE]
        assert [p.key for p in pvq] == ["pvq21-1", "pvq21-2", "pvq21-3"] and one.key == "pvq21"
        assert [len(p.questions) for p in pvq] == [7, 7, 7]
        # The same rows in the same order as on the single page, row numbers running on.
        assert [row for p in pvq for row in shown_rows(p)] == shown_rows(one)
        assert [p.first_number for p in pvq] == [1, 1 + len(shown_rows(pvq[0])), 1 + len(shown_rows(pvq[0])) + len(shown_rows(pvq[1]))]
        assert sorted(c.key for p in pvq for c in p.checks) == sorted(c.key for c in one.checks)
        # Everything else in the plan is unchanged by the split.
        assert [p for p in split if p.kind != plans.PVQ21_PAGE] == [p for p in whole if p.kind != plans.PVQ21_PAGE]


def test_a_bad_number_of_portraits_per_page_is_refused():
    with pytest.raises(ValueError, match="pvq_per_page must be between 1 and 21, got 0"):
        build_plan(seed=1, items=ITEMS, check_count=4, pvq_per_page=0)

"""Survey pages keep what people chose: marked rows on an error, drafts that survive a refresh, the PVQ-21 over
three pages (issue 16 part 4). The browser side is in test_browser_keep_answers.py."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.utils import timezone

from surveys import plan as plans
from surveys.models import InstrumentAnswer, PageDraft, PageSubmission, Participant, Rating
from surveys.services import MSG_MISSING
from tests.surveys.helpers import VALID_PID, advance_to, answers_for, arrive, complete, current_page


class PageRows(HTMLParser):
    """The rating rows of a survey page (fieldsets with their inputs and error message) and the error summary's links."""

    def __init__(self, html: str):
        super().__init__()
        self.rows: dict[str, dict] = {}
        self.summary_links: list[str] = []
        self.draft_url = ""
        self._row = None
        self._in_error = False
        self._in_summary = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "data-draft-url" in a:
            self.draft_url = a["data-draft-url"]
        if tag == "div" and "error-summary" in (a.get("class") or ""):
            self._in_summary = True
        if tag == "a" and self._in_summary:
            self.summary_links.append(a["href"])
        if tag == "fieldset":
            self._row = {"id": a.get("id"), "class": a.get("class", ""), "describedby": a.get("aria-describedby"),
                         "inputs": [], "error": "", "error_id": None}
            self.rows[a.get("id")] = self._row
        if tag == "p" and self._row is not None and "row-error" in (a.get("class") or ""):
            self._in_error = True
            self._row["error_id"] = a.get("id")
        if tag == "input" and self._row is not None and a.get("type") == "radio":
            self._row["inputs"].append(a)

    def handle_endtag(self, tag):
        if tag == "fieldset":
            self._row = None
        if tag == "p":
            self._in_error = False
        if tag == "div":
            self._in_summary = False

    def handle_data(self, data):
        if self._in_error:
            self._row["error"] += data

    def checked(self) -> dict[str, str]:
        return {i["name"]: i["value"] for row in self.rows.values() for i in row["inputs"] if "checked" in i}


def rows_of(response) -> PageRows:
    return PageRows(response.content.decode())


@pytest.fixture
def on_pvq(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.PVQ21_PAGE)
    return client, url, participant


def test_a_missing_answer_marks_its_row_keeps_every_other_answer_and_links_from_the_summary(on_pvq):
    client, url, participant = on_pvq
    body = answers_for(participant)
    fields = [k for k in body if k.startswith(("pvq-", "check-"))]
    missing = [fields[2], fields[5]]
    for field in missing:
        del body[field]
    response = client.post(url, body)
    assert response.status_code == 400
    page = rows_of(response)
    assert page.checked() == {k: v for k, v in body.items() if k != "step"}
    marked = [rid for rid, row in page.rows.items() if "has-error" in row["class"]]
    assert marked == [f"row-{f}" for f in missing]
    for field in missing:
        row = page.rows[f"row-{field}"]
        assert row["describedby"] == row["error_id"] == f"error-{field}"
        assert all(i.get("aria-invalid") == "true" for i in row["inputs"])
        assert "Please answer description" in row["error"]
    unmarked = [row for rid, row in page.rows.items() if rid not in marked]
    assert all("aria-invalid" not in i and row["describedby"] is None for row in unmarked for i in row["inputs"])
    assert page.summary_links == [f"#row-{f}" for f in missing]
    # The page opens at the first row to fix, also without JavaScript.
    focused = [i for row in page.rows.values() for i in row["inputs"] if "autofocus" in i]
    assert [i["name"] for i in focused] == [missing[0]]


def test_row_numbers_and_messages_run_on_across_the_pvq21_pages(on_pvq):
    client, url, participant = on_pvq
    first = current_page(participant)
    client.post(url, answers_for(participant))
    second = current_page(participant)
    assert second.key == "pvq21-2" and second.first_number == len(first.questions) + len(first.checks) + 1
    body = answers_for(participant)
    del body[f"pvq-{second.questions[0]}"]
    response = client.post(url, body)
    row = second.first_number + next(i for i, r in enumerate(plans.interleave(list(second.questions), second.checks))
                                     if r == second.questions[0])
    assert MSG_MISSING.format(row=f"description {row}") in response.content.decode()
    assert f'<span class="row-number">{row}.</span>' in response.content.decode()


def test_after_an_error_a_refresh_still_shows_the_answers_without_javascript(on_pvq):
    client, url, participant = on_pvq
    body = answers_for(participant)
    del body[next(k for k in body if k.startswith("pvq-"))]
    assert client.post(url, body).status_code == 400
    again = client.get(url)
    assert again.status_code == 200 and rows_of(again).checked() == {k: v for k, v in body.items() if k != "step"}
    # Nothing was submitted: the answers are a draft, not stored answers.
    assert InstrumentAnswer.objects.filter(participant=participant).count() == 0


def test_a_draft_is_kept_for_the_page_and_shown_when_it_is_opened_again(on_pvq):
    client, url, participant = on_pvq
    page = rows_of(client.get(url))
    assert page.draft_url == f"{url}draft/" and VALID_PID not in page.draft_url
    body = answers_for(participant)
    partial = dict(list(body.items())[:4])  # step and three answers
    response = client.post(page.draft_url, partial)
    assert response.status_code == 200 and response.json() == {"saved": True, "answers": 3}
    assert rows_of(client.get(url)).checked() == {k: v for k, v in partial.items() if k != "step"}
    # The newest draft replaces the older one.
    client.post(page.draft_url, body)
    assert rows_of(client.get(url)).checked() == {k: v for k, v in body.items() if k != "step"}


def test_a_draft_keeps_only_answers_that_are_valid_on_the_page(on_pvq):
    client, url, participant = on_pvq
    good = next(f"pvq-{q}" for q in current_page(participant).questions)
    response = client.post(f"{url}draft/", {"step": str(participant.step), good: "4", "pvq-21": "3", "bfi-1": "2",
                                            "item-1": "5", next(f"pvq-{q}" for q in current_page(participant).questions[1:]): "9"})
    assert response.json() == {"saved": True, "answers": 1}
    assert PageDraft.objects.get(participant=participant).answers == {good: "4"}


def test_a_draft_for_a_page_already_sent_or_not_yet_reached_is_refused(on_pvq):
    client, url, participant = on_pvq
    step = participant.step
    assert client.post(url, answers_for(participant)).status_code == 303
    for wrong in (step, step + 5, "x"):
        response = client.post(f"{url}draft/", {"step": str(wrong), "pvq-1": "2"})
        assert response.status_code == 409 and response.json()["saved"] is False
    assert not PageDraft.objects.filter(participant=participant).exists()


def test_sending_a_page_deletes_its_draft_and_a_second_click_stores_nothing_twice(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    body = answers_for(participant)
    client.post(f"{url}draft/", body)
    assert PageDraft.objects.filter(participant=participant).count() == 1
    assert client.post(url, body).status_code == 303
    assert client.post(url, body).status_code == 303  # double click, or the back button and send again
    client.post(f"{url}draft/", body)  # a late autosave from the page already sent
    assert not PageDraft.objects.filter(participant=participant).exists()
    assert Rating.objects.filter(participant=participant).count() == sum(k.startswith("item-") for k in body)
    participant.refresh_from_db()
    assert PageSubmission.objects.filter(participant=participant).count() == participant.step


def test_a_multi_response_rating_page_keeps_its_answers_on_an_error(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ITEMS)
    body = answers_for(participant)
    missing = [k for k in body if k.startswith("item-")][-1]
    del body[missing]
    response = client.post(url, body)
    page = rows_of(response)
    assert page.checked() == {k: v for k, v in body.items() if k != "step"}
    assert [rid for rid, row in page.rows.items() if "has-error" in row["class"]] == [f"row-{missing}"]
    assert rows_of(client.get(url)).checked() == page.checked()


def test_the_about_page_marks_a_missing_gender_and_keeps_the_age_band(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    advance_to(client, url, participant, plans.ABOUT)
    response = client.post(url, {"step": str(participant.step), "age_band": "35-44"})
    page = rows_of(response)
    assert response.status_code == 400 and page.checked() == {"age_band": "35-44"}
    assert "has-error" in page.rows["row-gender"]["class"] and "has-error" not in page.rows["row-age_band"]["class"]
    assert page.summary_links == ["#row-gender"]
    assert rows_of(client.get(url)).checked() == {"age_band": "35-44"}


def test_drafts_need_the_csrf_token(on_pvq):
    _, url, participant = on_pvq
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = on_pvq[0].cookies
    assert strict.post(f"{url}draft/", {"step": str(participant.step), "pvq-1": "2"}).status_code == 403
    assert not PageDraft.objects.filter(participant=participant).exists()


def test_a_finished_or_expired_participant_keeps_no_draft(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    complete(client, url, participant)
    participant.refresh_from_db()
    assert client.post(f"{url}draft/", {"step": str(participant.step), "pvq-1": "2"}).status_code == 409
    other = Client()
    url2, late = arrive(other, "demo", pid="ab" * 12)
    advance_to(other, url2, late, plans.ITEMS)
    Participant.objects.filter(pk=late.pk).update(expires_at=timezone.now())
    late.refresh_from_db()
    assert other.post(f"{url2}draft/", answers_for(late)).status_code == 409
    assert not PageDraft.objects.exists()


def test_participant_pages_are_never_cached(on_pvq):
    client, url, _ = on_pvq
    assert "no-store" in client.get(url)["Cache-Control"]


def test_the_pvq21_pages_store_the_same_answers_and_scores_as_the_single_page(demo_study):
    answers = {q: (q * 5) % 6 + 1 for q in range(1, 22)}
    stored = {}
    for per_page, pid in ((7, "ab" * 12), (21, "cd" * 12)):
        client = Client()
        url, participant = arrive(client, "demo", pid=pid)
        Participant.objects.filter(pk=participant.pk).update(pvq_per_page=per_page)  # 21: started before the split
        keys = []
        while participant.status == Participant.Status.ACTIVE:
            page = current_page(participant)
            body = answers_for(participant)
            if page.kind == plans.PVQ21_PAGE:
                keys.append(page.key)
                body.update({f"pvq-{q}": str(answers[q]) for q in page.questions})
            assert client.post(url, body).status_code == 303
            participant.refresh_from_db()
        assert participant.status == Participant.Status.COMPLETED
        assert keys == (["pvq21-1", "pvq21-2", "pvq21-3"] if per_page == 7 else ["pvq21"])
        rows = InstrumentAnswer.objects.filter(participant=participant, instrument="pvq21").values_list("question", "answer")
        stored[per_page] = dict(rows)
    # The same 21 answers under the same question numbers: what scoring reads is unchanged.
    assert stored[7] == stored[21] == answers


def test_a_forged_consent_value_does_not_claim_that_answers_are_kept(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    response = client.post(url, {"step": "0", "consent": "maybe"})
    text = response.content.decode()
    assert response.status_code == 400 and "Nothing on this page was saved yet." in text
    assert "answers you chose are kept" not in text and 'href="#row-' not in text

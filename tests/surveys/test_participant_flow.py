"""A participant goes from the Prolific link to the Prolific redirect."""

from django.test import Client

from surveys.models import AttentionCheckResponse, InstrumentAnswer, PageSubmission, Participant, Rating
from tests.surveys.helpers import answers_for, arrive, complete


def test_a_participant_completes_the_demo_study_and_is_sent_back_to_prolific(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")

    complete(client, url, participant)

    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    assert participant.consented_at and participant.completed_at
    assert Rating.objects.filter(participant=participant).count() == participant.group.items.count() == 6
    assert InstrumentAnswer.objects.filter(participant=participant, instrument="pvq21").count() == 21
    assert InstrumentAnswer.objects.filter(participant=participant, instrument="bfi10").count() == 10
    assert AttentionCheckResponse.objects.filter(participant=participant, passed=True).count() == 4
    assert PageSubmission.objects.filter(participant=participant).count() == participant.step
    page = client.get(url)
    assert b"DEMO-COMPLETE" in page.content
    assert b'http-equiv="refresh"' in page.content
    assert b"https://app.prolific.com/submissions/complete?cc=DEMO-COMPLETE" in page.content


def test_every_kind_of_page_renders_with_its_fields(demo_study):
    client = Client()
    url, participant = arrive(client, "demo")
    seen = set()
    while participant.status == Participant.Status.ACTIVE:
        page = client.get(url)
        assert page.status_code == 200
        data = answers_for(participant)
        for name in data:
            if name != "step":
                assert f'name="{name}"'.encode() in page.content, name
        seen.add(page.templates[0].name)
        if page.templates[0].name == "surveys/page_pvq21.html":
            assert b"How much like you is this person?" in page.content  # the ESS question
        if page.templates[0].name == "surveys/page_items.html":
            assert page.content.count(b"How similar is this response to your own thoughts?") == len(data) - 1
        client.post(url, data)
        participant.refresh_from_db()
    assert {"surveys/page_consent.html", "surveys/page_items.html", "surveys/page_pvq21.html",
            "surveys/page_bfi10.html", "surveys/page_about.html"} <= seen

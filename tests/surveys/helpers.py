"""Answer a participant's pages the way a browser would, for tests of the survey flow."""

import random
import re

from django.test import Client

from surveys import plan as plans
from surveys.models import Participant
from surveys.selectors import participant_plan

VALID_PID = "5f0c2d3e4a1b2c3d4e5f6a7b"


def entry_url(slug: str, pid: str = VALID_PID, **extra) -> str:
    params = {"PROLIFIC_PID": pid, "STUDY_ID": "abc123", "SESSION_ID": "sess42", **extra}
    return f"/s/{slug}/?" + "&".join(f"{k}={v}" for k, v in params.items())


def current_page(participant: Participant) -> plans.Page:
    participant.refresh_from_db()
    return participant_plan(participant)[participant.step]


def answers_for(participant: Participant, *, fail_checks: bool = False, rng: random.Random | None = None) -> dict:
    """A complete, valid POST body for the participant's current page."""
    rng = rng or random.Random(participant.pk)
    page = current_page(participant)
    data = {"step": str(participant.step)}
    if page.kind == plans.CONSENT:
        data["consent"] = "yes"
    elif page.kind == plans.ABOUT:
        data.update(gender="female", age_band="25-34")
    elif page.kind == plans.ITEMS:
        data.update({f"item-{pk}": str(rng.randint(1, 6)) for pk in page.item_ids})
    elif page.kind == plans.PVQ21_PAGE:
        data.update({f"pvq-{q}": str(rng.randint(1, 6)) for q in page.questions})
    elif page.kind == plans.BFI10_PAGE:
        data.update({f"bfi-{q}": str(rng.randint(1, 5)) for q in page.questions})
    for check in page.checks:
        wrong = check.expected % 5 + 1  # a different code that is on both scales
        data[f"check-{check.key}"] = str(wrong if fail_checks else check.expected)
    return data


def arrive(client: Client, slug: str, pid: str = VALID_PID) -> tuple[str, Participant]:
    """Open the Prolific link; returns (participant page URL, participant)."""
    response = client.get(entry_url(slug, pid))
    assert response.status_code == 303, response.content[:500]
    url = response["Location"]
    token = re.search(r"/p/([^/]+)/$", url).group(1)
    return url, Participant.objects.get(token=token)


def complete(client: Client, url: str, participant: Participant, *, fail_checks: bool = False) -> None:
    """Submit every remaining page with valid answers."""
    participant.refresh_from_db()
    while participant.status == Participant.Status.ACTIVE:
        response = client.post(url, answers_for(participant, fail_checks=fail_checks))
        assert response.status_code == 303, response.content.decode()[:2000]
        participant.refresh_from_db()


def advance_to(client: Client, url: str, participant: Participant, kind: str) -> None:
    """Submit valid pages until the participant's current page is of ``kind``."""
    while current_page(participant).kind != kind:
        assert client.post(url, answers_for(participant)).status_code == 303

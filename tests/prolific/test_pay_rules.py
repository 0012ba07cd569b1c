"""Pay follows Prolific's rules, not the analysis (issue 12, item 5).

Completed → approved whatever the analysis decided; at least two failed attention checks → rejected;
an analysis exclusion costs pay only when the study turns on returns for data quality, after a
confirmation naming how many people it affects, and then only as a return request.
"""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from prolific.models import MIN_REJECTION_MESSAGE_LENGTH, ProlificSettings
from prolific.selectors import quality_returns_count, review_plan
from prolific.services import (
    MSG_CONFIRM_QUALITY_RETURNS,
    ProlificOpsError,
    prolific_settings_get,
    prolific_settings_update,
    review_send,
    submissions_reconcile,
)
from psychometrics.models import Analysis, ParticipantDecision
from surveys.models import Participant
from tests.prolific.conftest import participant_on_prolific

pytestmark = pytest.mark.django_db

POSTS = r"/submissions/(bulk-approve|.+/transition|.+/request-return)/"
DATA_QUALITY_EXCLUSIONS = {
    "too_fast": "completed faster than the minimum time",
    "identical_pvq21": "same answer to every PVQ-21 item",
    "inconsistent_bfi10": "low even-odd consistency in the BFI-10",
    "outlier_pvq21": "PVQ-21 answers unlike those of ordinary respondents (outlier screen)",
    "manual_exclusion": "excluded by a researcher",
}


def analysis_excluding(study, exclusions: dict) -> Analysis:
    """A succeeded analysis excluding each participant in ``exclusions`` ({participant: [reason codes]})."""
    analysis = Analysis.objects.create(study=study, status=Analysis.Status.SUCCEEDED, rules={})
    ParticipantDecision.objects.bulk_create(
        ParticipantDecision(analysis=analysis, participant=participant, kept=False, reasons=reasons)
        for participant, reasons in exclusions.items()
    )
    return analysis


@pytest.fixture
def excluded(fake, study):
    """Two completed participants excluded for data quality, one for attention checks only, one kept,
    one who failed three checks (also excluded for data quality) and one who declined consent."""
    people = {
        "fast": participant_on_prolific(fake, study, status=Participant.Status.COMPLETED),
        "identical": participant_on_prolific(fake, study, status=Participant.Status.COMPLETED),
        "checks_only": participant_on_prolific(fake, study, status=Participant.Status.COMPLETED, failed_checks=2),
        "kept": participant_on_prolific(fake, study, status=Participant.Status.COMPLETED),
        "failed": participant_on_prolific(fake, study, status=Participant.Status.FAILED_CHECKS),
        "declined": participant_on_prolific(fake, study, status=Participant.Status.NO_CONSENT),
    }
    analysis = analysis_excluding(study, {
        people["fast"][0]: ["too_fast"],
        people["identical"][0]: ["identical_pvq21", "longstring_pvq21"],
        # A stricter analysis rule than the study's: they completed within the study's allowance.
        people["checks_only"][0]: ["failed_attention_checks"],
        people["failed"][0]: ["ended_by_failed_checks", "inconsistent_pvq21"],
    })  # fmt: skip
    ParticipantDecision.objects.create(analysis=analysis, participant=people["kept"][0], kept=True)
    submissions_reconcile(study=study)
    return people, analysis


def pseudonyms(actions) -> list[str]:
    return sorted(a.pseudonym for a in actions)


def names(people, *keys) -> list[str]:
    return sorted(people[key][0].pseudonym for key in keys)


def test_completed_participants_excluded_by_the_analysis_for_any_data_quality_reason_are_approved(fake, study):
    people = {code: participant_on_prolific(fake, study, status=Participant.Status.COMPLETED) for code in DATA_QUALITY_EXCLUSIONS}
    analysis = analysis_excluding(study, {people[code][0]: [code] for code in DATA_QUALITY_EXCLUSIONS})
    submissions_reconcile(study=study)

    plan = review_plan(study=study)

    assert plan.rejections == [] and plan.returns == []
    basis = {a.pseudonym: a.reason for a in plan.approvals}
    for code, text in DATA_QUALITY_EXCLUSIONS.items():
        assert basis[people[code][0].pseudonym] == (
            f"completed the study (analysis {analysis.pk} excluded them for: {text}; pay is not affected)"
        )
    review_send(study=study, expected_digest=plan.digest)
    assert {fake.status_of(sid) for _, sid in people.values()} == {"APPROVED"}
    assert [r["path"] for r in fake.requests_to("POST", POSTS)] == ["/api/v1/submissions/bulk-approve/"]


def test_two_failed_attention_checks_are_rejected_with_the_message_and_category(fake, study):
    study.max_failed_checks = 1
    study.save(update_fields=["max_failed_checks"])
    failed, sid = participant_on_prolific(fake, study, status=Participant.Status.FAILED_CHECKS, failed_checks=2)
    submissions_reconcile(study=study)

    plan = review_plan(study=study)

    [rejection] = plan.rejections
    assert rejection.pseudonym == failed.pseudonym
    assert rejection.reason == "failed 2 attention checks (Prolific policy: at least 2 failed fair checks allow a rejection)"
    message = prolific_settings_get(study=study).rejection_message
    assert len(message) >= MIN_REJECTION_MESSAGE_LENGTH
    review_send(study=study, expected_digest=plan.digest)
    [sent] = fake.requests_to("POST", POSTS)
    assert sent["json"] == {"action": "REJECT", "message": message, "rejection_category": "FAILED_CHECK"}
    assert fake.status_of(sid) == "REJECTED"


def test_a_single_failed_attention_check_is_never_rejected(fake, study):
    study.max_failed_checks = 0  # the survey gives the failed-checks code after one failed check
    study.save(update_fields=["max_failed_checks"])
    finished, _ = participant_on_prolific(fake, study, status=Participant.Status.FAILED_CHECKS, failed_checks=1)
    unfinished, _ = participant_on_prolific(
        fake, study, status=Participant.Status.FAILED_CHECKS, failed_checks=1, completed_at=None
    )
    submissions_reconcile(study=study)

    plan = review_plan(study=study)

    assert plan.rejections == []
    [approval] = plan.approvals
    assert approval.pseudonym == finished.pseudonym
    assert approval.reason == (
        "answered every page; failed 1 attention check, more than the study's 0 allowed, but Prolific allows "
        "rejection only for at least 2 failed checks"
    )
    [ask_return] = plan.returns
    assert ask_return.pseudonym == unfinished.pseudonym
    assert ask_return.reason.startswith("did not finish the study")
    assert "fewer than 2 failed checks cannot be rejected under Prolific's policy" in ask_return.reason


def test_a_completed_participant_is_approved_even_with_two_failed_checks_the_study_allowed(fake, study):
    completed, _ = participant_on_prolific(fake, study, status=Participant.Status.COMPLETED, failed_checks=2)
    submissions_reconcile(study=study)
    plan = review_plan(study=study)
    assert [(a.pseudonym, a.reason) for a in plan.approvals] == [(completed.pseudonym, "completed the study")]


def test_turning_on_returns_for_data_quality_needs_a_confirmation_of_how_many_it_affects(study, excluded):
    people, _ = excluded
    assert quality_returns_count(study=study) == 2  # fast and identical: not the attention-only, kept or rejected

    with pytest.raises(ProlificOpsError) as refused:
        prolific_settings_update(study=study, return_excluded_for_quality=True)
    assert str(refused.value) == MSG_CONFIRM_QUALITY_RETURNS.format(n=2)
    assert 'Confirm: "Yes, ask these 2 participants to return"' in str(refused.value)
    with pytest.raises(ProlificOpsError, match="asks 2 participant"):
        prolific_settings_update(study=study, return_excluded_for_quality=True, confirmed_quality_returns=3)
    assert not ProlificSettings.objects.get(study=study).return_excluded_for_quality

    prolific_settings_update(study=study, return_excluded_for_quality=True, confirmed_quality_returns=2)
    assert ProlificSettings.objects.get(study=study).return_excluded_for_quality
    prolific_settings_update(study=study, return_excluded_for_quality=True)  # already on: nothing to confirm
    prolific_settings_update(study=study, return_excluded_for_quality=False)  # turning off needs no confirmation
    assert not ProlificSettings.objects.get(study=study).return_excluded_for_quality


def test_with_returns_for_data_quality_on_exactly_those_excluded_are_asked_to_return(fake, study, excluded):
    people, analysis = excluded
    before = review_plan(study=study)
    assert pseudonyms(before.approvals) == names(people, "fast", "identical", "checks_only", "kept")

    prolific_settings_update(study=study, return_excluded_for_quality=True, confirmed_quality_returns=2)
    plan = review_plan(study=study)

    assert pseudonyms(plan.approvals) == names(people, "checks_only", "kept")
    assert pseudonyms(plan.rejections) == names(people, "failed")  # never turned into a return, nor the reverse
    assert pseudonyms(plan.returns) == names(people, "fast", "identical", "declined")
    basis = {a.pseudonym: a.reason for a in plan.returns}
    assert basis[people["identical"][0].pseudonym] == (
        f"excluded by analysis {analysis.pk} for same answer to every PVQ-21 item; a long run of identical "
        "PVQ-21 answers; returns for data quality are on for this study"
    )
    review_send(study=study, expected_digest=plan.digest)
    returned = {r["path"] for r in fake.requests_to("POST", r"/request-return/")}
    assert returned == {f"/api/v1/submissions/{people[k][1]}/request-return/" for k in ("fast", "identical", "declined")}
    assert len(fake.requests_to("POST", r"/transition/")) == 1


# -- the page and the command ---------------------------------------------------------------------------
@pytest.fixture
def researcher(client, study):
    user = get_user_model().objects.create_user("ada", password="pw-ada-123456")
    study.researchers.add(user)
    client.force_login(user)
    return user


def settings_post(**extra) -> dict:
    return {"rejection_message": "x" * 120, "return_reason": "Please return.", **extra}


def prolific_settings_for_study(study) -> ProlificSettings:
    return ProlificSettings.objects.get(study=study)


def test_the_settings_form_names_the_count_and_refuses_to_turn_on_without_the_confirmation(client, researcher, study, excluded):
    page = client.get("/studies/wave1/prolific/").content.decode()
    assert "Yes, ask these 2 participants to return" in page
    assert re.search(r'name="quality_returns_count" value="2"', page)

    response = client.post("/studies/wave1/prolific/settings/", settings_post(return_excluded_for_quality="on", quality_returns_count="2"))
    assert response.status_code == 400
    assert "Yes, ask these 2 participants to return" in response.content.decode()
    assert not prolific_settings_for_study(study).return_excluded_for_quality

    # Confirming a number that is no longer true (another exclusion since the page was shown) is refused too.
    stale = client.post("/studies/wave1/prolific/settings/", settings_post(
        return_excluded_for_quality="on", confirm_quality_returns="on", quality_returns_count="1",
    ))  # fmt: skip
    assert stale.status_code == 400 and "asks 2 participant(s)" in stale.content.decode()
    assert not prolific_settings_for_study(study).return_excluded_for_quality

    saved = client.post("/studies/wave1/prolific/settings/", settings_post(
        return_excluded_for_quality="on", confirm_quality_returns="on", quality_returns_count="2",
    ), follow=True)  # fmt: skip
    assert "Prolific settings saved." in saved.content.decode()
    assert prolific_settings_for_study(study).return_excluded_for_quality
    assert "Yes, ask these" not in saved.content.decode()  # already on: nothing left to confirm


def test_the_review_page_shows_the_basis_of_each_decision(client, researcher, study, excluded):
    people, analysis = excluded
    page = client.get("/studies/wave1/prolific/review/").content.decode()
    assert "Returns for data quality are off for this study" in page
    assert (
        f"completed the study (analysis {analysis.pk} excluded them for: completed faster than the minimum time; "
        "pay is not affected)"
    ) in page
    assert "failed 3 attention checks (Prolific policy: at least 2 failed fair checks allow a rejection)" in page
    assert "declined consent" in page
    for participant, _ in people.values():
        assert participant.pseudonym in page and participant.prolific_pid not in page

    prolific_settings_update(study=study, return_excluded_for_quality=True, confirmed_quality_returns=2)
    page = client.get("/studies/wave1/prolific/review/").content.decode()
    assert "Returns for data quality are on for this study" in page
    assert (
        f"excluded by analysis {analysis.pk} for completed faster than the minimum time; "
        "returns for data quality are on for this study"
    ) in page


def run(*args) -> str:
    out = io.StringIO()
    call_command("prolific", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_review_command_prints_the_basis_and_configure_needs_the_confirmed_count(study, excluded):
    people, analysis = excluded
    output = run("wave1", "review")
    fast = people["fast"][0].pseudonym
    assert re.search(
        rf"{fast}\s+approve — completed the study \(analysis {analysis.pk} excluded them for: completed faster", output
    )
    assert re.search(rf"{people['failed'][0].pseudonym}\s+reject — failed 3 attention checks", output)
    assert "Returns for data quality are off for this study." in output
    assert all(p.prolific_pid not in output for p, _ in people.values())

    with pytest.raises(CommandError, match='asks 2 participant.*"Yes, ask these 2 participants to return"'):
        run("wave1", "configure", "--returns-for-quality", "on")
    assert "returns for data quality: on" in run("wave1", "configure", "--returns-for-quality", "on", "--confirm-returns", "2")
    assert re.search(rf"{fast}\s+request_return — excluded by analysis {analysis.pk}", run("wave1", "review"))

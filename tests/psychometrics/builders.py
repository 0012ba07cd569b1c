"""Survey data built directly with the surveys models, for psychometrics tests."""

from datetime import timedelta

from django.utils import timezone

from surveys.models import AttentionCheckResponse, InstrumentAnswer, PageSubmission, Participant, Rating
from tests.factories import ParticipantFactory

# A careful respondent: distinct value priorities, consistent BFI-10 answers.
CAREFUL_PVQ = {1: 5, 11: 6, 2: 2, 17: 1, 3: 5, 8: 6, 19: 5, 4: 3, 13: 4, 5: 4, 14: 3, 6: 5, 15: 4,
               7: 2, 16: 3, 9: 1, 20: 2, 10: 4, 21: 4, 12: 6, 18: 5}
CAREFUL_BFI = {1: 2, 6: 4, 2: 4, 7: 2, 3: 2, 8: 5, 4: 4, 9: 2, 5: 1, 10: 5}


def participant_with_answers(
    *,
    study,
    group=None,
    pvq: dict | None = None,
    bfi: dict | None = None,
    ratings: dict | None = None,
    failed_checks: int = 0,
    passed_checks: int = 4,
    minutes: float = 20,
    status: str = Participant.Status.COMPLETED,
    is_preview: bool = False,
    complete: bool = True,
) -> Participant:
    """A participant who answered ``pvq`` / ``bfi`` ({question: answer}) and rated ``ratings`` ({Item: rating})."""
    arrived = timezone.now() - timedelta(hours=2)
    finished = arrived + timedelta(minutes=minutes)
    participant = ParticipantFactory(
        study=study, group=group, status=status, is_preview=is_preview, arrived_at=arrived,
        completed_at=finished if complete and status == Participant.Status.COMPLETED else None,
    )
    PageSubmission.objects.create(participant=participant, step=0, page_key="last", submitted_at=finished)
    AttentionCheckResponse.objects.bulk_create(
        [
            AttentionCheckResponse(
                participant=participant, check_key=f"check-{i}", step=i + 1, expected=3,
                answer=3 if i >= failed_checks else 1, passed=i >= failed_checks, answered_at=finished,
            )
            for i in range(failed_checks + passed_checks)
        ]
    )
    InstrumentAnswer.objects.bulk_create(
        [InstrumentAnswer(participant=participant, instrument="pvq21", question=q, answer=a, answered_at=finished)
         for q, a in (pvq or {}).items()]
        + [InstrumentAnswer(participant=participant, instrument="bfi10", question=q, answer=a, answered_at=finished)
           for q, a in (bfi or {}).items()]
    )
    Rating.objects.bulk_create(
        [Rating(participant=participant, item=item, rating=r, answered_at=finished) for item, r in (ratings or {}).items()]
    )
    return participant


def careful_answers(rng) -> tuple[dict, dict, dict]:
    """Random but attentive PVQ-21 and BFI-10 answers: items of one scale agree, reversed items are reversed.

    Returns (pvq, bfi, value levels by value name), re-drawn until the consistency indices pass the defaults.
    """
    import pandas as pd

    from psychometrics.stats.filtering import bfi10_consistency, pvq21_consistency
    from psychometrics.stats.scoring import BFI10_KEY, PVQ21_KEY

    while True:
        levels = {value: int(rng.integers(1, 7)) for value in PVQ21_KEY}
        pvq = {
            q: int(min(6, max(1, level + rng.choice([-1, 0, 0, 1]))))
            for value, level in levels.items()
            for q in PVQ21_KEY[value]
        }
        bfi = {}
        for first, second in BFI10_KEY.values():
            level = int(rng.integers(1, 6))
            for question, reversed_ in (first, second):
                keyed = int(min(5, max(1, level + rng.choice([-1, 0, 1]))))
                bfi[question] = 6 - keyed if reversed_ else keyed
        if (pvq21_consistency(pd.DataFrame([pvq])).iloc[0] >= 0.3
                and bfi10_consistency(pd.DataFrame([bfi])).iloc[0] >= 0.0):
            return pvq, bfi, levels

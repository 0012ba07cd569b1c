"""Survey data built directly with the surveys models, for psychometrics tests."""

import functools
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
    """Attentive PVQ-21 and BFI-10 answers: a real GSS 2012 respondent's PVQ-21 and a BFI-10 respondent
    simulated from published norms (the screens' reference samples), drawn among the typical ones
    (outlier score below the reference median, no run of identical answers longer than 8).

    Returns (pvq, bfi, value levels by value name: the mean of the value's items).
    """
    from psychometrics.stats.scoring import PVQ21_KEY

    pvq_pool, bfi_pool = _typical_answers("PVQ-21", (1, 6)), _typical_answers("BFI-10", (1, 5))
    pvq_row = pvq_pool[int(rng.integers(len(pvq_pool)))]
    bfi_row = bfi_pool[int(rng.integers(len(bfi_pool)))]
    pvq = {q: int(pvq_row[q - 1]) for q in range(1, 22)}
    bfi = {q: int(bfi_row[q - 1]) for q in range(1, 11)}
    levels = {value: sum(pvq[q] for q in items) / len(items) for value, items in PVQ21_KEY.items()}
    return pvq, bfi, levels


@functools.cache
def _typical_answers(instrument: str, scale: tuple[int, int]):
    import numpy as np
    import pandas as pd

    from psychometrics.stats.careless import CopulaModel, longstring, reference_answers

    answers = reference_answers(instrument)
    scores = CopulaModel(answers, scale=scale).score(answers)
    runs = longstring(pd.DataFrame(answers)).to_numpy()
    return answers[(scores < np.median(scores)) & (runs <= 8) & (np.ptp(answers, axis=1) > 0)]

"""A small completed study: two item groups, careful participants and one of each kind of excluded one."""

import functools

import numpy as np
import pandas as pd
import pytest

from psychometrics.stats.scoring import score_pvq21
from surveys.models import Participant
from tests.factories import ItemFactory, ItemGroupFactory, StudyFactory
from tests.psychometrics.builders import CAREFUL_BFI, CAREFUL_PVQ, careful_answers, participant_with_answers

RATERS_PER_GROUP = 14


@functools.cache
def _careful_population(size: int, seed: int) -> list[tuple[dict, dict, pd.Series, tuple[float, ...]]]:
    """(pvq, bfi, PVQ scores, three noise draws) per careful participant, drawn once per test run."""
    rng = np.random.default_rng(seed)
    population = []
    for _ in range(size):
        pvq, bfi, _ = careful_answers(rng)
        population.append((pvq, bfi, score_pvq21(pd.DataFrame([pvq])).iloc[0], tuple(rng.normal(scale=0.3, size=1)) + tuple(rng.integers(1, 7, size=1))))
    return population


@pytest.fixture
def completed_study(db):
    """Study 'values' with groups A and B of 3 items; A1 is keyed on Power (+), B1 on Universalism (-),
    A3 is rated 4 by everyone. 28 careful participants, 6 excluded ones, 1 preview and 1 still active."""
    population = iter(_careful_population(2 * RATERS_PER_GROUP, 42))
    study = StudyFactory(slug="values")
    groups = {name: ItemGroupFactory(study=study, name=name) for name in "AB"}
    items = {
        f"{name}{k}": ItemFactory(study=study, group=groups[name], item_id=f"{name}{k}",
                                  title="A title" if k == 1 else "", query=f"Query {name}?", response=f"Response {name}{k}.")
        for name in "AB" for k in (1, 2, 3)
    }
    for name, group in groups.items():
        for _ in range(RATERS_PER_GROUP):
            pvq, bfi, scores, (noise, random_rating) = next(population)
            if name == "A":
                ratings = {
                    items["A1"]: int(np.clip(round(3.5 + 1.5 * scores["Power"] + noise), 1, 6)),
                    items["A2"]: int(random_rating),
                    items["A3"]: 4,
                }
            else:
                ratings = {
                    items["B1"]: int(np.clip(round(3.5 - 1.5 * scores["Universalism"] + noise), 1, 6)),
                    items["B2"]: int(random_rating),
                }  # nobody rated B3
            participant_with_answers(study=study, group=group, pvq=pvq, bfi=bfi, ratings=ratings)
    group = groups["A"]
    junk = {items["A1"]: 6, items["A2"]: 6, items["A3"]: 6}
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=CAREFUL_BFI, ratings=junk,
                             failed_checks=3, status=Participant.Status.FAILED_CHECKS)
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=CAREFUL_BFI, ratings=junk, failed_checks=3)
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=CAREFUL_BFI, ratings=junk, minutes=5)
    participant_with_answers(study=study, group=group, pvq=dict.fromkeys(range(1, 22), 3), bfi=CAREFUL_BFI, ratings=junk)
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=dict.fromkeys(range(1, 11), 2), ratings=junk)
    contradicting_bfi = {1: 5, 6: 5, 2: 1, 7: 1, 3: 4, 8: 4, 4: 2, 9: 2, 5: 3, 10: 3}
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=contradicting_bfi, ratings=junk)
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=CAREFUL_BFI, ratings=junk, is_preview=True)
    participant_with_answers(study=study, group=group, pvq=CAREFUL_PVQ, bfi=CAREFUL_BFI, ratings=junk,
                             status=Participant.Status.ACTIVE, complete=False)
    return study

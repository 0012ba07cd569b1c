"""A model that answers "Very much like me" to everything, and one that answers at random, rank in the
bottom half of every default leaderboard view next to the paper's published results (issue 13).

Both runs go through the real scoring path (answers stored, ``run_finalize`` scores them on an
imported item bank of the paper's size, with the paper's selection rule and bootstrap intervals),
and are then reported on the published bank the way the paper reports its models (Schwartz values
as centred scores without means, the Big Five as mean ratings without centred scores), keeping their
bootstrap intervals: the same protocol as the 44 published models they are ranked with.
"""

import numpy as np
import pytest
from django.utils import timezone

from benchmark.models import PROMPT_COUNT, Answer, Run, Score
from benchmark.services import run_create, run_finalize
from psychometrics.stats.dimensions import BFI, FAMILIES, PVQ
from results import welfare
from results.services import published_results_load
from tests.results.builders import imported_bank

ALWAYS_SIX = "always-very-much-like-me"
RANDOM = "uniformly-random"


def _scored_run(bank, model: str, rating):
    run = run_create(bank=bank, provider="openai", model=model, base_url="http://127.0.0.1:9/v1")
    Answer.objects.bulk_create(
        Answer(run=run, item=item, prompt_index=index, rating=rating(), raw_text="answer")
        for item in bank.items.order_by("id") for index in range(PROMPT_COUNT)
    )
    return run_finalize(run.pk)


def _as_published(run):
    """A copy of ``run`` on the published bank, reporting what the paper reports: centred Schwartz scores
    (no means), Big Five mean ratings (no centred scores); the bootstrap intervals are kept."""
    published = Run.objects.filter(source=Run.Source.PUBLISHED).first()
    # "On the same protocol" as the paper's runs: the leaderboard never puts two protocols side by side.
    copy = Run.objects.create(bank=published.bank, llm=run.llm, provider=run.provider, model=run.model,
                              source=Run.Source.IMPORTED, status=Run.Status.COMPLETED, condition="baseline",
                              settings=run.settings, protocol=published.protocol, protocol_digest=published.protocol_digest,
                              finished_at=timezone.now())
    Score.objects.bulk_create(
        Score(run=copy, family=score.family, dimension=score.dimension, n_items=score.n_items, sd=score.sd,
              ci_low=score.ci_low, ci_high=score.ci_high,
              score=None if score.family == BFI else score.score, mean=score.mean if score.family == BFI else None)
        for score in Score.objects.filter(run=run, family__in=[PVQ, BFI])
    )
    return copy


@pytest.fixture
def published_and_degenerate(db, tmp_path, request):
    bank = imported_bank(tmp_path, name="paper-sized", n_items=520, seed=7)
    rng = np.random.default_rng(request.param)
    runs = [_scored_run(bank, ALWAYS_SIX, lambda: 6), _scored_run(bank, RANDOM, lambda: int(rng.integers(1, 7)))]
    for run in runs:
        assert run.status == "completed" and Score.objects.filter(run=run, family=PVQ, n_items__gte=3).count() == 10
    published_results_load()
    for run in runs:
        _as_published(run)


@pytest.mark.parametrize("published_and_degenerate", [1, 2, 3], indirect=True)
@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("aggregate", list(welfare.AGGREGATIONS))
def test_degenerate_answerers_are_not_in_the_top_half_of_any_default_view(api, published_and_degenerate, family, aggregate):
    body = api.get(f"/api/v1/leaderboard/?family={family}&aggregate={aggregate}").json()
    rows = {row["model"]: row for row in body["rows"]}
    if family == "higher_pvq":
        assert rows == {}  # the paper publishes no higher-order scores, so neither does its protocol
        return
    assert body["question"] == "closeness" and body["target"]["kind"] == "centred"
    assert len(rows) == (46 if family == PVQ else 29)  # Tables 5, 7, 8 (Schwartz) / 6 (Big Five), plus the two
    half = len(rows) / 2
    for model in (ALWAYS_SIX, RANDOM):
        assert rows[model]["rank"] > half, (model, rows[model]["rank"], len(rows))

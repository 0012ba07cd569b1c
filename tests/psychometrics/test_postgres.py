"""The analysis on PostgreSQL: constraints, JSON fields and the one-transaction replacement of results."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from psychometrics.models import Analysis, ItemCorrelation
from psychometrics.services import analysis_run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_analyze_rerun_and_export_on_postgres(completed_study, tmp_path):
    call_command("analyze", "values", stdout=StringIO(), stderr=StringIO())
    analysis = Analysis.objects.get()
    assert analysis.summary["participants"]["kept"] == 28
    count = ItemCorrelation.objects.filter(analysis=analysis).count()
    analysis_run(analysis_id=analysis.pk)
    assert ItemCorrelation.objects.filter(analysis=analysis).count() == count == 6 * 19
    out = tmp_path / "bank.jsonl"
    call_command("export_items", "values", "--out", str(out), stdout=StringIO(), stderr=StringIO())
    assert len([json.loads(line) for line in out.read_text().splitlines()]) == 1 + 6  # the header, then the items


def test_the_database_refuses_a_correlation_outside_minus_one_to_one(completed_study):
    call_command("analyze", "values", stdout=StringIO(), stderr=StringIO())
    row = ItemCorrelation.objects.filter(rho__isnull=False).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemCorrelation.objects.filter(pk=row.pk).update(rho=1.5)
    with pytest.raises(IntegrityError), transaction.atomic():
        ItemCorrelation.objects.filter(pk=row.pk).update(selected=True, direction=0)

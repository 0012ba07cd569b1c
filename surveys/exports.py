"""Tidy long exports of a study's answers, used by ``export_responses`` and the dashboard.

Participants are identified by their stable pseudonym (``participant_id``); the Prolific IDs
are added only when a researcher explicitly asks for them (``raw_ids=True``). Researcher
previews are left out unless ``include_preview=True``.
"""

import io
from pathlib import Path

import pandas as pd
from django.db.models import Count, Q

from config.spreadsheet import spreadsheet_frame
from surveys.instruments import BFI10, PVQ21
from surveys.models import (
    AttentionCheckResponse,
    InstrumentAnswer,
    PageSubmission,
    Participant,
    Rating,
    Study,
)

EXPORT_KINDS = ("ratings", "pvq21", "bfi10", "checks", "participants", "pages")
EXPORT_FORMATS = ("csv", "jsonl", "parquet")

COLUMNS = {
    "ratings": ["participant_id", "item_id", "group", "source", "rating", "answered_at", "participant_status"],
    "pvq21": ["participant_id", "question", "value", "answer", "pvq_form", "answered_at", "participant_status"],
    "bfi10": ["participant_id", "question", "trait", "reversed", "answer", "answered_at", "participant_status"],
    "checks": ["participant_id", "check_key", "step", "expected", "answer", "passed", "answered_at", "participant_status"],
    "participants": [
        "participant_id", "group", "status", "gender", "age_band", "pvq_form", "arrived_at", "consented_at",
        "completed_at", "completion_seconds", "failed_checks", "pages_submitted",
    ],
    "pages": ["participant_id", "step", "page_key", "submitted_at", "seconds_on_page", "participant_status"],
}
RAW_ID_COLUMNS = {"participants": ["prolific_pid", "prolific_study_id", "prolific_session_id"]}
TIME_COLUMNS = {"answered_at", "arrived_at", "consented_at", "completed_at", "submitted_at"}


def _participants(study: Study, include_preview: bool):
    qs = Participant.objects.filter(study=study)
    return qs if include_preview else qs.filter(is_preview=False)


def export_columns(what: str, raw_ids: bool = False) -> list[str]:
    if what not in EXPORT_KINDS:
        raise ValueError(f"Unknown export '{what}': use one of {', '.join(EXPORT_KINDS)}.")
    columns = list(COLUMNS[what])
    if raw_ids:
        columns = columns[:1] + RAW_ID_COLUMNS.get(what, ["prolific_pid"]) + columns[1:]
    return columns


def export_frame(*, study: Study, what: str, raw_ids: bool = False, include_preview: bool = False) -> pd.DataFrame:
    """One export as a long DataFrame with a fixed column order (see ``COLUMNS``)."""
    columns = export_columns(what, raw_ids)
    participants = _participants(study, include_preview)
    p = "participant__"
    common = {"participant_id": f"{p}pseudonym", "prolific_pid": f"{p}prolific_pid", "participant_status": f"{p}status"}
    if what == "ratings":
        fields = {**common, "item_id": "item__item_id", "group": "item__group__name", "source": "item__source",
                  "rating": "rating", "answered_at": "answered_at"}
        rows = Rating.objects.filter(participant__in=participants).order_by(f"{p}pseudonym", "item__item_id")
    elif what in ("pvq21", "bfi10"):
        fields = {**common, "question": "question", "answer": "answer", "answered_at": "answered_at",
                  "pvq_form": f"{p}pvq_form"}
        rows = InstrumentAnswer.objects.filter(participant__in=participants, instrument=what).order_by(
            f"{p}pseudonym", "question"
        )
    elif what == "checks":
        fields = {**common, "check_key": "check_key", "step": "step", "expected": "expected", "answer": "answer",
                  "passed": "passed", "answered_at": "answered_at"}
        rows = AttentionCheckResponse.objects.filter(participant__in=participants).order_by(f"{p}pseudonym", "step", "check_key")
    elif what == "pages":
        fields = {**common, "step": "step", "page_key": "page_key", "submitted_at": "submitted_at",
                  "arrived_at": f"{p}arrived_at"}
        rows = PageSubmission.objects.filter(participant__in=participants).order_by(f"{p}pseudonym", "step")
    else:
        fields = {"participant_id": "pseudonym", "prolific_pid": "prolific_pid", "prolific_study_id": "prolific_study_id",
                  "prolific_session_id": "prolific_session_id", "group": "group__name", "status": "status",
                  "gender": "gender", "age_band": "age_band", "pvq_form": "pvq_form", "arrived_at": "arrived_at",
                  "consented_at": "consented_at", "completed_at": "completed_at",
                  "failed_checks": "n_failed", "pages_submitted": "n_pages"}
        rows = participants.annotate(
            n_failed=Count("checks", filter=Q(checks__passed=False), distinct=True),
            n_pages=Count("pages", distinct=True),
        ).order_by("pseudonym")

    names = list(fields)
    frame = pd.DataFrame.from_records(list(rows.values_list(*fields.values())), columns=names)
    for column in TIME_COLUMNS & set(frame.columns):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    if what == "pvq21":
        frame["value"] = frame["question"].map({q["question"]: q["value"] for q in PVQ21})
    if what == "bfi10":
        frame["trait"] = frame["question"].map({q["question"]: q["trait"] for q in BFI10})
        frame["reversed"] = frame["question"].map({q["question"]: q["reversed"] for q in BFI10})
    if what == "participants":
        frame["completion_seconds"] = (frame["completed_at"] - frame["arrived_at"]).dt.total_seconds()
    if what == "pages":
        previous = frame.groupby("participant_id")["submitted_at"].shift(1).fillna(frame["arrived_at"])
        frame["seconds_on_page"] = (frame["submitted_at"] - previous).dt.total_seconds()
    return frame[columns].reset_index(drop=True)


def write_export(frame: pd.DataFrame, *, fmt: str, path: Path | None = None):
    """Write ``frame`` as csv, jsonl or parquet to ``path``; without a path return a BytesIO.

    CSV text cells that a spreadsheet would run as a formula get a leading ``'`` (``config.spreadsheet``).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use one of {', '.join(EXPORT_FORMATS)}.")
    buffer = io.BytesIO()
    if fmt == "csv":
        spreadsheet_frame(frame).to_csv(buffer, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    elif fmt == "jsonl":
        text = frame.to_json(orient="records", lines=True, date_format="iso", date_unit="ms") if len(frame) else ""
        buffer.write(text.encode())
    else:
        frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    if path is None:
        return buffer
    Path(path).write_bytes(buffer.getvalue())
    return path


def export_filename(study: Study, what: str, fmt: str) -> str:
    return f"{study.slug}-{what}.{fmt}"

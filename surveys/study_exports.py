"""The per-study files researchers open in R, SPSS or Stata: a wide file, per-participant scores, a codebook.

``wide``: one row per participant (pseudonymous ``participant_id``, never a Prolific ID), the
screening decision of the study's latest finished analysis (included flag, reasons, one 0/1
column per screening rule), the PVQ-21 and BFI-10 answers, their scores
(``psychometrics.stats.scoring``) and one rating column per item. ``scores``: the id, the
included flag and the scores. ``codebook``: every column of both, with its type, coding and
question text. Built from the tidy long exports (``surveys.exports.export_frame``) pivoted with
pandas: a fixed handful of queries whatever the number of participants.

Column names are safe SPSS/Stata variable names (a letter first, ``[A-Za-z0-9_]``, at most 27
characters here, see ``MAX_NAME``; unique ignoring case); an item id that is not one becomes ``item_<cleaned>_<hash>``
(see ``item_column``), listed with its item id in the codebook.
"""

import hashlib
import io
import json
import re
import tempfile
from pathlib import Path

import pandas as pd

from psychometrics.models import ParticipantDecision
from psychometrics.selectors import analysis_latest
from psychometrics.stats.dimensions import BFI, FAMILIES, HIGHER_PVQ, PVQ
from psychometrics.stats.filtering import REASONS
from psychometrics.stats.scoring import MRAT, pvq21_raw_means, score_bfi10, score_pvq21
from surveys.exports import export_frame, write_export
from surveys.instruments import (
    BFI10,
    BFI10_SCALE,
    BFI10_STEM,
    ITEM_QUESTION,
    ITEM_SCALE,
    PVQ21,
    PVQ21_QUESTION,
    PVQ21_SCALE,
)
from surveys.models import Item, Study

STUDY_EXPORT_TABLES = ("wide", "scores", "codebook")
STUDY_EXPORT_FORMATS = ("csv", "parquet", "sav", "dta")
CODEBOOK_FORMATS = ("csv", "json")
CODEBOOK_COLUMNS = ["column", "files", "type", "label", "coding", "question", "item_id"]

# SPSS and Stata allow 32 characters, but pyreadstat names a Stata value-label set after its variable plus a
# running count (``item_x`` + ``1234``) and refuses a set name over 32: 27 leaves room for 99,999 labelled
# columns, one limit for every format so a column has the same name in each.
MAX_NAME = 27
STATA_LABEL_MAX = 80
_SAFE_NAME = re.compile(rf"[A-Za-z][A-Za-z0-9_]{{0,{MAX_NAME - 1}}}")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_]+")

INCLUDED_LABELS = {0: "excluded", 1: "included"}
FLAG_LABELS = {0: "not flagged", 1: "flagged"}


def _snake(name: str) -> str:
    return _UNSAFE_CHARS.sub("_", name.replace("-", "_").replace(" ", "_")).lower()


PVQ_RAW_COLUMNS = {value: f"pvq_raw_{_snake(value)}" for value in FAMILIES[PVQ]}
PVQ_MRAT_COLUMN = "pvq_mrat"
PVQ_CENTRED_COLUMNS = {value: f"pvq_{_snake(value)}" for value in FAMILIES[PVQ]}
HIGHER_COLUMNS = {value: f"pvqho_{_snake(value)}" for value in FAMILIES[HIGHER_PVQ]}
BFI_COLUMNS = {trait: f"bfi_{_snake(trait)}" for trait in FAMILIES[BFI]}
SCREEN_COLUMNS = {code: f"scr_{code}" for code in REASONS}
PVQ_ITEM_COLUMNS = {q["question"]: f"pvq21_q{q['question']:02d}" for q in PVQ21}
BFI_ITEM_COLUMNS = {q["question"]: f"bfi10_q{q['question']:02d}" for q in BFI10}
PARTICIPANT_COLUMNS = ["participant_id", "group", "status", "gender", "age_band", "pvq_form", "completion_seconds",
                       "failed_checks"]
DECISION_COLUMNS = ["included", "manual_decision", "excluded_reasons", *SCREEN_COLUMNS.values()]
SCORE_COLUMNS = [*PVQ_RAW_COLUMNS.values(), PVQ_MRAT_COLUMN, *PVQ_CENTRED_COLUMNS.values(), *HIGHER_COLUMNS.values(),
                 *BFI_COLUMNS.values()]


def item_column(item_id: str) -> str:
    """The wide-file column of an item: ``item_<item_id>`` when that is a safe variable name, else
    ``item_<item_id cleaned and cut>_<first 6 hex digits of sha256(item_id)>`` (stable: it depends on the id only)."""
    name = f"item_{item_id}"
    if _SAFE_NAME.fullmatch(name):
        return name
    return _hashed_item_column(item_id)


def _hashed_item_column(item_id: str) -> str:
    digest = hashlib.sha256(item_id.encode()).hexdigest()[:6]
    cleaned = _UNSAFE_CHARS.sub("_", item_id).strip("_")
    return f"item_{cleaned[: MAX_NAME - len('item__') - len(digest)]}_{digest}".replace("__", "_")


def item_columns(item_ids: list[str]) -> dict[str, str]:
    """item_id -> column for every item; ids whose names would clash ignoring case (SPSS) get the hashed form."""
    names = {item_id: item_column(item_id) for item_id in item_ids}
    lowered = pd.Series(names).str.lower()
    for item_id in lowered[lowered.duplicated(keep=False)].index:
        names[item_id] = _hashed_item_column(item_id)
    if len({name.lower() for name in names.values()}) != len(names):
        raise ValueError("Two item ids map to the same export column; rename one of them.")
    return names


def _pivot(long: pd.DataFrame, *, columns: str, values: str, names: dict, index: pd.Index) -> pd.DataFrame:
    wide = long.pivot(index="participant_id", columns=columns, values=values) if len(long) else pd.DataFrame(index=index)
    return wide.reindex(index=index, columns=list(names)).rename(columns=names).astype("Int64")


def _decisions(study: Study) -> pd.DataFrame:
    analysis = analysis_latest(study=study, finished=True)
    rows = [] if analysis is None else ParticipantDecision.objects.filter(analysis=analysis).values_list(
        "participant__pseudonym", "kept", "reasons", "manual"
    )
    frame = pd.DataFrame(list(rows), columns=["participant_id", "kept", "reasons", "manual"]).set_index("participant_id")
    out = pd.DataFrame(index=frame.index)
    out["included"] = frame["kept"].astype(int)
    out["manual_decision"] = frame["manual"]
    out["excluded_reasons"] = frame["reasons"].map(lambda codes: ";".join(codes))
    for code, column in SCREEN_COLUMNS.items():
        out[column] = frame["reasons"].map(lambda codes, code=code: int(code in codes))
    out.attrs["analysis"] = None if analysis is None else analysis.pk
    return out


def study_export_tables(*, study: Study) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """The wide file, the scores file and the codebook entries (one per column) of ``study``.

    Participants: every non-preview participant, by pseudonym. Screening columns are empty for a
    participant the latest finished analysis did not consider (not analysable, or no analysis yet).
    """
    base = export_frame(study=study, what="participants")[PARTICIPANT_COLUMNS].set_index("participant_id", drop=False)
    index = base.index
    pvq = _pivot(export_frame(study=study, what="pvq21"), columns="question", values="answer", names=PVQ_ITEM_COLUMNS,
                 index=index)
    bfi = _pivot(export_frame(study=study, what="bfi10"), columns="question", values="answer", names=BFI_ITEM_COLUMNS,
                 index=index)
    items = list(Item.objects.filter(study=study).order_by("pk").values("item_id", "group__name", "source", "query",
                                                                          "response"))
    rating_names = item_columns([item["item_id"] for item in items])
    ratings = _pivot(export_frame(study=study, what="ratings"), columns="item_id", values="rating", names=rating_names,
                     index=index)

    pvq_answers = pvq.rename(columns={v: k for k, v in PVQ_ITEM_COLUMNS.items()}).astype(float)
    bfi_answers = bfi.rename(columns={v: k for k, v in BFI_ITEM_COLUMNS.items()}).astype(float)
    raw = pvq21_raw_means(pvq_answers).rename(columns={**PVQ_RAW_COLUMNS, MRAT: PVQ_MRAT_COLUMN})
    centred = score_pvq21(pvq_answers).rename(columns={**PVQ_CENTRED_COLUMNS, **HIGHER_COLUMNS})
    traits = score_bfi10(bfi_answers).rename(columns=BFI_COLUMNS)
    scores = pd.concat([raw, centred, traits], axis=1)[SCORE_COLUMNS]

    decisions = _decisions(study)
    screening = decisions.reindex(index)
    for column in ["included", *SCREEN_COLUMNS.values()]:
        screening[column] = screening[column].astype("Int64")
    screening[["manual_decision", "excluded_reasons"]] = screening[["manual_decision", "excluded_reasons"]].fillna("")

    base = base.assign(failed_checks=base["failed_checks"].astype("Int64"))
    wide = pd.concat([base, screening[DECISION_COLUMNS], pvq, bfi, scores, ratings], axis=1).reset_index(drop=True)
    score_file = pd.concat([base[["participant_id"]], screening[["included"]], scores], axis=1).reset_index(drop=True)
    codebook = _codebook(items, rating_names, list(wide.columns), list(score_file.columns))
    return wide, score_file, codebook


def _labels(scale) -> dict[int, str]:
    return dict(scale)


def _coding(labels: dict[int, str]) -> str:
    return "; ".join(f"{code} = {text}" for code, text in labels.items())


def _entry(column, kind, label, question="", value_labels=None, coding="", item_id=""):
    value_labels = value_labels or {}
    return {"column": column, "type": kind, "label": label, "coding": coding or _coding(value_labels),
            "question": question, "item_id": item_id, "value_labels": value_labels}


def _codebook(items: list[dict], rating_names: dict[str, str], wide_columns: list[str], score_columns: list[str]) -> list[dict]:
    pvq_labels, bfi_labels, item_labels = _labels(PVQ21_SCALE), _labels(BFI10_SCALE), _labels(ITEM_SCALE)
    entries = [
        _entry("participant_id", "string", "Pseudonymous participant id (the same in every export of the platform)",
               coding="text; never the Prolific ID"),
        _entry("group", "string", "Item group the participant was assigned at consent", coding="text; empty before consent"),
        _entry("status", "string", "Participant status", coding="active; completed; failed_checks; no_consent; expired; returned"),
        _entry("gender", "string", "Gender (self-described in the survey)", coding="text; empty if not asked or not given"),
        _entry("age_band", "string", "Age band", coding="text; empty if not asked or not given"),
        _entry("pvq_form", "string", "PVQ-21 wording shown", coding="male; female; neutral"),
        _entry("completion_seconds", "float", "Seconds from arrival to completion", coding="seconds; empty if not completed"),
        _entry("failed_checks", "integer", "Attention checks failed", coding="count"),
        _entry("included", "integer", "Included in the latest finished analysis", value_labels=INCLUDED_LABELS,
               coding=_coding(INCLUDED_LABELS) + "; empty = not screened (not analysable, or no analysis yet)"),
        _entry("manual_decision", "string", "Researcher's manual decision used by that analysis",
               coding="include; exclude; empty = by the rules"),
        _entry("excluded_reasons", "string", "Screening reasons (codes of the scr_* columns), ';'-separated",
               coding="text; empty if none"),
    ]
    for code, column in SCREEN_COLUMNS.items():
        entries.append(_entry(column, "integer", f"Screen: {REASONS[code]}"[:STATA_LABEL_MAX], question=REASONS[code],
                              value_labels=FLAG_LABELS, coding=_coding(FLAG_LABELS) + "; empty = not screened"))
    for q in PVQ21:
        entries.append(_entry(
            PVQ_ITEM_COLUMNS[q["question"]], "integer", f"PVQ-21 item {q['question']} ({q['value']})",
            question=f"{PVQ21_QUESTION} {q['male']} (female form: {q['female']} Neutral form: {q['neutral']})",
            value_labels=pvq_labels,
        ))
    for q in BFI10:
        keyed = "reverse-keyed" if q["reversed"] else "keyed"
        entries.append(_entry(
            BFI_ITEM_COLUMNS[q["question"]], "integer", f"BFI-10 item {q['question']} ({q['trait']}, {keyed})",
            question=f"{BFI10_STEM} {q['text'].removeprefix('... ')}", value_labels=bfi_labels,
        ))
    for value, column in PVQ_RAW_COLUMNS.items():
        entries.append(_entry(column, "float", f"PVQ-21 {value}: raw mean of its items", coding="mean of answers, 1-6"))
    entries.append(_entry(PVQ_MRAT_COLUMN, "float", "PVQ-21 MRAT: mean rating over all answered items",
                          coding="mean of answers, 1-6"))
    for value, column in PVQ_CENTRED_COLUMNS.items():
        entries.append(_entry(column, "float", f"PVQ-21 {value}: centred score (raw mean - MRAT)",
                              coding="difference, -5 to 5"))
    for value, column in HIGHER_COLUMNS.items():
        entries.append(_entry(column, "float", f"PVQ-21 higher-order {value}: centred (item mean - MRAT)",
                              coding="difference, -5 to 5"))
    for trait, column in BFI_COLUMNS.items():
        entries.append(_entry(column, "float", f"BFI-10 {trait}: mean of its two keyed items",
                              coding="mean, 1-5 (reversed items scored 6 - x)"))
    for item in items:
        entries.append(_entry(
            rating_names[item["item_id"]], "integer", f"Rating of item {item['item_id']}"[:STATA_LABEL_MAX],
            question=f"{ITEM_QUESTION} Query: {item['query']} Response: {item['response']}",
            value_labels=item_labels, coding=_coding(item_labels) + "; empty = not rated (another group)",
            item_id=item["item_id"],
        ))
    scores = set(score_columns)
    by_column = {entry["column"]: entry for entry in entries}
    if list(by_column) != wide_columns:
        raise RuntimeError("The codebook and the wide file disagree on the columns.")
    for entry in entries:
        entry["files"] = "wide scores" if entry["column"] in scores else "wide"
    return entries


def codebook_frame(entries: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(entries, columns=CODEBOOK_COLUMNS)


def codebook_json(entries: list[dict], *, study: Study) -> bytes:
    ordered = [{key: entry[key] for key in [*CODEBOOK_COLUMNS, "value_labels"]} for entry in entries]
    return json.dumps({"study": study.slug, "columns": ordered}, ensure_ascii=False, indent=2).encode()


def _readstat_frame(frame: pd.DataFrame) -> pd.DataFrame:
    # SPSS and Stata numbers are doubles with system missing; text stays text.
    return frame.apply(lambda c: c.astype(float) if pd.api.types.is_numeric_dtype(c.dtype) else c.astype(object).fillna(""))


def write_table(frame: pd.DataFrame, entries: list[dict], *, fmt: str) -> bytes:
    """``frame`` as csv/parquet (``surveys.exports.write_export``) or SPSS .sav / Stata .dta (pyreadstat),
    the latter with the codebook's variable labels and value labels."""
    if fmt in ("csv", "parquet"):
        return write_export(frame, fmt=fmt).getvalue()
    if fmt not in STUDY_EXPORT_FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use one of {', '.join(STUDY_EXPORT_FORMATS)}.")
    import pyreadstat  # only the .sav/.dta exports need it

    by_column = {entry["column"]: entry for entry in entries}
    labels = {c: by_column[c]["label"][:STATA_LABEL_MAX] for c in frame.columns}
    value_labels = {c: {float(k): v for k, v in by_column[c]["value_labels"].items()} for c in frame.columns
                    if by_column[c]["value_labels"]}
    writer = pyreadstat.write_sav if fmt == "sav" else pyreadstat.write_dta
    options = {} if fmt == "sav" else {"version": 15}
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"table.{fmt}"
        writer(_readstat_frame(frame), str(path), column_labels=labels, variable_value_labels=value_labels, **options)
        return path.read_bytes()


def study_export_files(*, study: Study, fmt: str) -> dict[str, bytes]:
    """Every file of a study export in ``fmt``: ``wide.<fmt>``, ``scores.<fmt>``, ``codebook.csv``, ``codebook.json``."""
    if fmt not in STUDY_EXPORT_FORMATS:
        raise ValueError(f"Unknown format '{fmt}': use one of {', '.join(STUDY_EXPORT_FORMATS)}.")
    wide, scores, entries = study_export_tables(study=study)
    return {
        f"wide.{fmt}": write_table(wide, entries, fmt=fmt),
        f"scores.{fmt}": write_table(scores, entries, fmt=fmt),
        "codebook.csv": write_export(codebook_frame(entries), fmt="csv").getvalue(),
        "codebook.json": codebook_json(entries, study=study),
    }


def study_export_file(*, study: Study, table: str, fmt: str) -> io.BytesIO:
    """One file of a study export (for a download link)."""
    wide, scores, entries = study_export_tables(study=study)
    if table == "codebook":
        if fmt not in CODEBOOK_FORMATS:
            raise ValueError(f"The codebook is {' or '.join(CODEBOOK_FORMATS)}.")
        data = codebook_json(entries, study=study) if fmt == "json" else write_export(codebook_frame(entries), fmt="csv").getvalue()
    elif table in ("wide", "scores"):
        data = write_table(wide if table == "wide" else scores, entries, fmt=fmt)
    else:
        raise ValueError(f"Unknown table '{table}': use one of {', '.join(STUDY_EXPORT_TABLES)}.")
    return io.BytesIO(data)

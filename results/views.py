"""Public results pages: leaderboard, model page, compare, human alignment, self-test, item explorer.

Views are thin: read the query, call a selector, render. Every page's tables download as CSV
or JSON with ``?format=csv|json`` (and ``&table=<name>`` where a page has several tables).
"""

import json
import math
from urllib.parse import urlencode

import pandas as pd
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from benchmark import scoring
from benchmark.models import LLM, BankItem, HumanReference, Run
from benchmark.selectors import run_consistency, run_cut_off, run_scores
from benchmark.services import runs_interrupt_stale
from config.middleware import rate_limit_exceeded, too_many_requests
from config.spreadsheet import spreadsheet_frame
from psychometrics.stats.dimensions import BFI, FAMILIES, PVQ, canonical_dimension
from results import selectors, welfare
from results.selectors import FAMILY_LABELS, MAX_COMPARE, MAX_ID, ResultsError, record_id
from results.services import self_test_profile, self_test_store
from surveys.instruments import (
    PVQ21_FORMS,
    PVQ21_INSTRUCTIONS,
    PVQ21_QUESTION,
    PVQ21_SCALE,
    answer_code,
    pvq21_portraits,
)

FORMATS = ("csv", "json")
PVQ21_CODES = {code for code, _ in PVQ21_SCALE}
MSG_SELF_TEST_LIMIT = (
    "Many self-tests were stored from your network recently. Your answers were not stored; please try "
    "again in {minutes} minutes, or take the test without ticking \"Store my answers\"."
)


# --- helpers --------------------------------------------------------------------------------------


def _json_ready(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _json_ready(value.item())
    return value


def table_download(frame: pd.DataFrame, fmt: str, name: str) -> HttpResponse:
    """A DataFrame as a CSV or JSON (list of records) attachment named ``<name>.<fmt>``.

    CSV text cells that a spreadsheet would run as a formula get a leading ``'`` (``config.spreadsheet``).
    """
    if fmt == "csv":
        response = HttpResponse(spreadsheet_frame(frame).to_csv(index=False), content_type="text/csv; charset=utf-8")
    else:
        records = [{key: _json_ready(value) for key, value in row.items()} for row in frame.to_dict("records")]
        response = HttpResponse(json.dumps(records, indent=1), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _download(request, tables: dict[str, pd.DataFrame], prefix: str) -> HttpResponse | None:
    """The requested table if ``?format=`` is set, else None (render the page)."""
    fmt = request.GET.get("format")
    if not fmt:
        return None
    if fmt not in FORMATS:
        return JsonResponse({"detail": f"format must be one of {', '.join(FORMATS)}"}, status=400)
    name = request.GET.get("table") or next(iter(tables))
    if name not in tables:
        return JsonResponse({"detail": f"table must be one of {', '.join(tables)}"}, status=400)
    return table_download(tables[name], fmt, f"{prefix}-{name}")


def _error_page(request, template: str, message: str, context: dict | None = None) -> HttpResponse:
    return render(request, template, {**(context or {}), "error": message}, status=400)


def heat_style(value: float | None, *, centre: float, span: float) -> str:
    """Background colour of a heat-table cell: blue below ``centre``, red above, white at it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    strength = max(-1.0, min(1.0, (value - centre) / span))
    alpha = round(abs(strength) * 0.75, 3)
    rgb = "214, 69, 65" if strength > 0 else "47, 91, 211"
    return f"background: rgba({rgb}, {alpha})"


def _heat_span(family: str) -> tuple[float, float]:
    return (3.5, 1.5) if family == BFI else (0.0, 0.8)


def _bank_choice(request) -> tuple[object, list]:
    banks = list(selectors.banks_visible(request.user).order_by("name"))
    value = request.GET.get("itembank")
    if value:
        return selectors.bank_resolve(value, request.user), banks
    return selectors.bank_default(request.user), banks


def _protocol_choice(request, bank, context: dict | None = None):
    """The protocol a page compares within (``?protocol=``, default the bank's) and the bank's protocols, for the picker.

    On a page (unlike the API) a protocol the bank does not use, e.g. kept in the URL after switching
    bank, falls back to the bank's default with a notice in ``context``.
    """
    protocols = selectors.protocols_available(bank)
    try:
        return selectors.protocol_resolve(bank, request.GET.get("protocol")), protocols
    except ResultsError as exc:
        if context is not None:
            context["protocol_notice"] = f"{exc}. Showing the default protocol."
        return selectors.protocol_resolve(bank), protocols


def _family_choice(request) -> str:
    return selectors.family_resolve(request.GET.get("family") or PVQ)


def _llm_or_404(request, model_id) -> LLM:
    try:
        pk = int(model_id)
    except (TypeError, ValueError):
        raise Http404("no such model") from None
    llm = LLM.objects.filter(pk=pk, runs__in=selectors.runs_visible(request.user)).distinct().first() if 0 < pk <= MAX_ID else None
    if llm is None:
        raise Http404("no such model")
    return llm


def _common(family: str) -> dict:
    return {"families": [(key, FAMILY_LABELS[key]) for key in FAMILIES], "family": family,
            "family_label": FAMILY_LABELS[family], "value_label": "mean rating (1-6)" if family == BFI else "score (centred)"}


# --- leaderboard ----------------------------------------------------------------------------------


def welfare_precision(rows: list[dict]) -> int:
    """Decimals for welfare values: 2, or 3 when the typical (median) interval is narrower than 0.01, so the
    printed digits match the uncertainty instead of hiding differences the intervals resolve."""
    widths = sorted(row["welfare_high"] - row["welfare_low"] for row in rows
                    if row.get("welfare_low") is not None and row.get("welfare_high") is not None)
    return 3 if widths and widths[len(widths) // 2] < 0.01 else 2


def model_matches(row: dict, search: str) -> bool:
    """Whether a leaderboard row's model name or provider contains every word of ``search`` (case-insensitive)."""
    haystack = f"{row['model']} {row.get('organization') or ''}".casefold()
    return all(word in haystack for word in search.casefold().split())


@require_safe
def leaderboard_page(request):
    context = {"aggregations": list(welfare.AGGREGATIONS.items()), "questions": list(selectors.QUESTIONS.items()),
               "profile_kinds": list(welfare.SPANS)}
    try:
        bank, banks = _bank_choice(request)
        family = _family_choice(request)
        # The page keeps only the ticked dimensions of the chosen family (switching family resets the choice).
        ticked = [name for name in request.GET.getlist("dimensions") if name.strip()
                  and canonical_dimension(name)[0] == family]
        chosen = selectors.dimensions_resolve(family, ticked)
        aggregate = request.GET.get("aggregate") or welfare.UTILITARIAN
        question = request.GET.get("question") or selectors.CLOSENESS
        weights = {}
        for name in chosen:
            raw = request.GET.get(f"w_{name}")
            if raw not in (None, ""):
                weights[name] = raw
        weights = selectors.weights_resolve(",".join(f"{k}:{v}" for k, v in weights.items()), chosen) if weights else {}
        target, profile = request.GET.get("target") or "", request.GET.get("profile") or ""
        if target in (selectors.TARGET_PROFILE, selectors.TARGET_SELF) and not profile:
            # The page's own profile inputs (p_<dimension>), as the visitor typed them.
            profile = ",".join(f"{name}:{request.GET[f'p_{name}']}" for name in FAMILIES[family]
                               if request.GET.get(f"p_{name}", "").strip())
        profile_kind = request.GET.get("profile_kind") or welfare.CENTRED
        protocol, protocols = _protocol_choice(request, bank, context)
        board = selectors.leaderboard(bank=bank, family=family, dimensions=chosen, aggregate=aggregate, weights=weights,
                                      question=question, target=target, profile=profile, profile_kind=profile_kind,
                                      protocol=protocol)
    except ResultsError as exc:
        return _error_page(request, "results/leaderboard.html", str(exc), {**context, **_common(PVQ), "banks": []})
    download = _download(request, {"leaderboard": board.long_frame()}, "leaderboard")
    if download:
        return download
    centre, span = (3.5, 1.5) if board.value_kind == welfare.MEAN else (0.0, 0.8)
    search = (request.GET.get("q") or "").strip()
    welfare_digits = welfare_precision(board.rows)
    shown = [row for row in board.rows if model_matches(row, search)]
    rows = []
    for row in shown:
        cells = []
        for name in board.dimensions:
            value = row["values"].get(name)
            cells.append({"dimension": name, "value": value, "style": heat_style(value, centre=centre, span=span),
                          "utility": row["utilities"].get(name),
                          "is_max": name in row["max_dimensions"], "is_min": name in row["min_dimensions"]})
        rows.append({**row, "cells": cells})
    target = board.target
    target_cells = ([{"value": target.values.get(name), "style": heat_style(target.values.get(name), centre=centre, span=span)}
                     for name in board.dimensions] if target else [])
    context.update({
        **_common(family), "bank": bank, "banks": banks, "board": board, "rows": rows,
        "protocol": protocol, "protocols": protocols,
        "all_dimensions": [(name, name in board.dimensions, board.weights.get(name, 1.0),
                            _json_ready(target.values.get(name)) if target else None) for name in FAMILIES[family]],
        "aggregate": board.aggregate, "aggregate_label": welfare.AGGREGATIONS[board.aggregate],
        "question": board.question, "question_text": selectors.QUESTIONS[board.question],
        "target": target, "target_cells": target_cells,
        "target_choices": selectors.target_choices(bank, family) + (
            [(target.key, target.label)] if target and target.key == selectors.TARGET_SELF else []),
        "target_key": target.key if target else "", "profile_kind": target.kind if target else welfare.CENTRED,
        "value_label": "mean rating (1-6)" if board.value_kind == welfare.MEAN else "centred score",
        "span": welfare.SPANS[board.value_kind], "confidence": round(board.confidence * 100),
        "any_derived": any(row["value_basis"].startswith("mean −") for row in board.rows),
        "any_published": any(row["source"] == "published" for row in board.rows),
        "any_no_interval": any(row["no_interval"] for row in board.rows),
        "all_published": bool(board.rows) and all(row["source"] == "published" for row in board.rows),
        "chart": {"labels": [row["model"] for row in shown], "values": [row["welfare"] for row in shown]},
        "chart_height": max(280, 22 * len(shown) + 60), "search": search, "models_total": len(board.rows), "welfare_digits": welfare_digits,
        "query": request.GET.urlencode(),
        "other_rankings": [{"bank": other, "models": models, "query": urlencode({"itembank": other.name, "family": family})}
                           for other, models in selectors.banks_ranked(request.user, family, besides=bank)],
    })
    return render(request, "results/leaderboard.html", context)


# --- model page -----------------------------------------------------------------------------------


@require_safe
def model_page(request, model_id: int):
    runs_interrupt_stale()  # a run whose worker died shows as interrupted, never "running" forever
    llm = _llm_or_404(request, model_id)
    runs = list(selectors.model_runs(llm, request.user))
    run = None
    if request.GET.get("run", "").isdigit():
        run = next((r for r in runs if r.pk == record_id(request.GET["run"])), None)
        if run is None:
            raise Http404("no such run of this model")
    run = run or selectors.run_default(llm, request.user)
    withheld = selectors.run_scores_withheld(run, request.user) if run else None
    scores = run_scores(run) if run and not withheld else []
    frame = pd.DataFrame(scores, columns=["family", "dimension", *selectors.SCORE_FIELDS])
    download = _download(request, {"scores": frame.assign(model=str(llm), run_id=run.pk if run else None)}, f"model-{llm.pk}")
    if download:
        return download
    by_family = []
    for family in FAMILIES:
        rows = [row for row in scores if row["family"] == family]
        if not rows:
            continue
        field = selectors.display_value(family)
        by_family.append({
            "family": family, "label": FAMILY_LABELS[family], "field": field,
            "rows": [{**row, "value": row[field]} for row in rows],
            "chart": {"labels": [row["dimension"] for row in rows], "values": [row[field] for row in rows],
                      "low": [row["ci_low"] if field == "score" else None for row in rows],
                      "high": [row["ci_high"] if field == "score" else None for row in rows]},
        })
    context = {
        "llm": llm, "runs": runs, "run": run, "by_family": by_family,
        "run_protocol": selectors.ProtocolChoice(run.protocol_digest, run.protocol, 1) if run else None,
        "items_url": reverse("results:run-items", args=[run.pk]) if run else "",
        "has_items": bool(run and run.source != Run.Source.PUBLISHED and not withheld),
        "consistency": run_consistency(run) if run and not withheld else None,
        "cut_off": run_cut_off(run) if run and run.source != Run.Source.PUBLISHED and not withheld else None,
        "withheld": withheld,
        # Managers of a failed or interrupted run see its provisional scores, marked as such.
        "provisional": bool(run and not withheld and run.status in selectors.UNSCORED_STATUSES
                            and run.source != Run.Source.PUBLISHED),
        # Downloads keep ?run= so they hold the run on screen, not the default one.
        "query": f"run={run.pk}" if run else "",
    }
    return render(request, "results/model.html", context)


@require_safe
def run_items(request, run_id: int):
    """JSON (or CSV) of the items behind one of a run's scores, for the model page."""
    runs_interrupt_stale()
    run = selectors.runs_visible(request.user).filter(pk=run_id).first() if 0 < run_id <= MAX_ID else None
    if run is None:
        raise Http404("no such run")
    withheld = selectors.run_scores_withheld(run, request.user)
    if withheld:
        return JsonResponse({"detail": withheld}, status=403)
    try:
        family, dimension = selectors.dimension_resolve(request.GET.get("dimension", ""), request.GET.get("family") or None)
    except ResultsError as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    items = selectors.run_dimension_items(run, family, dimension)
    if request.GET.get("format") == "csv":
        flat = [{**{k: v for k, v in item.items() if k != "answers"},
                 **{f"answer_{a['prompt_index'] + 1}": a["raw_text"] for a in item["answers"]},
                 **{f"rating_{a['prompt_index'] + 1}": a["rating"] for a in item["answers"]}} for item in items]
        return table_download(pd.DataFrame(flat), "csv", f"run-{run.pk}-{dimension}-items")
    settings = run.settings or {}
    return JsonResponse({"run_id": run.pk, "family": family, "dimension": dimension,
                         "threshold": settings.get("threshold", scoring.DEFAULT_THRESHOLD),
                         "alpha": settings.get("alpha", scoring.DEFAULT_ALPHA),
                         "mode": settings.get("mode", "positive"),
                         "selection": run.protocol.get("selection"), "protocol_digest": run.protocol_digest,
                         "items": items})


# --- compare --------------------------------------------------------------------------------------


@require_safe
def compare_page(request):
    try:
        bank, banks = _bank_choice(request)
        family = _family_choice(request)
        notices: dict = {}
        protocol, protocols = _protocol_choice(request, bank, notices)
    except ResultsError as exc:
        return _error_page(request, "results/compare.html", str(exc), _common(PVQ))
    available = sorted(selectors.baseline_runs(bank, protocol), key=lambda run: str(run.llm).lower()) if bank else []
    labels = selectors.llm_labels(run.llm for run in available)
    choices = [{"run": run, "llm": run.llm, "label": labels[run.llm_id]} for run in available]
    ids = [pk for pk in map(record_id, request.GET.getlist("models")) if pk is not None]
    if len(ids) > MAX_COMPARE:
        message = (f"Compare shows at most {MAX_COMPARE} models side by side; the link chose {len(ids)}. Untick "
                   f"{len(ids) - MAX_COMPARE} below and press Compare, or see every model on the leaderboard.")
        return _error_page(request, "results/compare.html", message,
                           {**_common(family), "banks": banks, "bank": bank, "available": choices,
                            "protocol": protocol, "protocols": protocols, "max_compare": MAX_COMPARE,
                            "chosen_ids": ids})
    chosen = [run.llm for run in available if run.llm_id in ids] or [run.llm for run in available[:3]]
    frame = selectors.compare_models(chosen, bank, protocol) if bank else pd.DataFrame(columns=["family"])
    field = selectors.display_value(family)
    fam = frame[frame["family"] == family] if len(frame) else frame
    # Columns by model id: two models may share a display name (one name, two providers).
    wide = (fam.pivot_table(index="dimension", columns="model_id", values=field, aggfunc="first")
            .reindex(index=list(FAMILIES[family]), columns=[llm.pk for llm in chosen]) if len(fam) else None)
    condition_llm = None
    conditions = pd.DataFrame(columns=["condition", "run_id", "family", "dimension", "baseline", "value", "difference"])
    if request.GET.get("model", "").isdigit() and bank:
        condition_llm = _llm_or_404(request, request.GET["model"])
        conditions = selectors.condition_differences(condition_llm, bank, request.user)
    long = frame[["model", "run_id", "family", "dimension", *selectors.SCORE_FIELDS]] if len(frame) else frame
    download = _download(request, {"scores": long, "conditions": conditions}, "compare")
    if download:
        return download
    centre, span = _heat_span(family)
    table = []
    if wide is not None:
        for dimension, values in wide.iterrows():
            table.append({"dimension": dimension, "cells": [
                {"value": None if pd.isna(v) else round(float(v), 2), "style": heat_style(None if pd.isna(v) else float(v),
                                                                                       centre=centre, span=span)}
                for v in values]})
    cond_family = conditions[conditions["family"] == family] if len(conditions) else conditions
    if len(cond_family):  # each condition's rows in the family's own dimension order, as the charts
        order = {name: index for index, name in enumerate(FAMILIES[family])}
        cond_family = cond_family.assign(_rank=cond_family["dimension"].map(order)).sort_values(
            ["condition", "_rank"], kind="stable").drop(columns="_rank")
    cond_chart = {"labels": FAMILIES[family], "datasets": [
        {"label": condition, "data": [None if pd.isna(x) else round(float(x), 3) for x in
                                      group.set_index("dimension")["difference"].reindex(FAMILIES[family])]}
        for condition, group in cond_family.groupby("condition", sort=True)]} if len(cond_family) else None
    context = {
        **_common(family), **notices, "bank": bank, "banks": banks, "protocol": protocol, "protocols": protocols,
        "available": choices,
        "chosen": chosen, "chosen_columns": [(llm, labels[llm.pk]) for llm in chosen],
        "chosen_ids": [llm.pk for llm in chosen], "table": table, "max_compare": MAX_COMPARE,
        "chart": {"labels": FAMILIES[family], "centred": family != BFI, "datasets": [
            {"label": labels[llm.pk], "data": [None if wide is None or pd.isna(wide.at[d, llm.pk]) else float(wide.at[d, llm.pk])
                                               for d in FAMILIES[family]]} for llm in chosen]},
        "condition_llm": condition_llm, "conditions": cond_family.to_dict("records") if len(cond_family) else [],
        "cond_chart": cond_chart, "query": request.GET.urlencode(),
        "condition_models": sorted({run.llm for run in selectors.runs_visible(request.user).filter(bank=bank)
                                   .exclude(condition="baseline")}, key=str) if bank else [],
    }
    return render(request, "results/compare.html", context)


# --- human alignment ------------------------------------------------------------------------------


def _heat_rows(left: pd.DataFrame, right: pd.DataFrame, correlations: pd.DataFrame) -> list[dict]:
    lookup = {(r.left, r.right): r.rho for r in correlations.itertuples()}
    rows = []
    for name in sorted(left.index, key=lambda label: str(label).lower()):
        cells = []
        for other in right.index:
            rho = lookup.get((name, other))
            rho = None if rho is None or pd.isna(rho) else round(float(rho), 2)
            cells.append({"value": rho, "style": heat_style(rho, centre=0.0, span=1.0)})
        rows.append({"name": name, "cells": cells})
    return rows


def _pca_context(vectors: pd.DataFrame, kinds: pd.Series) -> tuple[pd.DataFrame, dict]:
    pca = selectors.pca_map(vectors)
    pca["kind"] = pca["name"].map(kinds.groupby(level=0).first())
    explained = pca.attrs.get("explained", [float("nan"), float("nan")])
    return pca, {"points": [{"name": r.name, "kind": r.kind, "x": round(float(r.pc1), 4), "y": round(float(r.pc2), 4)}
                            for r in pca.itertuples()],
                 "explained": [None if math.isnan(x) else round(x * 100, 1) for x in explained],
                 "dimensions": pca.attrs.get("dimensions", [])}


@require_safe
def alignment_page(request):
    """Like with like: model profiles against human profiles, persona effects against group deviations."""
    try:
        bank, banks = _bank_choice(request)
        notices: dict = {}
        protocol, protocols = _protocol_choice(request, bank, notices)
    except ResultsError as exc:
        return _error_page(request, "results/alignment.html", str(exc))
    family = PVQ
    persona_models = sorted({run.llm for run in selectors.runs_visible(request.user).filter(
        bank=bank, condition__startswith="persona:", status=Run.Status.COMPLETED)}, key=str) if bank else []
    bias_llm, bias_label = None, None
    choice = request.GET.get("model", "")
    if choice.isdigit():
        bias_llm = _llm_or_404(request, choice)
    elif choice != "published" and persona_models:
        bias_llm = persona_models[0]
    if bias_llm and bank:
        bias, bias_label = selectors.persona_bias(bias_llm, bank, request.user), str(bias_llm)
    else:
        bias, bias_label = selectors.published_persona_bias(), selectors.PUBLISHED_PERSONA_LABEL
    bias_summary = selectors.persona_bias_summary(bias)

    # Profiles: each model's centred scores against human groups' centred profiles.
    models = selectors.model_vectors(bank, family, protocol=protocol)
    profiles = selectors.human_profiles(family, bank)
    profile_rho = selectors.spearman_table(models, profiles)
    # Deviations: the chosen model's persona − baseline against human groups' group − population.
    effects = selectors.persona_effect_vectors(bias, family)
    deviations = selectors.human_deviations(family)
    deviation_rho = selectors.spearman_table(effects, deviations)
    pca, pca_context = _pca_context(pd.concat([models, profiles]),
                                    pd.concat([pd.Series("model", index=models.index), pd.Series("human group", index=profiles.index)]))
    pca_dev, pca_dev_context = _pca_context(pd.concat([effects, deviations]),
                                            pd.concat([pd.Series("persona effect", index=effects.index),
                                                       pd.Series("human group", index=deviations.index)]))
    download = _download(request, {
        "spearman": profile_rho.rename(columns={"left": "model", "right": "human_profile"}),
        "spearman_deviations": deviation_rho.rename(columns={"left": "persona", "right": "human_deviation"}),
        "pca": pca, "pca_deviations": pca_dev, "persona_bias": bias, "persona_summary": bias_summary}, "alignment")
    if download:
        return download
    bias_charts = []
    for kind, group in bias.groupby("group_kind", sort=True):
        personas = list(dict.fromkeys(group["persona"]))
        datasets_model, datasets_human = [], []
        for persona in personas:
            rows = group[group["persona"] == persona].set_index("dimension")
            datasets_model.append({"label": persona, "data": [_json_ready(rows["model_difference"].get(d)) for d in FAMILIES[family]]})
            if rows["reference"].notna().any():
                datasets_human.append({"label": rows["reference"].dropna().iloc[0],
                                       "data": [_json_ready(rows["human_value"].get(d)) for d in FAMILIES[family]]})
        bias_charts.append({"kind": kind, "model": datasets_model, "human": datasets_human})
    context = {
        **notices, "bank": bank, "banks": banks, "protocol": protocol, "protocols": protocols,
        "n_references": HumanReference.objects.count(),
        "profile_names": list(profiles.index), "heat": _heat_rows(models, profiles, profile_rho),
        "deviation_names": list(deviations.index), "deviation_heat": _heat_rows(effects, deviations, deviation_rho),
        "pca": pca_context, "pca_deviations": pca_dev_context,
        "persona_models": persona_models, "bias_llm": bias_llm, "bias_label": bias_label, "bias_charts": bias_charts,
        "bias_rows": bias.to_dict("records"), "bias_summary": bias_summary.to_dict("records"), "dimensions": FAMILIES[family], "query": request.GET.urlencode(),
    }
    return render(request, "results/alignment.html", context)


# --- self-test ------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def self_test_page(request):
    form = request.POST.get("form") or request.GET.get("form") or "neutral"
    if form not in PVQ21_FORMS:
        form = "neutral"
    portraits = pvq21_portraits(form)
    context = {"form": form, "forms": PVQ21_FORMS, "portraits": portraits, "scale": PVQ21_SCALE,
               "instructions": PVQ21_INSTRUCTIONS, "question": PVQ21_QUESTION, "answers": {}}
    if request.method != "POST":
        return render(request, "results/self_test.html", context)
    answers, missing = {}, []
    for portrait in portraits:
        code = answer_code(request.POST.get(f"q{portrait['question']}"))
        if code in PVQ21_CODES:
            answers[portrait["question"]] = code
        else:
            missing.append(portrait["question"])
    context["answers"] = answers
    if missing:
        context["error"] = f"Please answer every description (missing: {', '.join(map(str, missing))})."
        return render(request, "results/self_test.html", context, status=400)
    profile = self_test_profile(answers)
    bank = selectors.bank_default(request.user)
    protocol = selectors.protocol_resolve(bank)  # the default protocol, as the leaderboard's
    closest = selectors.closest_models(profile[FAMILIES[PVQ]], bank, limit=5, protocol=protocol)
    stored = None
    if request.POST.get("store") == "yes":
        retry_after = rate_limit_exceeded(request, scope="self-test-store", setting="SELF_TEST_STORE_RATE_LIMIT")
        if retry_after is not None:
            return too_many_requests(request, MSG_SELF_TEST_LIMIT.format(minutes=max(1, -(-retry_after // 60))), retry_after)
        stored = self_test_store(form=form, answers=answers, profile=profile)
    top = closest.iloc[0] if len(closest) else None
    top_vector = None
    if top is not None:
        vectors = selectors.model_vectors(bank, PVQ, protocol=protocol)
        top_vector = [_json_ready(vectors.at[top["model"], d]) for d in FAMILIES[PVQ]]
    context.update({
        "profile": [{"dimension": d, "value": round(float(profile[d]), 2)} for d in FAMILIES[PVQ]],
        "higher": [{"dimension": d, "value": round(float(profile[d]), 2)} for d in profile.index if d not in FAMILIES[PVQ]],
        "closest": closest.to_dict("records"), "bank": bank, "protocol": protocol, "stored": stored,
        "leaderboard_query": urlencode({"itembank": bank.name if bank else "", "family": PVQ, "target": selectors.TARGET_SELF,
                                        **{f"p_{d}": f"{float(profile[d]):.3f}" for d in FAMILIES[PVQ]}}),
        "chart": {"labels": FAMILIES[PVQ], "you": [round(float(profile[d]), 3) for d in FAMILIES[PVQ]],
                  "model": top_vector, "model_label": top["model"] if top is not None else None},
        "profile_csv": spreadsheet_frame(pd.DataFrame([{"dimension": d, "score": float(profile[d])} for d in profile.index])).to_csv(index=False),
        "closest_csv": spreadsheet_frame(closest).to_csv(index=False),
        "self_test_json": {"form": form, "profile": {d: round(float(profile[d]), 6) for d in profile.index},
                           "closest_models": [{key: _json_ready(value) for key, value in row.items()}
                                              for row in closest.to_dict("records")]},
    })
    return render(request, "results/self_test.html", context)


# --- item explorer --------------------------------------------------------------------------------


@require_safe
def items_page(request):
    banks = selectors.banks_visible(request.user)
    filters = {key: request.GET.get(key, "").strip() for key in ("itembank", "source", "dimension", "sign", "q")}
    context = {"banks": list(banks.order_by("name")), "filters": filters, "signs": selectors.SIGNS,
               "dimensions": [(family, FAMILY_LABELS[family], names) for family, names in FAMILIES.items()],
               "sources": selectors.item_sources(banks)}
    try:
        if filters["itembank"]:
            banks = banks.filter(pk=selectors.bank_resolve(filters["itembank"], request.user).pk)
        items = selectors.items_filtered(banks=banks, dimension=filters["dimension"] or None, sign=filters["sign"] or None,
                                         source=filters["source"] or None, search=filters["q"] or None)
    except ResultsError as exc:
        return _error_page(request, "results/items.html", str(exc), context)
    items = items.order_by("bank__name", "id")
    if request.GET.get("format"):
        records = [{"itembank": item.bank.name, "item_id": item.item_id, "source": item.source, "title": item.title,
                    "query": item.query, "response": item.response, "family": c.family, "dimension": c.dimension,
                    "rho": c.rho, "p_value": c.p_value, "n": c.n}
                   for item in items for c in item.correlations.all()]
        download = _download(request, {"items": pd.DataFrame(records, columns=[
            "itembank", "item_id", "source", "title", "query", "response", "family", "dimension", "rho", "p_value", "n"])},
            "items")
        if download:
            return download
    page = Paginator(items, 25).get_page(request.GET.get("page"))
    context["any_items"] = BankItem.objects.filter(bank__in=selectors.banks_visible(request.user)).exists()
    if filters["dimension"]:  # the correlation that selected each item, shown beside it
        chosen = selectors.dimension_resolve(filters["dimension"])
        for item in page:
            item.selected = [c for c in item.correlations.all() if (c.family, c.dimension) == chosen]
    params = request.GET.copy()
    params.pop("page", None)
    context.update({"page": page, "query": params.urlencode(), "threshold": scoring.DEFAULT_THRESHOLD,
                    "alpha": scoring.DEFAULT_ALPHA})
    return render(request, "results/items.html", context)


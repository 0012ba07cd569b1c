"""Researcher pages that take a study from nothing to launch: new study, settings (with the
screening rules), items upload, and the launch checklist with Open / Close.

Views stay thin: they check the request, call a service in ``surveys.study_setup`` or
``surveys.importing`` and render or redirect.
"""

import json
from functools import lru_cache

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from psychometrics.forms import ScreeningRulesForm
from psychometrics.models import StudyAnalysisSettings
from psychometrics.selectors import study_analysis_settings
from psychometrics.stats.selection import DEFAULT_POWER, correlation_power, raters_needed
from surveys.forms import ItemUploadForm, StudyForm
from surveys.importing import ItemImportError, import_file
from surveys.models import Item, ItemGroup, Study
from surveys.study_setup import (
    MSG_CONFIRM_CLEAR,
    StudyNotReady,
    StudySetupError,
    study_close,
    study_create,
    study_items_clear,
    study_launch_checklist,
    study_open,
    study_update,
    user_may_create_studies,
)
from surveys.views import researcher_required, study_entry_url

RULES_PREFIX = "rules"
ITEMS_SHOWN = 200
# The power figure beside the group-size target is looked up in a table while the researcher types.
POWER_TABLE_MAX_N = 500
MSG_MAY_NOT_CREATE = (
    "Only researchers can create studies. An operator can make your account a researcher with "
    "'manage.py createresearcher'."
)


@lru_cache(maxsize=16)
def _power_table(r: float, alpha: float) -> dict[int, float]:
    """Power (2 decimals) for 5, 6, ... raters, up to the first n where it shows as 1.00 (or POWER_TABLE_MAX_N)."""
    table = {}
    for n in range(5, POWER_TABLE_MAX_N + 1):
        table[n] = round(correlation_power(r, n, alpha), 2)
        if table[n] >= 1:
            break
    return table


def power_context(*, target: int | None, rules: StudyAnalysisSettings) -> dict | None:
    """The power to detect the selection threshold with ``target`` raters, for the settings form.

    None when the threshold is not a correlation strictly between 0 and 1 or alpha is out of range.
    """
    r, alpha = rules.threshold, rules.alpha
    if not (0 < r < 1 and 0 < alpha < 1):
        return None
    table = _power_table(r, alpha)
    return {
        "r": r,
        "alpha": alpha,
        "power": round(correlation_power(r, target, alpha), 2) if target is not None and target >= 5 else None,
        "target": target,
        "needed": raters_needed(r, alpha, DEFAULT_POWER),
        "needed_power": DEFAULT_POWER,
        "table_json": json.dumps(table, separators=(",", ":")),
    }


def _settings_page(request, *, study: Study | None, form: StudyForm, rules_form: ScreeningRulesForm, status=200):
    rules = rules_form.instance  # with the submitted values once the form was validated
    target = form["target_raters_per_item"].value()
    try:
        target = int(target)
    except (TypeError, ValueError):
        target = None
    context = {
        "study": study,
        "form": form,
        "rules_form": rules_form,
        "power": power_context(target=target, rules=rules),
    }
    return render(request, "surveys/study_settings.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def study_new(request):
    """A new study, saved as a draft; the researcher who creates it is its researcher."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not user_may_create_studies(request.user):
        context = {"title": "Only researchers can create studies", "lines": [MSG_MAY_NOT_CREATE]}
        return render(request, "surveys/researcher_message.html", context, status=403)
    if request.method != "POST":
        form = StudyForm()
        rules_form = ScreeningRulesForm(prefix=RULES_PREFIX, instance=StudyAnalysisSettings())
        return _settings_page(request, study=None, form=form, rules_form=rules_form)
    form = StudyForm(request.POST)
    rules_form = ScreeningRulesForm(request.POST, prefix=RULES_PREFIX, instance=StudyAnalysisSettings())
    if not (form.is_valid() & rules_form.is_valid()):
        return _settings_page(request, study=None, form=form, rules_form=rules_form, status=400)
    study = study_create(owner=request.user, study=form.instance, analysis_settings=rules_form.instance)
    messages.success(request, f"Study '{study.slug}' created as a draft. Next: import its items.")
    return redirect("surveys:study-items", slug=study.slug)


@require_http_methods(["GET", "HEAD", "POST"])
@researcher_required
def study_settings(request, study):
    """The study's settings and screening rules, on one page."""
    frozen = study.participants.exists()
    rules = study_analysis_settings(study=study)
    if request.method != "POST":
        form = StudyForm(instance=study, frozen_checks=frozen)
        rules_form = ScreeningRulesForm(prefix=RULES_PREFIX, instance=rules)
        return _settings_page(request, study=study, form=form, rules_form=rules_form)
    slug = study.slug
    form = StudyForm(request.POST, instance=study, frozen_checks=frozen)
    rules_form = ScreeningRulesForm(request.POST, prefix=RULES_PREFIX, instance=rules)
    if form.is_valid() & rules_form.is_valid():
        try:
            study = study_update(study=form.instance, analysis_settings=rules_form.instance)
        except StudySetupError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Settings saved.")
            return redirect("surveys:study-settings", slug=study.slug)
    # The instance holds the submitted values now; the page and its links keep the stored slug.
    study.slug = slug
    return _settings_page(request, study=study, form=form, rules_form=rules_form, status=400)


def _items_page(request, study: Study, *, form: ItemUploadForm, errors=(), status=200):
    groups = ItemGroup.objects.filter(study=study).annotate(n_items=Count("items")).order_by("name")
    items = Item.objects.filter(study=study).select_related("group").order_by("group__name", "item_id")
    context = {
        "study": study,
        "form": form,
        "errors": list(errors),
        "groups": groups,
        "items": items[:ITEMS_SHOWN],
        "items_total": items.count(),
        "items_shown": ITEMS_SHOWN,
        "may_clear": not study.participants.filter(is_preview=False).exists(),
    }
    return render(request, "surveys/study_items.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@researcher_required
def study_items(request, study):
    """The study's items by group, and the upload: all or nothing, every problem named by line."""
    if request.method != "POST":
        return _items_page(request, study, form=ItemUploadForm())
    form = ItemUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _items_page(request, study, form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        result = import_file(study=study, data=upload.read(), filename=upload.name, fmt=form.cleaned_data["format"] or None)
    except ItemImportError as error:
        return _items_page(request, study, form=ItemUploadForm(), errors=error.errors, status=400)
    messages.success(
        request, f"Imported {result.items_created} items from {upload.name} ({result.groups_created} new item groups)."
    )
    return redirect("surveys:study-items", slug=study.slug)


@require_POST
@researcher_required
def study_items_clear_view(request, study):
    if request.POST.get("confirm") != "yes":
        messages.error(request, MSG_CONFIRM_CLEAR)
        return redirect("surveys:study-items", slug=study.slug)
    try:
        removed = study_items_clear(study=study)
    except StudySetupError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Removed {removed} items and their item groups (and any previews).")
    return redirect("surveys:study-items", slug=study.slug)


def _launch_page(request, study: Study, *, refused=None, status=200):
    context = {
        "study": study,
        "checklist": study_launch_checklist(study=study),
        "refused": refused,
        "entry_url": study_entry_url(request, study),
    }
    return render(request, "surveys/study_launch.html", context, status=status)


@require_http_methods(["GET", "HEAD"])
@researcher_required
def study_launch(request, study):
    """The launch checklist, the link to paste into Prolific, and Open / Close."""
    return _launch_page(request, study)


@require_POST
@researcher_required
def study_open_view(request, study):
    try:
        study = study_open(study=study, link_confirmed=request.POST.get("link_confirmed") == "yes")
    except StudyNotReady as error:
        return _launch_page(request, study, refused=error.unmet, status=409)
    except StudySetupError as error:
        messages.error(request, str(error))
        return redirect("surveys:study-launch", slug=study.slug)
    messages.success(request, f"Study '{study.slug}' is open: participants can start it from Prolific.")
    return redirect("surveys:dashboard", slug=study.slug)


@require_POST
@researcher_required
def study_close_view(request, study):
    try:
        study_close(study=study)
    except StudySetupError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Study closed: nobody new can start; those already in it can finish.")
    return redirect("surveys:study-launch", slug=study.slug)

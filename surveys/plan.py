"""A participant's page plan: which pages they see, in which order, with which checks.

Pure functions, no database: the plan is rebuilt from the participant's seed and their group's
items on every request, so it is reproducible and never stored (only answers are).

Order of a plan::

    consent, instructions, items-1 ... items-N, about (gender, age band), pvq21-1 ... pvq21-3, bfi10

The PVQ-21 is shown in its published order, at most ``pvq_per_page`` portraits a page (7 by
default, so three pages: the 10,800 px single page was too long on a phone); its attention
check lands on the page where it falls among the portraits, and row numbers run on across the
pages. With ``pvq_per_page`` 21 it is the single page ``pvq21`` of participants who started
before the split.

Query order and the order of responses within a query are shuffled with the participant's
seed. Attention checks are instructed-response rows ("please select 'Like me' for this row")
placed among the rows of a page. By default, with four or more checks one goes into the PVQ-21
page and one into the BFI-10 page, the rest into item pages (distinct pages while there are
enough). A study can instead say where each check goes (``check_pages``, see
``parse_check_pages``): ``items`` (an item page, distinct while there are enough),
``items:N`` (the participant's N-th item page), ``pvq21`` or ``bfi10``.
"""

import random
from dataclasses import dataclass, field, replace

from surveys.instruments import BFI10, BFI10_SCALE, ITEM_SCALE, PVQ21, PVQ21_SCALE

CONSENT, INSTRUCTIONS, ITEMS, ABOUT, PVQ21_PAGE, BFI10_PAGE = "consent", "instructions", "items", "about", "pvq21", "bfi10"

CHECK_TEXT = "To show you are reading carefully, please select '{label}' for this row."


@dataclass(frozen=True)
class CheckSpec:
    key: str
    position: int  # index among the page's rows where the check row is inserted
    expected: int
    label: str

    @property
    def text(self) -> str:
        return CHECK_TEXT.format(label=self.label)


@dataclass(frozen=True)
class Page:
    key: str
    kind: str
    item_ids: tuple[int, ...] = ()
    checks: tuple[CheckSpec, ...] = field(default=())
    # Questionnaire pages: the question numbers shown, in order, and the number of the first row.
    questions: tuple[int, ...] = ()
    first_number: int = 1


PVQ21_PER_PAGE = 7


@dataclass(frozen=True)
class PlanItem:
    """What the planner needs to know about an item: its primary key and the query it answers."""

    pk: int
    title: str
    query: str


def _query_pages(items: list[PlanItem], rng: random.Random) -> list[tuple[int, ...]]:
    by_query: dict[tuple[str, str], list[int]] = {}
    for item in items:
        by_query.setdefault((item.title, item.query), []).append(item.pk)
    pages = list(by_query.values())
    rng.shuffle(pages)
    for page in pages:
        rng.shuffle(page)
    return [tuple(page) for page in pages]


def _check(rng: random.Random, key: str, n_rows: int, scale: list[tuple[int, str]]) -> CheckSpec:
    code, label = rng.choice(scale)
    return CheckSpec(key=key, position=rng.randint(0, n_rows), expected=code, label=label)


CHECK_PAGE_KINDS = (ITEMS, PVQ21_PAGE, BFI10_PAGE)


def parse_check_pages(text: str) -> tuple[str, ...]:
    """Where a study's checks go, from text like ``"items, items:3, pvq21, bfi10"``.

    One entry per check: ``items`` (an item page, distinct pages while there are enough),
    ``items:N`` (the participant's N-th item page, 1-based; the last one if there are fewer),
    ``pvq21`` or ``bfi10``. Empty text means the default placement. Raises ValueError naming
    the bad entry.
    """
    entries = tuple(part.strip().lower() for part in text.split(",")) if text.strip() else ()
    for n, entry in enumerate(entries, start=1):
        kind, _, number = entry.partition(":")
        valid = kind in CHECK_PAGE_KINDS and (not number or (kind == ITEMS and number.isascii() and number.isdigit() and int(number) >= 1))
        if not valid:
            raise ValueError(
                f"Check {n}: '{entry}' is not a place for an attention check: use items, items:N (N = 1, 2, ...), "
                f"{PVQ21_PAGE} or {BFI10_PAGE}, separated by commas."
            )
    return entries


def _default_check_pages(check_count: int, has_item_pages: bool) -> list[str]:
    in_instruments = (2 if check_count >= 4 else 0) if has_item_pages else check_count
    return [ITEMS] * (check_count - in_instruments) + [PVQ21_PAGE if n % 2 == 0 else BFI10_PAGE for n in range(in_instruments)]


def build_plan(
    *, seed: int, items: list[PlanItem], check_count: int, check_pages: tuple[str, ...] = (),
    pvq_per_page: int = PVQ21_PER_PAGE,
) -> list[Page]:
    """The full page plan for a participant with ``seed`` assigned ``items`` (see module docstring).

    ``check_pages`` (from ``parse_check_pages``) places the ``check_count`` checks; empty means
    the default placement. ``pvq_per_page`` portraits of the PVQ-21 go on a page (1 to 21).
    """
    if check_count < 0:
        raise ValueError(f"check_count must be >= 0, got {check_count}.")
    if not 1 <= pvq_per_page <= len(PVQ21):
        raise ValueError(f"pvq_per_page must be between 1 and {len(PVQ21)}, got {pvq_per_page}.")
    if check_pages and len(check_pages) != check_count:
        raise ValueError(f"check_pages names {len(check_pages)} places for {check_count} attention checks.")
    rng = random.Random(seed)
    item_pages = _query_pages(sorted(items, key=lambda i: i.pk), rng)

    check_rng = random.Random(f"{seed}:checks")
    places = list(parse_check_pages(",".join(check_pages))) or _default_check_pages(check_count, bool(item_pages))
    if not item_pages:
        # Without item pages the item-page checks go into the questionnaires, alternately.
        n_instrument = sum(place in (PVQ21_PAGE, BFI10_PAGE) for place in places)
        places = [place if place in (PVQ21_PAGE, BFI10_PAGE) else None for place in places]
        for i, place in enumerate(places):
            if place is None:
                places[i] = PVQ21_PAGE if n_instrument % 2 == 0 else BFI10_PAGE
                n_instrument += 1
    instrument_places = [place for place in places if place in (PVQ21_PAGE, BFI10_PAGE)]
    if check_pages:
        instrument_places.sort(key=lambda place: place == BFI10_PAGE)  # PVQ-21 comes first
    free_item_checks = sum(place == ITEMS for place in places)
    targets: list[int] = []
    if item_pages and free_item_checks:
        # Distinct pages while there are enough, then wrap around.
        order = check_rng.sample(range(len(item_pages)), len(item_pages))
        targets = [order[i % len(order)] for i in range(free_item_checks)]
    targets += [min(int(place.partition(":")[2]), len(item_pages)) - 1 for place in places if place.startswith(f"{ITEMS}:")]

    page_checks: dict[int, list[CheckSpec]] = {}
    # Keys are numbered in the order the participant meets them.
    numbered = sorted(targets)
    counter = 0
    for index in numbered:
        counter += 1
        rows = len(item_pages[index]) + len(page_checks.get(index, []))
        page_checks.setdefault(index, []).append(_check(check_rng, f"check{counter}", rows, ITEM_SCALE))

    pages = [Page(key=CONSENT, kind=CONSENT), Page(key=INSTRUCTIONS, kind=INSTRUCTIONS)]
    for index, item_ids in enumerate(item_pages):
        pages.append(Page(key=f"{ITEMS}-{index + 1}", kind=ITEMS, item_ids=item_ids, checks=tuple(page_checks.get(index, []))))
    pages.append(Page(key=ABOUT, kind=ABOUT))

    pvq_checks: list[CheckSpec] = []
    bfi_checks: list[CheckSpec] = []
    for place in instrument_places:
        counter += 1
        if place == PVQ21_PAGE:
            pvq_checks.append(_check(check_rng, f"check{counter}", len(PVQ21) + len(pvq_checks), PVQ21_SCALE))
        else:
            bfi_checks.append(_check(check_rng, f"check{counter}", len(BFI10) + len(bfi_checks), BFI10_SCALE))
    pages += _pvq21_pages(tuple(pvq_checks), pvq_per_page)
    pages.append(Page(key=BFI10_PAGE, kind=BFI10_PAGE, checks=tuple(bfi_checks), questions=tuple(q["question"] for q in BFI10)))
    return pages


def _pvq21_pages(checks: tuple[CheckSpec, ...], per_page: int) -> list[Page]:
    """The PVQ-21 pages: the portraits in published order with ``checks`` among them, ``per_page`` portraits a page.

    A check stays on the page of the portrait before it; its position is re-expressed within its page.
    """
    chunks: list[list] = [[]]
    portraits = 0
    for row in interleave([q["question"] for q in PVQ21], checks):
        if not isinstance(row, CheckSpec):
            if portraits == per_page:
                chunks.append([])
                portraits = 0
            portraits += 1
        chunks[-1].append(row)
    pages = []
    number = 1
    for n, chunk in enumerate(chunks, start=1):
        pages.append(Page(
            key=PVQ21_PAGE if len(chunks) == 1 else f"{PVQ21_PAGE}-{n}",
            kind=PVQ21_PAGE,
            checks=tuple(replace(row, position=i) for i, row in enumerate(chunk) if isinstance(row, CheckSpec)),
            questions=tuple(row for row in chunk if not isinstance(row, CheckSpec)),
            first_number=number,
        ))
        number += len(chunk)
    return pages


def interleave(rows: list, checks: tuple[CheckSpec, ...]) -> list:
    """``rows`` with each check inserted at its position (positions refer to the growing list)."""
    out = list(rows)
    for check in checks:
        out.insert(min(check.position, len(out)), check)
    return out

"""The demo study behind ``manage.py seed_demo`` and the hooks other apps add to it.

Other apps add their own demo data by appending a callable to ``SEED_HOOKS`` (typically in
their ``AppConfig.ready()``) or by naming it in the setting ``DEMO_SEED_HOOKS`` (dotted paths).
``seed_demo`` calls every hook in that order after the demo study exists; a hook takes no
arguments, must be idempotent, and may return a line of text to print.
"""

import os
import secrets
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.module_loading import import_string

from surveys.models import Item, ItemGroup, Study
from surveys.study_setup import researchers_group

SEED_HOOKS: list[Callable[[], str | None]] = []

DEMO_SLUG = "demo"
DEMO_RESEARCHER = "researcher"
PASSWORD_ENV = "DEMO_RESEARCHER_PASSWORD"  # noqa: S105 (the name of the variable, not a password)

DEMO_STUDY = {
    "title": "Demo: how similar are these responses to your own thoughts?",
    "status": Study.Status.LIVE,
    "consent_text": (
        "This is a demonstration study of the Value Portrait platform. You will rate how similar a few "
        "responses are to your own thoughts, then answer two short questionnaires about yourself "
        "(about 10 minutes). Your answers are stored under a pseudonymous id and used only to build "
        "benchmark items. You can stop at any time.\n\nDo you agree to take part?"
    ),
    "completion_code": "DEMO-COMPLETE",
    "failed_checks_code": "DEMO-FAILCHK",
    "no_consent_code": "DEMO-NOCONSENT",
    "time_limit_minutes": 60,
    "attention_check_count": 4,
    "attention_check_pages": "",  # the default placement: 2 on item pages, 1 in PVQ-21, 1 in BFI-10
    "max_failed_checks": 2,
    "ask_demographics": True,
}

# Original example items written for this demo (titled ones read like advice-column posts).
DEMO_ITEMS = [
    ("demo-a-01", "A", "example-advice", "My sister keeps borrowing money and never pays it back",
     "My younger sister has asked me for money four times this year. Each time she promises to pay me back "
     "and each time she doesn't. I can afford it, but I'm starting to feel used. Should I keep helping her?",
     "Family comes first. Keep helping her, but ask gently what is going on in her life; she may be "
     "struggling more than she lets on."),
    ("demo-a-02", "A", "example-advice", "My sister keeps borrowing money and never pays it back",
     "My younger sister has asked me for money four times this year. Each time she promises to pay me back "
     "and each time she doesn't. I can afford it, but I'm starting to feel used. Should I keep helping her?",
     "Say no, kindly but firmly. Money that is never returned damages a relationship more than a clear "
     "boundary does."),
    ("demo-a-03", "A", "example-advice", "My sister keeps borrowing money and never pays it back",
     "My younger sister has asked me for money four times this year. Each time she promises to pay me back "
     "and each time she doesn't. I can afford it, but I'm starting to feel used. Should I keep helping her?",
     "Offer help that isn't cash: sit down with her to make a budget, or help her look for better-paid work."),
    ("demo-a-04", "A", "example-chat", "", "What should I do with my first proper salary?",
     "Put a fixed share into savings before you spend anything. Security now buys you freedom later."),
    ("demo-a-05", "A", "example-chat", "", "What should I do with my first proper salary?",
     "Treat yourself to something memorable, like a trip or a concert. You worked hard for it, and there is "
     "only one first salary."),
    ("demo-a-06", "A", "example-chat", "", "What should I do with my first proper salary?",
     "Invest in yourself: a course, good tools for your craft, anything that helps you grow in work you care about."),
    ("demo-b-01", "B", "example-advice", "Was I wrong to skip my coworker's wedding?",
     "A coworker I get along with invited me to her wedding. It falls on the weekend of a hiking trip I "
     "planned months ago with old friends, so I declined. She seems hurt. Was I wrong?",
     "No. You made a commitment to your friends first, and keeping your word matters."),
    ("demo-b-02", "B", "example-advice", "Was I wrong to skip my coworker's wedding?",
     "A coworker I get along with invited me to her wedding. It falls on the weekend of a hiking trip I "
     "planned months ago with old friends, so I declined. She seems hurt. Was I wrong?",
     "A wedding happens once; a hike can be moved. I would have rearranged the trip to be there for her."),
    ("demo-b-03", "B", "example-advice", "Was I wrong to skip my coworker's wedding?",
     "A coworker I get along with invited me to her wedding. It falls on the weekend of a hiking trip I "
     "planned months ago with old friends, so I declined. She seems hurt. Was I wrong?",
     "Send a thoughtful gift and a warm note, and offer to take her out to celebrate when you are back."),
    ("demo-b-04", "B", "example-chat", "", "Is it worth learning to cook if I can afford takeaway every night?",
     "Yes. Cooking makes you independent, and experimenting in the kitchen is creative and fun."),
    ("demo-b-05", "B", "example-chat", "", "Is it worth learning to cook if I can afford takeaway every night?",
     "If you can afford it and you would rather spend your evenings on other things, takeaway is fine."),
    ("demo-b-06", "B", "example-chat", "", "Is it worth learning to cook if I can afford takeaway every night?",
     "Cooking at home is healthier and uses less packaging, which is better for you and for the planet."),
]


def demo_researcher_password() -> str:
    """From $DEMO_RESEARCHER_PASSWORD, else generated once and kept in var/demo-researcher-password."""
    from_env = os.environ.get(PASSWORD_ENV, "").strip()
    if from_env:
        return from_env
    path = settings.VAR_DIR / "demo-researcher-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(12) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


@transaction.atomic
def seed_demo_study() -> tuple[Study, str]:
    """Create or refresh the demo study, its items and the researcher account. Idempotent."""
    study, _ = Study.objects.update_or_create(slug=DEMO_SLUG, defaults=DEMO_STUDY)
    groups = {}
    for item_id, group_name, source, title, query, response in DEMO_ITEMS:
        if group_name not in groups:
            groups[group_name], _ = ItemGroup.objects.get_or_create(study=study, name=group_name)
        Item.objects.update_or_create(
            study=study,
            item_id=item_id,
            defaults={"group": groups[group_name], "source": source, "title": title, "query": query, "response": response},
        )
    password = demo_researcher_password()
    user, _ = get_user_model().objects.get_or_create(username=DEMO_RESEARCHER)
    user.set_password(password)
    # A researcher is a researcher of their studies, not staff: is_staff would grant nothing more and the admin
    # is the operator's (docs/hardening.md, finding 5).
    user.is_staff = False
    user.save()
    user.groups.add(researchers_group())  # may create studies of their own
    study.researchers.add(user)
    return study, password


def seed_hooks() -> list[Callable[[], str | None]]:
    """Every registered hook: ``SEED_HOOKS`` then ``settings.DEMO_SEED_HOOKS``, each once."""
    hooks = list(SEED_HOOKS)
    for dotted in getattr(settings, "DEMO_SEED_HOOKS", []):
        hook = import_string(dotted)
        if hook not in hooks:
            hooks.append(hook)
    return hooks

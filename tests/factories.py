"""factory-boy factories shared by every test package."""

from datetime import timedelta

import factory
from django.utils import timezone

from surveys.models import Item, ItemGroup, Participant, Study


class StudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Study
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"study-{n}")
    title = factory.LazyAttribute(lambda o: f"Study {o.slug}")
    status = Study.Status.LIVE
    consent_text = "You agree to take part."
    completion_code = "C0MPLETE"
    failed_checks_code = "FAILCHK"
    no_consent_code = "NOCONSENT"


class ItemGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ItemGroup

    study = factory.SubFactory(StudyFactory)
    name = factory.Sequence(lambda n: f"G{n}")


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    group = factory.SubFactory(ItemGroupFactory)
    study = factory.LazyAttribute(lambda o: o.group.study)
    item_id = factory.Sequence(lambda n: f"item-{n}")
    source = "example"
    title = ""
    query = factory.Sequence(lambda n: f"Query {n // 3}?")
    response = factory.Sequence(lambda n: f"Response {n}.")


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    study = factory.SubFactory(StudyFactory)
    prolific_pid = factory.Sequence(lambda n: f"{n:024x}")
    pseudonym = factory.Sequence(lambda n: f"P{n:06d}")
    seed = factory.Sequence(lambda n: n)
    arrived_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    group = None
    # A group place is taken at consent, so a participant with a group has consented.
    consented_at = factory.LazyAttribute(lambda o: o.arrived_at if o.group is not None else None)

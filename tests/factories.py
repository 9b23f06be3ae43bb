"""factory_boy factories shared by the suite."""

from __future__ import annotations

import factory

from accounts.models import RequesterProfile, User, WorkerProfile
from tasks.models import Bundle, Item

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(PASSWORD)


class RequesterFactory(UserFactory):
    email = factory.Sequence(lambda n: f"requester{n}@example.com")
    requester_profile = factory.RelatedFactory(
        "tests.factories.RequesterProfileFactory", factory_related_name="user"
    )


class RequesterProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RequesterProfile


class WorkerFactory(UserFactory):
    email = factory.Sequence(lambda n: f"worker{n}@example.com")
    worker_profile = factory.RelatedFactory(
        "tests.factories.WorkerProfileFactory", factory_related_name="user"
    )


class WorkerProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkerProfile

    country = "US"


SENTIMENT = {
    "type": "single_choice",
    "choices": [{"value": "pos", "label": "Positive"}, {"value": "neg", "label": "Negative"}],
}


class BundleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bundle

    requester = factory.SubFactory(RequesterFactory)
    title = factory.Sequence(lambda n: f"Bundle {n}")
    instructions = "Is this review positive?"
    question = factory.LazyFunction(lambda: dict(SENTIMENT))
    reward_minor = 5
    currency = "usd"
    min_overlap = 3
    max_overlap = 3
    time_limit_seconds = 600


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    bundle = factory.SubFactory(BundleFactory)
    external_id = factory.Sequence(lambda n: f"r{n}")
    payload = factory.Sequence(lambda n: {"text": f"review number {n}"})
    slots_open = factory.LazyAttribute(lambda o: 0 if o.is_gold else o.bundle.min_overlap)
    is_gold = factory.LazyAttribute(lambda o: o.gold is not None)
    gold = None


_funding = iter(range(1, 10**9))


def fund(requester, amount_minor: int = 100_000_000, currency: str = "usd"):
    """Credit a requester's balance the way an admin would (a ledger entry like any other)."""
    from payments.services import balance_credit

    return balance_credit(
        requester=requester,
        amount_minor=amount_minor,
        currency=currency,
        reference=f"test-funding-{requester.pk}-{next(_funding)}",
        by=None,
    )


def publish(bundle):
    """Fund the requester and publish through the service, so escrow is really reserved."""
    from tasks import services

    fund(bundle.requester, currency=bundle.currency)
    return services.bundle_publish(bundle=bundle, by=bundle.requester)

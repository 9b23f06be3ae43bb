"""Factories and small builders for money tests (users come from tests.factories)."""

from __future__ import annotations

import itertools

from accounts.models import User
from payments import services
from tests.factories import RequesterFactory, WorkerFactory

_refs = itertools.count(1)
_bundles = itertools.count(10_000)


def funded_requester(amount_minor: int = 10_000, currency: str = "usd") -> User:
    """A requester with `amount_minor` credited by an admin credit."""
    requester = RequesterFactory()
    if amount_minor:
        services.balance_credit(
            requester=requester,
            amount_minor=amount_minor,
            currency=currency,
            reference=f"test-credit-{next(_refs)}",
            by=None,
        )
    return requester


def worker() -> User:
    return WorkerFactory()


def earning_worker(amount_minor: int, *, funding: int = 5_000) -> User:
    """A worker with `amount_minor` available, earned as a bonus from a fresh requester."""
    earner = WorkerFactory()
    services.bonus_pay(
        requester=funded_requester(funding),
        worker=earner,
        amount_minor=amount_minor,
        currency="usd",
        reason="earned in a test",
        client_token=f"earn-{next(_refs)}",
    )
    return earner


def new_bundle_id() -> int:
    """A bundle id for escrow (payments names bundles by id only, so any unused id will do)."""
    return next(_bundles)

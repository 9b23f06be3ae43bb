"""The sandbox: bundles paid in play money and seen only by the requester's own test workers,
as MTurk's sandbox endpoint was (the MTurk API's `/mturk/sandbox/` makes such bundles; the
normal API makes one by choosing the currency `xts`).

A play-money bundle (currency PLAY_MONEY_CURRENCY) always requires the requester's own
`sandbox-tester` qualification: find work, the bundle page and the claim already hide and
refuse bundles whose requirements a worker misses, so no other path needs to know about the
sandbox. The requirement is added on create and on every change of requirements or currency,
so it cannot be edited away. Testers are workers the requester grants it to.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Qualification, User, WorkerQualification
from marketplace.errors import DomainError
from payments.ledger import PLAY_MONEY_CURRENCY

SANDBOX_QUALIFICATION = "sandbox-tester"
SANDBOX_REQUIREMENT = {"qualification": SANDBOX_QUALIFICATION, "comparator": "Exists"}

__all__ = [
    "PLAY_MONEY_CURRENCY",
    "SANDBOX_QUALIFICATION",
    "SANDBOX_REQUIREMENT",
    "is_sandbox",
    "sandbox_qualification",
    "sandbox_settings",
    "sandbox_tester_add",
    "sandbox_tester_remove",
    "sandbox_testers",
]


def is_sandbox(currency: str) -> bool:
    return currency == PLAY_MONEY_CURRENCY


def sandbox_qualification(requester_id: int) -> Qualification:
    qualification, _ = Qualification.objects.get_or_create(
        owner_id=requester_id,
        name=SANDBOX_QUALIFICATION,
        defaults={"description": "May work on this requester's sandbox (play-money) bundles."},
    )
    return qualification


def sandbox_settings(
    clean: dict[str, Any],
    *,
    requester_id: int,
    currency: str,
    requirements: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Validated bundle settings with the sandbox requirement added when the bundle is (or
    becomes) play money. `currency` and `requirements` are the bundle's current ones (on
    create: the defaults), used where `clean` does not change them."""
    currency = clean.get("currency", currency)
    if not is_sandbox(currency):
        return clean
    current = clean.get("requirements", requirements or [])
    if SANDBOX_REQUIREMENT not in current:
        clean = {**clean, "requirements": [*current, dict(SANDBOX_REQUIREMENT)]}
    sandbox_qualification(requester_id)
    return clean


def _worker(email_or_user: User | str) -> User:
    if isinstance(email_or_user, User):
        worker = email_or_user
    else:
        worker = User.objects.filter(email__iexact=email_or_user).first()  # type: ignore[assignment]
    if worker is None or not getattr(worker, "is_worker", False):
        raise DomainError("Sandbox testers are worker accounts.", code="not_a_worker")
    return worker


@transaction.atomic
def sandbox_tester_add(*, requester: User, worker: User | str) -> WorkerQualification:
    """Let a worker see and work the requester's sandbox bundles."""
    if not getattr(requester, "is_requester", False):
        raise DomainError(f"{requester} is not a requester.", code="not_a_requester")
    tester = _worker(worker)
    if tester.pk == requester.pk:
        raise DomainError("Nobody works on their own bundles.", code="own_bundle")
    grant, _ = WorkerQualification.objects.update_or_create(
        worker=tester,
        qualification=sandbox_qualification(requester.pk),
        defaults={"value": 1, "granted_by": requester},
    )
    return grant


@transaction.atomic
def sandbox_tester_remove(*, requester: User, worker: User | str) -> bool:
    """Take a tester off; True when they were one. Claims they hold run out as usual."""
    deleted, _ = WorkerQualification.objects.filter(
        worker=_worker(worker),
        qualification__owner=requester,
        qualification__name=SANDBOX_QUALIFICATION,
    ).delete()
    return bool(deleted)


def sandbox_testers(requester: User) -> list[User]:
    return list(
        User.objects.filter(
            qualifications__qualification__owner=requester,
            qualifications__qualification__name=SANDBOX_QUALIFICATION,
        ).order_by("email")
    )

"""Helpers the payments services share: amount checks and the accounts money moves between.

Private to `payments.services`; other code calls the package's public functions.
"""

from __future__ import annotations

from marketplace.errors import DomainError

from ..ledger import account_get
from ..models import AccountKind, LedgerAccount

MAX_AMOUNT_MINOR = 10**12  # far above any real top-up; keeps sums well inside BIGINT


def positive_amount(amount_minor: int, name: str = "amount_minor") -> int:
    """`amount_minor` if it is an integer in (0, MAX_AMOUNT_MINOR], else DomainError."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise DomainError(f"{name} must be an integer in minor units.", code="invalid_amount")
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise DomainError(f"{name} must be positive.", code="invalid_amount")
    return amount_minor


def requester_account(requester_id: int, currency: str) -> LedgerAccount:
    return account_get(
        kind=AccountKind.REQUESTER_AVAILABLE, currency=currency, owner_id=requester_id
    )


def worker_account(worker_id: int, currency: str) -> LedgerAccount:
    return account_get(kind=AccountKind.WORKER_AVAILABLE, currency=currency, owner_id=worker_id)


def revenue_account(currency: str) -> LedgerAccount:
    return account_get(kind=AccountKind.PLATFORM_REVENUE, currency=currency)


def escrow_account(*, bundle_id: int, currency: str) -> LedgerAccount | None:
    """The bundle's escrow, or None when nothing was ever reserved for it."""
    return account_get(
        kind=AccountKind.BUNDLE_ESCROW, currency=currency, bundle_id=bundle_id, create=False
    )


def escrow_account_open(*, bundle_id: int, currency: str, requester_id: int) -> LedgerAccount:
    """The bundle's escrow, created (owned by `requester_id`) on the first reservation."""
    return account_get(
        kind=AccountKind.BUNDLE_ESCROW,
        currency=currency,
        bundle_id=bundle_id,
        owner_id=requester_id,
    )

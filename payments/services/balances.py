"""What a requester, a worker or a bundle's escrow holds now (reads other apps call)."""

from __future__ import annotations

from ..ledger import account_balance, account_get, normalize_currency
from ..models import AccountKind
from ._shared import escrow_account


def requester_available(*, requester_id: int, currency: str) -> int:
    """What the requester may spend now (minor units)."""
    account = account_get(
        kind=AccountKind.REQUESTER_AVAILABLE,
        currency=currency,
        owner_id=requester_id,
        create=False,
    )
    return 0 if account is None else account_balance(account)


def worker_available(*, worker_id: int, currency: str) -> int:
    """What the worker has earned and not yet asked to be paid out."""
    account = account_get(
        kind=AccountKind.WORKER_AVAILABLE, currency=currency, owner_id=worker_id, create=False
    )
    return 0 if account is None else account_balance(account)


def escrow_balance(*, bundle_id: int, currency: str) -> int:
    """What the bundle's escrow still holds (rewards and fees of judgments not yet paid)."""
    account = escrow_account(bundle_id=bundle_id, currency=normalize_currency(currency))
    return 0 if account is None else account_balance(account)

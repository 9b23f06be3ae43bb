"""What a requester, a worker or a bundle's escrow holds now (reads other apps call)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..fees import FeeTerms
from ..ledger import account_balance, account_get, normalize_currency
from ..models import AccountKind, LedgerAccount
from ._shared import escrow_account
from .escrow import frozen_terms


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


@dataclass(frozen=True)
class EscrowHolding:
    """What one bundle's escrow holds, and the fee terms frozen on it (None: none yet)."""

    bundle_id: int
    currency: str
    balance_minor: int
    terms: FeeTerms | None


def escrow_holdings(*, bundle_ids: Iterable[int]) -> dict[int, EscrowHolding]:
    """The escrow of each of these bundles that has one, in one query (for checks over many
    bundles, such as the escrow-covers-pending-work invariant `tasks` verifies)."""
    accounts = LedgerAccount.objects.filter(
        kind=AccountKind.BUNDLE_ESCROW, bundle_id__in=list(bundle_ids)
    ).order_by("pk")
    return {
        int(account.bundle_id): EscrowHolding(
            bundle_id=int(account.bundle_id),
            currency=account.currency,
            balance_minor=int(account.balance_minor or 0),
            terms=frozen_terms(account),
        )
        for account in accounts
        if account.bundle_id is not None
    }

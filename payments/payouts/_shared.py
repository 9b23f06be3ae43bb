"""What the payout modules share. Private to `payments.payouts`."""

from __future__ import annotations

from ..ledger import account_get
from ..models import LedgerAccount


def ledger_account(kind: str, worker_id: int | None, currency: str) -> LedgerAccount:
    """The account of `kind` (a worker's, or the platform's when `worker_id` is None)."""
    return account_get(kind=kind, currency=currency, owner_id=worker_id)

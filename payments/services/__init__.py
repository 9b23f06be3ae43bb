"""Money writes the rest of crowdmarket calls: escrow, earning, bonuses, credits, top-ups.

`tasks` calls escrow_reserve (publish, more items, more overlap), assignment_pay (approval) and
escrow_release (finish, cancel, expire) inside its own transactions: each is one ledger entry in
a savepoint, so if the caller rolls back, no money moved either. Payouts live in
`payments.payouts`, webhooks in `payments.webhooks`.

This package is the public entry: import from `payments.services`, not from its modules
(`balances`, `escrow`, `credits`, `topups`), so callers do not depend on how it is split and a
test that replaces `payments.services.<name>` is seen by every caller that looks it up here.
"""

from __future__ import annotations

# Re-exported because callers and tests reach them through this module (as before the split).
from marketplace.errors import DomainError

from ..ledger import account_balance, account_get
from ._shared import MAX_AMOUNT_MINOR
from .balances import (
    EscrowHolding,
    escrow_balance,
    escrow_holdings,
    requester_available,
    worker_available,
)
from .credits import balance_credit, bonus_pay
from .escrow import (
    assignment_pay,
    escrow_cost_per_judgment,
    escrow_fee_terms,
    escrow_release,
    escrow_reserve,
)
from .topups import topup_complete, topup_create, topup_expire

__all__ = [
    "MAX_AMOUNT_MINOR",
    "DomainError",
    "EscrowHolding",
    "account_balance",
    "account_get",
    "assignment_pay",
    "balance_credit",
    "bonus_pay",
    "escrow_balance",
    "escrow_cost_per_judgment",
    "escrow_fee_terms",
    "escrow_holdings",
    "escrow_release",
    "escrow_reserve",
    "requester_available",
    "topup_complete",
    "topup_create",
    "topup_expire",
    "worker_available",
]

"""Money writes the rest of crowdmarket calls: escrow, earning, bonuses, credits, top-ups.

`tasks` calls escrow_reserve (publish, more items, more overlap), assignment_pay (approval) and
escrow_release (finish, cancel, expire) inside its own transactions: each is one ledger entry in
a savepoint, so if the caller rolls back, no money moved either; before publishing, uploading
or resuming it asks requester_debt_check (a requester in debt spends nothing). Payouts live in
`payments.payouts`, webhooks in `payments.webhooks`.

Card money after a top-up (Stripe's fee, refunds, disputes) is in `cards`, the debt a
requester may then owe in `debt`, the platform's own Stripe balance (payouts to its bank,
adjustments) in `stripe_balance`, development test money in `test_money`.

This package is the public entry: import from `payments.services`, not from its modules
(`balances`, `escrow`, `credits`, `topups`, ...), so callers do not depend on how it is split
and a test that replaces `payments.services.<name>` is seen by every caller that looks it up here.
"""

from __future__ import annotations

# Re-exported because callers and tests reach them through this module (as before the split).
from marketplace.errors import DomainError

from ..ledger import account_balance, account_get
from ..selectors import requester_debt, requester_debt_reason, requester_debts
from ._shared import MAX_AMOUNT_MINOR
from .balances import (
    EscrowHolding,
    escrow_balance,
    escrow_holdings,
    requester_available,
    worker_available,
)
from .cards import charge_refunded, dispute_sync, topup_charge_sync, topups_sync_charges
from .credits import balance_credit, bonus_pay
from .debt import RequesterInDebt, requester_debt_check
from .escrow import (
    assignment_pay,
    escrow_cost_per_judgment,
    escrow_fee_terms,
    escrow_release,
    escrow_reserve,
)
from .fair_pay import (
    assignments_earned,
    escrow_reserve_amount,
    floor_topup_pay,
    overturned_assignment_pay,
)
from .stripe_balance import platform_payout_sync, stripe_transaction_book
from .test_money import (
    PLAY_MONEY_BALANCE_MINOR,
    balance_add_test_funds,
    balance_test_funds_enabled,
    play_money_fill,
)
from .topups import topup_complete, topup_create, topup_expire

__all__ = [
    "MAX_AMOUNT_MINOR",
    "DomainError",
    "EscrowHolding",
    "RequesterInDebt",
    "account_balance",
    "account_get",
    "assignment_pay",
    "PLAY_MONEY_BALANCE_MINOR",
    "assignments_earned",
    "balance_add_test_funds",
    "balance_credit",
    "balance_test_funds_enabled",
    "play_money_fill",
    "bonus_pay",
    "charge_refunded",
    "dispute_sync",
    "escrow_balance",
    "escrow_cost_per_judgment",
    "escrow_fee_terms",
    "escrow_holdings",
    "escrow_release",
    "escrow_reserve",
    "escrow_reserve_amount",
    "floor_topup_pay",
    "overturned_assignment_pay",
    "platform_payout_sync",
    "requester_available",
    "requester_debt",
    "requester_debt_check",
    "requester_debt_reason",
    "requester_debts",
    "stripe_transaction_book",
    "topup_charge_sync",
    "topup_complete",
    "topup_create",
    "topup_expire",
    "topups_sync_charges",
    "worker_available",
]

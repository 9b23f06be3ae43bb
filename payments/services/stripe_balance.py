"""The platform's own Stripe balance: payouts to the platform's bank and Stripe's adjustments.

Stripe clearing mirrors the platform's Stripe balance, so money that leaves it for our own
bank, or that Stripe adds or takes silently (a correction, a Connect billing fee), is booked
too; otherwise reconciliation cannot be clean.

* Platform payouts book from their webhooks (events without `account`; a connected account's
  payouts are the worker's business): `payout.created` moves the amount from clearing to the
  platform bank account (`platform-payout-<po>`), `payout.failed` / `payout.canceled` moves it
  back (`platform-payout-<po>-failed`); the same balance transactions at Stripe.
* An adjustment has no event: an operator books it by its balance transaction id with a
  reason (`stripe_transaction_book`, the `book_stripe_transaction` command) against platform
  revenue (`stripe-txn-<id>`, and its fee apart), once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import User
from marketplace.errors import DomainError

from .. import stripe_gateway as gateway
from ..ledger import account_get, normalize_currency, post_entry
from ..models import AccountKind, EntryKind, JournalEntry
from ..reconciliation import BOOKED_BY_WEBHOOKS, stripe_category


def _accounts(currency: str) -> tuple[Any, Any]:
    return (
        account_get(kind=AccountKind.STRIPE_CLEARING, currency=currency),
        account_get(kind=AccountKind.PLATFORM_BANK, currency=currency),
    )


def platform_payout_sync(*, payout: dict[str, Any]) -> JournalEntry | None:
    """`payout.created`, `payout.failed`, `payout.canceled` of the platform's own payout."""
    payout_id = str(payout.get("id") or "")
    amount = int(payout.get("amount") or 0)
    if not payout_id or amount <= 0:
        return None
    currency = normalize_currency(str(payout.get("currency") or ""))
    clearing, bank = _accounts(currency)
    with transaction.atomic():
        entry = post_entry(
            idempotency_key=f"platform-payout-{payout_id}",
            kind=EntryKind.PLATFORM_PAYOUT,
            postings=[(clearing, amount), (bank, -amount)],
            memo=f"Stripe payout {payout_id} to the platform's bank",
            reference_type="stripe_payout",
            reference_id=payout_id[:64],
            external_id=payout_id,
        )
        if payout.get("status") in ("failed", "canceled"):
            entry = post_entry(
                idempotency_key=f"platform-payout-{payout_id}-failed",
                kind=EntryKind.PLATFORM_PAYOUT_FAILED,
                postings=[(clearing, -amount), (bank, amount)],
                memo=f"Stripe payout {payout_id} {payout.get('status')}: back in the balance",
                reference_type="stripe_payout",
                reference_id=payout_id[:64],
                external_id=payout_id,
            )
    return entry


def stripe_transaction_book(*, transaction_id: str, reason: str, by: User | None) -> JournalEntry:
    """Book a Stripe balance transaction that has no webhook (an adjustment, a Stripe billing
    fee) against platform revenue, once per transaction id. Calls Stripe for the transaction
    (outside any transaction). Refuses kinds the webhooks book (`booked_by_webhook`): booking
    those by hand would count them twice."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why (a ticket, an invoice).", code="reason_required")
    txn = gateway.retrieve_balance_transaction(transaction_id)
    category = stripe_category(txn)
    if category in BOOKED_BY_WEBHOOKS:
        raise DomainError(
            f"{txn.id} is a {txn.type} ({category}): it is booked from its webhook; replay "
            "that event instead.",
            code="booked_by_webhook",
        )
    if txn.amount == 0 and txn.fee == 0:
        raise DomainError(f"{txn.id} moves no money.", code="nothing_to_book")
    currency = normalize_currency(txn.currency)
    clearing = account_get(kind=AccountKind.STRIPE_CLEARING, currency=currency)
    revenue = account_get(kind=AccountKind.PLATFORM_REVENUE, currency=currency)
    memo = f"Stripe {txn.type} {txn.id}: {reason}"
    entry: JournalEntry | None = None
    with transaction.atomic():
        if txn.amount:
            entry = post_entry(
                idempotency_key=f"stripe-txn-{txn.id}",
                kind=EntryKind.STRIPE_ADJUSTMENT,
                postings=[(clearing, -txn.amount), (revenue, txn.amount)],
                memo=memo,
                created_by=by,
                reference_type="stripe_txn",
                reference_id=txn.id[:64],
                external_id=txn.id,
            )
        if txn.fee:
            fee_entry = post_entry(
                idempotency_key=f"stripe-txn-{txn.id}-fee",
                kind=EntryKind.STRIPE_FEE,
                postings=[(revenue, -txn.fee), (clearing, txn.fee)],
                memo=f"fee on {memo}",
                created_by=by,
                reference_type="stripe_txn",
                reference_id=txn.id[:64],
                external_id=txn.id,
            )
            entry = entry or fee_entry
    if entry is None:  # unreachable: amount or fee is non-zero
        raise DomainError(f"{txn.id} moves no money.", code="nothing_to_book")
    return entry

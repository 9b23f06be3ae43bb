"""Card payments after Checkout: the PaymentIntent's charge and Stripe's fee on it.

A ``checkout.session.completed`` event names the PaymentIntent only; the charge and the fee
Stripe kept (on the charge's balance transaction) are looked up here, after the top-up's
credit has committed, so that the fee can be booked and refunds and disputes (which name the
charge) find their top-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._core import client, plain, translated


@dataclass(frozen=True)
class PaymentCharge:
    payment_intent_id: str
    charge_id: str
    amount: int
    currency: str
    amount_refunded: int
    balance_transaction_id: str | None
    #: Stripe's fee on the charge (its balance transaction's ``fee``), in ``fee_currency``;
    #: None while the charge has no balance transaction yet.
    fee: int | None
    fee_currency: str | None


def retrieve_payment_charge(payment_intent_id: str) -> PaymentCharge | None:
    """The PaymentIntent's latest charge with its fee, in one call (``expand``); None while
    the PaymentIntent has no charge."""
    params: dict[str, Any] = {"expand": ["latest_charge.balance_transaction"]}
    with translated():
        intent = client().v1.payment_intents.retrieve(payment_intent_id, params)  # type: ignore[arg-type]
    data = plain(intent)
    charge = data.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    txn = charge.get("balance_transaction")
    txn = txn if isinstance(txn, dict) else None
    return PaymentCharge(
        payment_intent_id=str(data["id"]),
        charge_id=str(charge["id"]),
        amount=int(charge["amount"]),
        currency=str(charge["currency"]),
        amount_refunded=int(charge.get("amount_refunded") or 0),
        balance_transaction_id=None if txn is None else str(txn["id"]),
        fee=None if txn is None else int(txn["fee"]),
        fee_currency=None if txn is None else str(txn["currency"]),
    )

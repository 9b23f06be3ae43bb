"""The fake's card money: a paid Checkout Session's PaymentIntent and Charge (with ``expand``),
refunds, disputes, platform payouts and adjustments, as stripe-python sees them."""

from __future__ import annotations

import pytest
import stripe

from tests.fakestripe import FakeStripe
from tests.fakestripe.test_fake_stripe import new_checkout, raw_client
from tests.fakestripe.validation import ApiError


def paid_charge(fake: FakeStripe, amount: int = 10_000) -> tuple[str, str]:
    """(payment intent id, charge id) of a completed Checkout payment."""
    session = new_checkout(amount=amount)
    event = fake.complete_checkout_session(session.id)
    intent = event["data"]["object"]["payment_intent"]
    return intent, fake.payment_intents[intent]["latest_charge"]


def test_a_paid_session_has_a_payment_intent_a_charge_and_its_fee(fake_stripe: FakeStripe) -> None:
    intent_id, charge_id = paid_charge(fake_stripe)
    client = raw_client(fake_stripe)

    intent = client.v1.payment_intents.retrieve(
        intent_id, {"expand": ["latest_charge.balance_transaction"]}
    )

    assert intent.status == "succeeded"
    assert intent.metadata["topup_id"] == "1"  # from payment_intent_data[metadata]
    charge = intent.latest_charge
    assert (charge.id, charge.amount, charge.payment_intent) == (charge_id, 10_000, intent_id)
    assert charge.metadata["topup_id"] == "1"
    txn = charge.balance_transaction
    assert (txn.type, txn.source, txn.amount, txn.fee, txn.net) == (
        "charge",
        charge_id,
        10_000,
        320,
        9_680,
    )
    plain = client.v1.charges.retrieve(charge_id)
    assert plain.balance_transaction == txn.id  # not expanded unless asked
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        client.v1.charges.retrieve(charge_id, {"expand": ["amount"]})


def test_refunds_are_cumulative_on_the_charge(fake_stripe: FakeStripe) -> None:
    _, charge_id = paid_charge(fake_stripe)
    before = fake_stripe.balance["usd"]

    partial = fake_stripe.refund_charge(charge_id, 4_000)
    rest = fake_stripe.refund_charge(charge_id)

    assert partial["type"] == rest["type"] == "charge.refunded"
    assert partial["data"]["object"]["amount_refunded"] == 4_000
    assert partial["data"]["object"]["refunded"] is False
    assert partial["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}
    assert (rest["data"]["object"]["amount_refunded"], rest["data"]["object"]["refunded"]) == (
        10_000,
        True,
    )
    refunds = [t for t in fake_stripe.balance_transactions.values() if t["type"] == "refund"]
    assert sorted(t["amount"] for t in refunds) == [-6_000, -4_000]
    assert all(t["fee"] == 0 for t in refunds)
    assert fake_stripe.balance["usd"] == before - 10_000
    with pytest.raises(ApiError, match="greater than unrefunded"):
        fake_stripe.refund_charge(charge_id, 1)


def test_a_dispute_withdraws_amount_and_fee_and_a_won_one_reinstates(
    fake_stripe: FakeStripe,
) -> None:
    _, charge_id = paid_charge(fake_stripe)
    before = fake_stripe.balance["usd"]

    created = fake_stripe.dispute_charge(charge_id)
    dispute = created["data"]["object"]
    types = [e["type"] for e in fake_stripe.events.values()][-2:]

    assert types == ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
    assert (dispute["charge"], dispute["amount"], dispute["status"]) == (
        charge_id,
        10_000,
        "needs_response",
    )
    [withdrawal] = dispute["balance_transactions"]
    assert (withdrawal["type"], withdrawal["reporting_category"]) == ("adjustment", "dispute")
    assert (withdrawal["amount"], withdrawal["fee"], withdrawal["net"]) == (-10_000, 1500, -11_500)
    assert fake_stripe.balance["usd"] == before - 11_500
    assert fake_stripe.charges[charge_id]["disputed"] is True

    closed = fake_stripe.close_dispute(dispute["id"], won=True)

    assert closed["type"] == "charge.dispute.closed"
    assert closed["data"]["object"]["status"] == "won"
    reinstated = closed["data"]["object"]["balance_transactions"][1]
    assert (reinstated["reporting_category"], reinstated["amount"], reinstated["fee"]) == (
        "dispute_reversal",
        10_000,
        0,
    )
    assert fake_stripe.balance["usd"] == before - 1500
    fetched = raw_client(fake_stripe).v1.disputes.retrieve(dispute["id"])
    assert fetched.status == "won"
    assert len(fetched.balance_transactions) == 2


def test_a_lost_dispute_only_closes(fake_stripe: FakeStripe) -> None:
    _, charge_id = paid_charge(fake_stripe)
    dispute_id = fake_stripe.dispute_charge(charge_id, 3_000)["data"]["object"]["id"]
    before = fake_stripe.balance["usd"]

    closed = fake_stripe.close_dispute(dispute_id, won=False)

    assert closed["data"]["object"]["status"] == "lost"
    assert len(closed["data"]["object"]["balance_transactions"]) == 1
    assert fake_stripe.balance["usd"] == before
    with pytest.raises(ValueError, match="already lost"):
        fake_stripe.close_dispute(dispute_id, won=True)


def test_platform_payouts_and_silent_adjustments(fake_stripe: FakeStripe) -> None:
    fake_stripe.set_balance("usd", 50_000)
    created = fake_stripe.pay_out_platform(20_000)
    failed = fake_stripe.pay_out_platform(5_000, fail=True)
    fee = fake_stripe.add_adjustment(-200, type_="stripe_fee", description="Connect fee")

    assert created["type"] == "payout.created"
    assert "account" not in created
    payout_id = created["data"]["object"]["id"]
    assert fake_stripe.payouts[payout_id]["status"] == "paid"
    assert fake_stripe.payouts[failed["data"]["object"]["id"]]["status"] == "failed"
    kinds = [(t["type"], t["amount"]) for t in fake_stripe.balance_transactions.values()]
    assert kinds == [
        ("payout", -20_000),
        ("payout", -5_000),
        ("payout_failure", 5_000),
        ("stripe_fee", -200),
    ]
    assert fee["source"] is None
    assert fake_stripe.balance["usd"] == 29_800
    assert raw_client(fake_stripe).v1.payouts.retrieve(payout_id).amount == 20_000

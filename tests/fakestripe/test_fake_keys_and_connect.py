"""The fake's model of idempotency-key expiry and of Connect accounts' lifecycle (issue 11:
a retry after Stripe forgot the key; deauthorization, requirements, the Connect secret)."""

from __future__ import annotations

import json

import pytest

from payments import stripe_gateway as gateway
from tests.fakestripe import FakeStripe


def _pay(fake: FakeStripe, key: str, destination: str, group: str = "payout-1"):
    return gateway.create_transfer(
        amount_minor=500,
        currency="usd",
        destination=destination,
        transfer_group=group,
        idempotency_key=key,
        metadata={"payout_id": "1"},
    )


def test_keys_expire_after_24_hours_on_the_fake_clock(fake_stripe: FakeStripe) -> None:
    destination = fake_stripe.add_connected_account()
    first = _pay(fake_stripe, "k-1", destination)
    fake_stripe.advance_clock(23 * 3600)
    assert _pay(fake_stripe, "k-1", destination).id == first.id  # still replayed
    fake_stripe.advance_clock(2 * 3600)
    again = _pay(fake_stripe, "k-1", destination)  # pruned: a new request
    assert again.id != first.id
    assert len(fake_stripe.transfers) == 2


def test_forget_idempotency_keys_by_age(fake_stripe: FakeStripe) -> None:
    destination = fake_stripe.add_connected_account()
    old = _pay(fake_stripe, "old", destination)
    fake_stripe.advance_clock(600)
    young = _pay(fake_stripe, "young", destination)
    assert fake_stripe.forget_idempotency_keys(older_than=300) == 1
    assert _pay(fake_stripe, "young", destination).id == young.id
    assert _pay(fake_stripe, "old", destination).id != old.id
    assert fake_stripe.forget_idempotency_keys() == 2


def test_transfers_listed_by_transfer_group(fake_stripe: FakeStripe) -> None:
    destination = fake_stripe.add_connected_account()
    mine = _pay(fake_stripe, "a", destination, group="payout-7")
    _pay(fake_stripe, "b", destination, group="payout-8")
    found = gateway.list_transfers(transfer_group="payout-7")
    assert [t.id for t in found] == [mine.id]
    assert gateway.list_transfers(transfer_group="payout-9") == []


def test_deauthorization_is_a_connect_event_and_refuses_transfers(fake_stripe: FakeStripe) -> None:
    account_id = fake_stripe.add_connected_account()
    event = fake_stripe.deauthorize_account(account_id)
    assert event["type"] == "account.application.deauthorized"
    assert event["account"] == account_id
    assert event["data"]["object"]["object"] == "application"
    with pytest.raises(gateway.GatewayPermanentError):
        _pay(fake_stripe, "after-deauth", account_id)
    assert not fake_stripe.transfers


def test_requirements_due_are_set_and_emitted(fake_stripe: FakeStripe) -> None:
    account_id = fake_stripe.add_connected_account()
    event = fake_stripe.set_account_requirements(
        account_id, currently_due=["individual.id_number"], disabled_reason=None
    )
    requirements = event["data"]["object"]["requirements"]
    assert requirements["currently_due"] == ["individual.id_number"]
    assert requirements["disabled_reason"] is None
    assert event["data"]["previous_attributes"]["requirements"]["currently_due"] == []
    event = fake_stripe.set_account_requirements(
        account_id, currently_due=["individual.id_number"], disabled_reason="requirements.past_due"
    )
    account = event["data"]["object"]
    assert account["requirements"]["disabled_reason"] == "requirements.past_due"
    assert account["payouts_enabled"] is False
    assert account["capabilities"]["transfers"] == "inactive"


def test_connect_events_are_signed_with_the_connect_secret(fake_stripe: FakeStripe) -> None:
    fake_stripe.connect_webhook_secret = "whsec_connect_endpoint"
    account_id = fake_stripe.add_connected_account()
    connect_event = fake_stripe.deauthorize_account(account_id)
    signed = fake_stripe.signed_event(connect_event)
    gateway.configure(webhook_secret=fake_stripe.webhook_secret)
    with pytest.raises(gateway.WebhookSignatureInvalid):
        gateway.construct_webhook_event(signed.payload, signed.header)
    gateway.configure(connect_webhook_secret="whsec_connect_endpoint")
    event = gateway.construct_webhook_event(signed.payload, signed.header)
    assert event["id"] == json.loads(signed.payload)["id"]

"""Stripe's processing fees are booked (issue 11, defect 9): from the balance transaction of a
top-up's charge, paid by the platform (platform revenue -> Stripe clearing), so revenue is not
overstated and Stripe clearing mirrors Stripe's net balance."""

from __future__ import annotations

import pytest

from payments import services
from payments.models import JournalEntry, Posting
from payments.reconciliation import reconcile
from payments.selectors import revenue_report
from tests.factories import RequesterFactory, WorkerFactory
from tests.payments.card_helpers import URL, deliver, window
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

TOPUP = 10_000
CARD_FEE = 320  # the fake's 2.9% + 30 on 10,000


def available(requester) -> int:
    return services.requester_available(requester_id=requester.pk, currency="usd")


def test_reproduction_revenue_is_net_of_stripes_fee_and_clearing_mirrors_stripe(
    fake_stripe, client, django_capture_on_commit_callbacks, settings
):
    """The issue's reproduction with the ledger alone: a 10,000 card top-up funds a 1,000
    bonus (fee 200). Stripe kept 320 of the charge; before the fix revenue said 200 and
    clearing said 10,000 came in where Stripe holds 9,680."""
    settings.PLATFORM_FEE_PERCENT = 20
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=TOPUP, currency="usd", client_token="card-1"
    )
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    deliver(client, fake_stripe, event, django_capture_on_commit_callbacks)
    services.bonus_pay(
        requester=requester,
        worker=WorkerFactory(),
        amount_minor=1_000,
        currency="usd",
        reason="good",
        client_token="b",
    )

    [row] = revenue_report()
    assert row["revenue_minor"] == 200 - CARD_FEE
    clearing = Posting.objects.filter(account__kind="stripe_clearing")
    stripe_net = sum(t["net"] for t in fake_stripe.balance_transactions.values())
    assert -sum(clearing.values_list("amount_minor", flat=True)) == stripe_net == TOPUP - CARD_FEE
    assert_ledger_balanced()


def test_a_topup_stores_its_payment_and_books_stripes_fee(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    """Defect 9: Stripe's processing fee is booked from the charge's balance transaction, so
    platform revenue is not overstated and clearing mirrors Stripe's net balance."""
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=TOPUP, currency="usd", client_token="card-1"
    )
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    deliver(client, fake_stripe, event, django_capture_on_commit_callbacks)

    topup.refresh_from_db()
    intent = fake_stripe.payment_intents[event["data"]["object"]["payment_intent"]]
    assert topup.payment_intent_id == intent["id"]
    assert topup.charge_id == intent["latest_charge"]
    assert topup.stripe_fee_minor == CARD_FEE
    fee = JournalEntry.objects.get(kind="stripe_fee")
    postings = dict(fee.postings.values_list("account__kind", "amount_minor"))
    assert postings == {"platform_revenue": -CARD_FEE, "stripe_clearing": CARD_FEE}
    # a replay of the webhook and the sweep book nothing more
    deliver(client, fake_stripe, event, django_capture_on_commit_callbacks)
    services.topups_sync_charges()
    assert JournalEntry.objects.filter(kind="stripe_fee").count() == 1
    assert available(requester) == TOPUP  # the platform pays the fee, not the requester
    report = reconcile(since=window()[0], until=window()[1])
    assert report.ok, report.differences
    assert report.summary["stripe"]["usd:stripe_fee"] == -CARD_FEE
    assert_ledger_balanced()


def test_an_unbooked_fee_fails_reconciliation_until_the_sweep_books_it(fake_stripe, client):
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=TOPUP, currency="usd", client_token="card-1"
    )
    signed = fake_stripe.signed_event(
        fake_stripe.complete_checkout_session(topup.checkout_session_id)
    )
    # the on-commit charge sync never ran (e.g. Stripe was unreachable just then)
    client.post(URL, data=signed.payload, content_type="application/json", headers=signed.headers)
    since, until = window()
    report = reconcile(since=since, until=until)
    assert not report.ok
    assert {"kind": "total", "currency": "usd", "category": "stripe_fee"}.items() <= next(
        d for d in report.differences if d.get("category") == "stripe_fee"
    ).items()
    assert services.topups_sync_charges() == 1
    assert reconcile(since=since, until=until).ok

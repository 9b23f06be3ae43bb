"""Reconciliation knows every kind of Stripe balance transaction (issue 11, defect 1): charges,
Stripe fees, refunds, disputes, transfers and their reversals, the platform's own payouts, and
adjustments. Nothing lands in an "other" bucket that passes: an unbooked transaction fails the
report by id until it is booked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from payments.models import JournalEntry
from payments.reconciliation import reconcile
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"


def window():
    now = timezone.now()
    return now - timedelta(hours=1), now + timedelta(hours=1)


def post(client, fake, event):
    signed = fake.signed_event(event)
    response = client.post(
        URL, data=signed.payload, content_type="application/json", headers=signed.headers
    )
    assert response.status_code == 200
    return response


def test_platform_payouts_are_booked_from_their_webhooks(fake_stripe, client):
    paid = fake_stripe.pay_out_platform(20_000, deliver=False)
    failed = fake_stripe.pay_out_platform(5_000, fail=True, deliver=False)
    since, until = window()
    assert not reconcile(since=since, until=until).ok

    for event_id in list(fake_stripe._undelivered):
        post(client, fake_stripe, fake_stripe.events[event_id])
        post(client, fake_stripe, fake_stripe.events[event_id])  # redelivered
    assert paid["type"] == failed["type"] == "payout.created"

    entries = JournalEntry.objects.filter(kind__in=["platform_payout", "platform_payout_failed"])
    assert sorted(entries.values_list("kind", flat=True)) == [
        "platform_payout",
        "platform_payout",
        "platform_payout_failed",
    ]
    report = reconcile(since=since, until=until)
    assert report.ok, report.differences
    assert report.summary["stripe"]["usd:payout"] == -20_000
    assert_ledger_balanced()


def test_an_adjustment_fails_the_report_by_id_until_an_operator_books_it(fake_stripe):
    fee = fake_stripe.add_adjustment(-200, type_="stripe_fee", description="Connect fee")
    odd = fake_stripe.add_adjustment(75, type_="reserve_release", description="odd")
    since, until = window()

    report = reconcile(since=since, until=until)

    assert not report.ok
    unbooked = {d["transaction_id"] for d in report.differences if d["kind"] == "unbooked"}
    assert unbooked == {fee["id"], odd["id"]}
    assert "stripe_other" not in report.summary

    call_command("book_stripe_transaction", fee["id"], "--reason", "Connect billing for May")
    call_command("book_stripe_transaction", odd["id"], "--reason", "Stripe support ticket 42")
    call_command("book_stripe_transaction", odd["id"], "--reason", "twice is once")
    assert JournalEntry.objects.filter(kind="stripe_adjustment").count() == 2
    report = reconcile(since=since, until=until)
    assert report.ok, report.differences
    assert report.summary["stripe"]["usd:adjustment"] == -200 + 75
    assert_ledger_balanced()


def test_transactions_the_app_books_itself_cannot_be_booked_by_hand(fake_stripe):
    fake_stripe.pay_out_platform(1_000, deliver=False)
    txn = next(iter(fake_stripe.balance_transactions.values()))
    with pytest.raises(CommandError, match="booked from its webhook"):
        call_command("book_stripe_transaction", txn["id"], "--reason", "no")
    assert not JournalEntry.objects.exists()

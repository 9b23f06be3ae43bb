"""Celery tasks (eager in tests) and reconciliation with Stripe's balance transactions."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from payments import payouts, services, tasks
from payments.models import (
    ConnectedAccount,
    EventStatus,
    Payout,
    PayoutStatus,
    ReconciliationReport,
    StripeEvent,
)
from payments.reconciliation import reconcile
from tests.factories import RequesterFactory
from tests.payments.factories import funded_requester, worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PAYOUT_RETRY_BASE_SECONDS = 0
    settings.PAYOUT_MINIMUM_MINOR = 500


def onboarded_worker(fake, amount=1_000):
    w = worker()
    services.bonus_pay(
        requester=funded_requester(amount * 2),
        worker=w,
        amount_minor=amount,
        currency="usd",
        reason="x",
        client_token=f"e{w.pk}",
    )
    ConnectedAccount.objects.create(
        worker=w, stripe_account_id=fake.add_connected_account(), transfers_active=True
    )
    return w


def window():
    now = timezone.now()
    return now - timedelta(hours=1), now + timedelta(hours=1)


def test_execute_payout_task_runs_on_commit(fake_stripe, django_capture_on_commit_callbacks):
    w = onboarded_worker(fake_stripe)
    fake_stripe.inject("POST /v1/transfers", "http_500")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        payout = payouts.payout_request(worker=w)
    assert len(callbacks) == 1
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PENDING  # eager: no broker retry, the beat job retries
    assert tasks.execute_payout_task.delay(payout.pk).get() == PayoutStatus.PAID


def test_retry_payouts_task_converges(fake_stripe):
    w = onboarded_worker(fake_stripe, 2_000)
    first = payouts.payout_request(worker=w, amount_minor=500)
    second = payouts.payout_request(worker=w, amount_minor=500)
    Payout.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    fake_stripe.inject("POST /v1/transfers", "timeout")
    from payments import stripe_gateway

    stripe_gateway.configure(timeout=0.2)
    assert tasks.retry_payouts_task.delay().get() == 2
    assert tasks.retry_payouts_task.delay().get() == 1
    assert tasks.retry_payouts_task.delay().get() == 0
    assert {p.status for p in Payout.objects.filter(pk__in=[first.pk, second.pk])} == {"paid"}
    assert len(fake_stripe.transfers) == 2
    assert_ledger_balanced()


def test_weekly_payouts_task(fake_stripe, django_capture_on_commit_callbacks):
    onboarded_worker(fake_stripe, 700)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.weekly_payouts_task.delay().get() == 1
    assert Payout.objects.get().status == PayoutStatus.PAID


def test_replay_stripe_events_task(fake_stripe):
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=1_000, currency="usd", client_token="t"
    )
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    StripeEvent.objects.create(
        event_id=event["id"],
        type=event["type"],
        created=event["created"],
        payload=event,
        status=EventStatus.FAILED,
        attempts=1,
    )
    assert tasks.replay_stripe_events_task.delay().get() == 1
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 1_000


def test_reconciliation_agrees_after_topups_payouts_and_reversals(
    fake_stripe, client, django_capture_on_commit_callbacks
):
    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=3_000, currency="usd", client_token="t"
    )
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    signed = fake_stripe.signed_event(event)
    # after the credit commits, the charge's Stripe fee is booked (as in production)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/payments/stripe/webhook/",
            data=signed.payload,
            content_type="application/json",
            headers=signed.headers,
        )
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_execute(payout_id=payouts.payout_request(worker=w).pk)
    reversed_event = fake_stripe.reverse_transfer(payout.transfer_id, 300)
    signed = fake_stripe.signed_event(reversed_event)
    client.post(
        "/payments/stripe/webhook/",
        data=signed.payload,
        content_type="application/json",
        headers=signed.headers,
    )
    since, until = window()
    report = reconcile(since=since, until=until)
    assert report.ok, report.differences
    assert report.summary["transfers_matched"] == 1
    assert report.summary["stripe"]["usd:charge"] == 3_000
    assert report.summary["stripe"]["usd:transfer_reversal"] == 300
    assert report.summary["stripe_fees"]["usd"] > 0


def test_reconciliation_reports_a_transfer_unknown_to_the_ledger(fake_stripe):
    acct = fake_stripe.add_connected_account()
    from payments import stripe_gateway

    stripe_gateway.create_transfer(
        amount_minor=777,
        currency="usd",
        destination=acct,
        transfer_group=None,
        idempotency_key="rogue",
    )
    since, until = window()
    report = reconcile(since=since, until=until)
    assert not report.ok
    kinds = {d["kind"] for d in report.differences}
    assert kinds == {"total", "transfer_missing_in_ledger"}
    total = next(d for d in report.differences if d["kind"] == "total")
    assert total["difference_minor"] == -777


def test_reconcile_command_and_task(fake_stripe):
    since, until = window()
    call_command("reconcile_stripe", "--since", since.isoformat(), "--until", until.isoformat())
    pk = tasks.reconcile_stripe_task.delay(since.isoformat(), until.isoformat()).get()
    assert ReconciliationReport.objects.get(pk=pk).ok
    acct = fake_stripe.add_connected_account()
    from payments import stripe_gateway

    stripe_gateway.create_transfer(
        amount_minor=5,
        currency="usd",
        destination=acct,
        transfer_group=None,
        idempotency_key="rogue",
    )
    with pytest.raises(CommandError, match="differences"):
        call_command("reconcile_stripe", "--since", since.isoformat(), "--until", until.isoformat())
    with pytest.raises(CommandError):
        call_command("reconcile_stripe", "--since", "2026-01-02", "--until", "2026-01-01")


def test_reconcile_without_stripe(settings):
    settings.STRIPE_SECRET_KEY = ""
    since, until = window()
    report = reconcile(since=since, until=until)
    assert report.ok
    assert "not configured" in report.error

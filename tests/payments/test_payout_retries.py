"""Payout retries at the edges of Stripe's idempotency (issue 11, defect 5).

Stripe remembers an idempotency key for about 24 hours. A transfer whose response was lost and
whose retry comes after that would be made a second time under the same key; so a retry of a
transfer first attempted long ago looks the transfer up by its `transfer_group` first. Retries
end after a bounded time with an alert, and an `idempotency_error` never leaves a payout
`processing` for ever.
"""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from payments import payouts, services
from payments import stripe_gateway as gateway
from payments.models import ConnectedAccount, Payout, PayoutStatus
from tests.payments.factories import earning_worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_backoff(settings):
    settings.PAYOUT_RETRY_BASE_SECONDS = 0
    settings.PAYOUT_MINIMUM_MINOR = 500


def onboarded_worker(fake, amount=2_000):
    w = earning_worker(amount, funding=amount * 2)
    ConnectedAccount.objects.create(
        worker=w,
        stripe_account_id=fake.add_connected_account(),
        transfers_active=True,
        payouts_enabled=True,
        details_submitted=True,
    )
    return w


def balances(w):
    return (
        services.worker_available(worker_id=w.pk, currency="usd"),
        services.account_balance(
            services.account_get(kind="worker_payout_in_flight", currency="usd", owner_id=w.pk)
        ),
    )


def _reconcile():
    from payments.reconciliation import reconcile

    now = timezone.now()
    return reconcile(since=now - timedelta(days=3), until=now + timedelta(days=3))


def test_lost_response_retried_after_stripe_forgot_the_key_pays_once(fake_stripe):
    # given: the first transfer executed at Stripe but its response was lost
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("POST /v1/transfers", "lost_response")
    first = timezone.now()
    payout = payouts.payout_execute(payout_id=payout.pk, now=first)
    assert payout.status == PayoutStatus.PENDING
    (made,) = fake_stripe.transfers.values()

    # when: the retry comes a day later, after Stripe pruned the key
    fake_stripe.advance_clock(25 * 3600)
    later = first + timedelta(hours=25)
    payout = payouts.payout_execute(payout_id=payout.pk, now=later)

    # then: the transfer Stripe made is found and recorded; nothing is sent again
    assert payout.status == PayoutStatus.PAID
    assert payout.transfer_id == made["id"]
    assert len(fake_stripe.transfers) == 1
    sends = [r for r in fake_stripe.requests_log if r.route == "POST /v1/transfers"]
    assert len(sends) == 1
    assert balances(w) == (0, 0)
    assert_ledger_balanced()
    assert _reconcile().ok


def test_old_retry_with_no_transfer_at_stripe_sends_once(fake_stripe):
    """The lookup finds nothing (the first attempt never reached Stripe): send, once."""
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("POST /v1/transfers", "http_500")
    first = timezone.now()
    payouts.payout_execute(payout_id=payout.pk, now=first)
    fake_stripe.advance_clock(25 * 3600)
    payout = payouts.payout_execute(payout_id=payout.pk, now=first + timedelta(hours=25))
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    lookups = [r for r in fake_stripe.requests_log if r.route == "GET /v1/transfers"]
    assert [r.params.get("transfer_group") for r in lookups] == [f"payout-{payout.pk}"]
    assert_ledger_balanced()


def test_recent_retry_relies_on_the_key_and_does_not_look_up(fake_stripe):
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("POST /v1/transfers", "lost_response")
    first = timezone.now()
    payouts.payout_execute(payout_id=payout.pk, now=first)
    payout = payouts.payout_execute(payout_id=payout.pk, now=first + timedelta(minutes=5))
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert not [r for r in fake_stripe.requests_log if r.route == "GET /v1/transfers"]


def test_retries_give_up_after_a_bounded_time_and_alert(fake_stripe, settings, caplog):
    settings.PAYOUT_RETRY_GIVE_UP_SECONDS = 6 * 3600
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("* /v1/transfers", "http_500", times=None)  # Stripe keeps failing
    first = timezone.now()
    payout = payouts.payout_execute(payout_id=payout.pk, now=first)
    assert payout.status == PayoutStatus.PENDING
    payout = payouts.payout_execute(payout_id=payout.pk, now=first + timedelta(hours=2))
    assert payout.status == PayoutStatus.PENDING
    with caplog.at_level(logging.ERROR, logger="payments"):
        payout = payouts.payout_execute(payout_id=payout.pk, now=first + timedelta(hours=7))
    # the outcome of the first attempts is unknown: the money stays reserved, an admin looks
    assert payout.status == PayoutStatus.NEEDS_ATTENTION
    assert payout.failure_code == "retries_exhausted"
    assert any(
        r.levelno == logging.ERROR and f"payout {payout.pk}" in r.getMessage()
        for r in caplog.records
    )
    assert balances(w) == (0, 2_000)
    assert payouts.payouts_retry_due(now=first + timedelta(days=30)) == []
    assert_ledger_balanced()

    # an admin, once Stripe answers again: the lookup says nothing was paid, so it returns
    fake_stripe.clear_faults()
    payout = payouts.payout_resolve(payout_id=payout.pk, action="return", by=None)
    assert payout.status == PayoutStatus.RETURNED
    assert balances(w) == (2_000, 0)
    assert not fake_stripe.transfers
    assert_ledger_balanced()


def test_admin_resolve_records_a_transfer_stripe_made(fake_stripe, settings):
    """Resolving 'return' never returns money Stripe did send: the lookup finds it first."""
    settings.PAYOUT_RETRY_GIVE_UP_SECONDS = 3600
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("POST /v1/transfers", "lost_response")
    first = timezone.now()
    payouts.payout_execute(payout_id=payout.pk, now=first)
    fake_stripe.inject("GET /v1/transfers", "http_500")  # the give-up lookup fails too
    payout = payouts.payout_execute(payout_id=payout.pk, now=first + timedelta(hours=2))
    assert payout.status == PayoutStatus.NEEDS_ATTENTION
    payout = payouts.payout_resolve(payout_id=payout.pk, action="return", by=None)
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert balances(w) == (0, 0)
    assert_ledger_balanced()


def test_admin_resolve_retry_puts_the_payout_back_in_the_queue(fake_stripe, settings):
    settings.PAYOUT_RETRY_GIVE_UP_SECONDS = 3600
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("* /v1/transfers", "http_500", times=None)
    first = timezone.now()
    payouts.payout_execute(payout_id=payout.pk, now=first)
    payout = payouts.payout_execute(payout_id=payout.pk, now=first + timedelta(hours=2))
    assert payout.status == PayoutStatus.NEEDS_ATTENTION
    fake_stripe.clear_faults()
    payout = payouts.payout_resolve(payout_id=payout.pk, action="retry", by=None)
    assert payout.status == PayoutStatus.PENDING
    payout = payouts.payout_execute(payout_id=payout.pk)
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert_ledger_balanced()


def _first_call_with_other_params(monkeypatch, fake, *, fault):
    """Make the payout's first transfer request differ from every later one (as after a deploy
    that changed the metadata sent), so the retry meets Stripe's `idempotency_error`."""
    real = gateway.create_transfer
    calls = []

    def create_transfer(**kwargs):
        if not calls:
            kwargs = {**kwargs, "metadata": {**kwargs["metadata"], "release": "old"}}
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(gateway, "create_transfer", create_transfer)
    fake.inject("POST /v1/transfers", fault)


def test_idempotency_error_records_the_transfer_stripe_made(fake_stripe, monkeypatch):
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    _first_call_with_other_params(monkeypatch, fake_stripe, fault="lost_response")
    payout = payouts.payout_execute(payout_id=payout.pk)
    assert payout.status == PayoutStatus.PENDING
    payout = payouts.payout_execute(payout_id=payout.pk)
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert balances(w) == (0, 0)
    assert_ledger_balanced()


def test_idempotency_error_without_a_transfer_needs_attention_not_processing(fake_stripe, caplog):
    w = onboarded_worker(fake_stripe)
    payout = payouts.payout_request(worker=w)
    # given: an earlier request under this key, with other parameters, was refused by Stripe
    # and Stripe stored that refusal under the key
    fake_stripe.inject("POST /v1/transfers", "insufficient_balance")
    with pytest.raises(gateway.GatewayPermanentError):
        gateway.create_transfer(
            amount_minor=payout.amount_minor,
            currency="usd",
            destination=payout.destination,
            transfer_group=f"payout-{payout.pk}",
            idempotency_key=payout.transfer_idempotency_key,
            metadata={"payout_id": str(payout.pk), "release": "old"},
        )
    # when: our attempt, with today's parameters
    with caplog.at_level(logging.ERROR, logger="payments"):
        payout = payouts.payout_execute(payout_id=payout.pk)
    # then: not stuck in processing; an admin sees it; the money stays reserved
    assert payout.status == PayoutStatus.NEEDS_ATTENTION
    assert payout.failure_code == "idempotency_error"
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    assert not fake_stripe.transfers
    assert balances(w) == (0, 2_000)
    later = timezone.now() + timedelta(days=1)
    assert payouts.payouts_retry_due(now=later) == []
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.NEEDS_ATTENTION
    assert_ledger_balanced()

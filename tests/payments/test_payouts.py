"""Payouts: reserve first, transfer with our key, record; failures, retries, crashes;
Connect onboarding and webhooks; the manual batch where Stripe is not configured."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import DomainError
from payments import payouts, services, webhooks
from payments.models import (
    ConnectedAccount,
    ManualBatchStatus,
    Payout,
    PayoutMethod,
    PayoutStatus,
)
from tests.payments.factories import earning_worker, funded_requester, worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db

URL = "/payments/stripe/webhook/"


@pytest.fixture(autouse=True)
def _fast_backoff(settings):
    settings.PAYOUT_RETRY_BASE_SECONDS = 0
    settings.PAYOUT_MINIMUM_MINOR = 500


def onboarded_worker(amount=2_000, *, fake=None):
    """A worker holding `amount` (paid as a bonus) and, with a fake Stripe, an onboarded
    connected account."""
    w = earning_worker(amount, funding=amount * 2)
    if fake is not None:
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


def test_payout_transfers_once_with_our_key(fake_stripe, django_capture_on_commit_callbacks):
    w = onboarded_worker(fake=fake_stripe)
    with django_capture_on_commit_callbacks(execute=True):
        payout = payouts.payout_request(worker=w, currency="usd")
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.amount_minor == 2_000
    (transfer,) = fake_stripe.transfers.values()
    assert transfer["amount"] == 2_000
    assert transfer["id"] == payout.transfer_id
    keys = [r.idempotency_key for r in fake_stripe.requests_log if r.route == "POST /v1/transfers"]
    assert keys == [f"payout-{payout.pk}-transfer"]
    assert balances(w) == (0, 0)
    # the task running again does nothing
    assert payouts.payout_execute(payout_id=payout.pk).status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert_ledger_balanced()


def test_minimum_and_onboarding_are_required(fake_stripe):
    w = onboarded_worker(400, fake=fake_stripe)
    with pytest.raises(DomainError) as err:
        payouts.payout_request(worker=w)
    assert err.value.code == "payout_below_minimum"
    assert err.value.extra["minimum_minor"] == 500
    not_onboarded = earning_worker(2_000)
    with pytest.raises(DomainError) as err:
        payouts.payout_request(worker=not_onboarded)
    assert err.value.code == "payout_account_required"
    with pytest.raises(DomainError) as err:
        payouts.payout_request(worker=w, amount_minor=5_000)
    assert not Payout.objects.exists()


@pytest.mark.parametrize("kind", ["card_declined", "insufficient_balance"])
def test_permanent_failure_returns_the_money(fake_stripe, kind):
    w = onboarded_worker(fake=fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("POST /v1/transfers", kind)
    payout = payouts.payout_execute(payout_id=payout.pk)
    assert payout.status == PayoutStatus.RETURNED
    assert payout.failure_code
    assert balances(w) == (2_000, 0)
    assert not fake_stripe.transfers
    assert_ledger_balanced()


@pytest.mark.parametrize("kind", ["http_500", "rate_limit", "connection_reset", "lost_response"])
def test_transient_failure_is_retried_with_the_same_key(fake_stripe, kind):
    w = onboarded_worker(fake=fake_stripe)
    payout = payouts.payout_request(worker=w)
    fake_stripe.inject("POST /v1/transfers", kind)
    payout = payouts.payout_execute(payout_id=payout.pk)
    assert payout.status == PayoutStatus.PENDING
    assert payout.last_error
    assert balances(w) == (0, 2_000)  # still reserved: the outcome may be unknown
    assert payouts.payouts_retry_due() == [payout.pk]
    payout = payouts.payout_execute(payout_id=payout.pk)
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert balances(w) == (0, 0)
    assert_ledger_balanced()


def test_backoff_grows_and_is_capped(settings):
    settings.PAYOUT_RETRY_BASE_SECONDS = 30
    assert [payouts.retry_delay_seconds(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert payouts.retry_delay_seconds(50) == 3600


def test_crash_after_ledger_commit_before_enqueue(fake_stripe):
    """No on-commit callback runs (the process died): the retry job finds the payout."""
    w = onboarded_worker(fake=fake_stripe)
    payout = payouts.payout_request(worker=w)  # callbacks captured by the test transaction
    assert payouts.payouts_retry_due() == []  # within the enqueue grace
    later = timezone.now() + payouts.ENQUEUE_GRACE + timedelta(seconds=1)
    assert payouts.payouts_retry_due(now=later) == [payout.pk]
    payouts.payout_execute(payout_id=payout.pk, now=later)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert_ledger_balanced()


def test_crash_after_stripe_call_before_db_update(fake_stripe, monkeypatch):
    w = onboarded_worker(fake=fake_stripe)
    payout = payouts.payout_request(worker=w)

    def die(**kwargs):
        raise SystemExit("killed between Stripe and the database")

    # payout_execute looks payout_record_paid up in its own module, payments.payouts.transfers
    monkeypatch.setattr(payouts.transfers, "payout_record_paid", die)
    with pytest.raises(SystemExit):
        payouts.payout_execute(payout_id=payout.pk)
    monkeypatch.undo()
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PROCESSING
    assert len(fake_stripe.transfers) == 1
    # reconciliation sees the unrecorded transfer
    report = _reconcile()
    assert not report.ok
    assert {d["kind"] for d in report.differences} >= {"transfer_missing_in_ledger"}
    # a fresh claim is not taken over; a stale one is
    assert payouts.payouts_retry_due() == []
    later = timezone.now() + payouts.STALE_CLAIM + timedelta(seconds=1)
    assert payouts.payouts_retry_due(now=later) == [payout.pk]
    payout = payouts.payout_execute(payout_id=payout.pk, now=later)
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1  # Stripe replayed the first transfer
    assert balances(w) == (0, 0)
    assert _reconcile().ok
    assert_ledger_balanced()


def _reconcile():
    from payments.reconciliation import reconcile

    now = timezone.now()
    return reconcile(since=now - timedelta(hours=1), until=now + timedelta(hours=1))


def test_weekly_run_pays_everyone_above_minimum_once(fake_stripe):
    rich = onboarded_worker(3_000, fake=fake_stripe)
    poor = onboarded_worker(100, fake=fake_stripe)
    made = payouts.payouts_weekly()
    assert [p.worker_id for p in made] == [rich.pk]
    # earning more the same week, then a rerun of the job: still one payout this week
    services.bonus_pay(
        requester=funded_requester(5_000),
        worker=rich,
        amount_minor=900,
        currency="usd",
        reason="more",
        client_token="more",
    )
    again = payouts.payouts_weekly()
    assert [p.pk for p in again] == [p.pk for p in made]
    assert Payout.objects.filter(worker=rich).count() == 1
    next_week = payouts.payouts_weekly(now=timezone.now() + timedelta(days=7))
    assert [p.amount_minor for p in next_week] == [900]
    assert Payout.objects.filter(worker=poor).count() == 0


def test_transfer_reversed_webhook_credits_the_worker_once(fake_stripe, client):
    w = onboarded_worker(fake=fake_stripe)
    payout = payouts.payout_execute(payout_id=payouts.payout_request(worker=w).pk)
    partial = fake_stripe.reverse_transfer(payout.transfer_id, 500)
    rest = fake_stripe.reverse_transfer(payout.transfer_id)
    for event in (rest, partial, rest, partial):  # out of order and duplicated
        signed = fake_stripe.signed_event(event)
        client.post(
            URL, data=signed.payload, content_type="application/json", headers=signed.headers
        )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.RETURNED
    assert payout.reversed_minor == 2_000
    assert balances(w) == (2_000, 0)
    assert_ledger_balanced()


def test_account_updated_out_of_order_and_payout_failed(fake_stripe, client):
    w = worker()
    link = payouts.payout_account_onboard(worker=w)
    assert link.startswith("http")
    account = ConnectedAccount.objects.get(worker=w)
    assert not account.ready
    assert payouts.payout_account_onboard(worker=w)  # a second link, same account
    assert len(fake_stripe.accounts) == 1
    ready = fake_stripe.set_account_status(
        account.stripe_account_id,
        charges_enabled=True,
        payouts_enabled=True,
        details_submitted=True,
    )
    fake_stripe.advance_clock(60)
    restricted = fake_stripe.set_account_status(account.stripe_account_id, payouts_enabled=False)
    for event in (restricted, ready):
        signed = fake_stripe.signed_event(event)
        client.post(
            URL, data=signed.payload, content_type="application/json", headers=signed.headers
        )
    account.refresh_from_db()
    assert account.details_submitted
    assert not account.payouts_enabled  # the newer event wins
    failed = fake_stripe.fail_payout(account.stripe_account_id, 1_000)
    signed = fake_stripe.signed_event(failed)
    client.post(URL, data=signed.payload, content_type="application/json", headers=signed.headers)
    account.refresh_from_db()
    assert account.last_payout_failure == "account_closed"
    assert_ledger_balanced()


def test_manual_batch_without_stripe(settings):
    settings.STRIPE_SECRET_KEY = ""
    a, b = onboarded_worker(1_000), earning_worker(700)
    pa = payouts.payout_request(worker=a)
    pb = payouts.payout_request(worker=b, amount_minor=600)
    assert pa.method == PayoutMethod.MANUAL
    assert pa.batch_id == pb.batch_id
    batch = pa.batch
    with pytest.raises(DomainError) as err:
        payouts.manual_batch_mark_paid(batch=batch, by=None)
    assert err.value.code == "batch_not_exported"
    csv_text = payouts.manual_batch_export(batch=batch)
    assert f"{pa.pk},{a.pk},{a.email},1000,usd" in csv_text
    batch.refresh_from_db()
    assert batch.status == ManualBatchStatus.EXPORTED
    assert payouts.manual_batch_mark_paid(batch=batch, by=None) == 2
    assert payouts.manual_batch_mark_paid(batch=batch, by=None) == 0
    assert Payout.objects.filter(status=PayoutStatus.PAID).count() == 2
    assert balances(a) == (0, 0)
    assert balances(b) == (100, 0)
    assert payouts.payouts_retry_due() == []  # manual payouts never go to Stripe
    assert_ledger_balanced()


def test_payout_request_key_is_idempotent(settings):
    settings.STRIPE_SECRET_KEY = ""
    w = onboarded_worker(2_000)
    first = payouts.payout_request(worker=w, amount_minor=500, request_key="k1")
    again = payouts.payout_request(worker=w, amount_minor=500, request_key="k1")
    assert first.pk == again.pk
    assert balances(w) == (1_500, 500)


def test_replay_due_events_picks_failed_only(fake_stripe):
    assert webhooks.events_replay_due() == 0

"""Row locks under real concurrency (PostgreSQL; SQLite serialises writers anyway)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from marketplace.errors import DomainError
from payments import services
from tests.payments.factories import earning_worker, funded_requester, new_bundle_id
from tests.payments.helpers import assert_ledger_balanced

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

#: Under PostgreSQL's default max_connections (100) with other sessions around.
POOL = 24


def run_concurrently(fn, args_list, pool: int = POOL):
    """Run fn(*args) for each args on `pool` threads released together; each thread closes
    its own connection. Returns results (or raised DomainErrors) in order."""
    start = threading.Event()

    def call(args):
        start.wait()
        try:
            return fn(*args)
        except DomainError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=pool) as executor:
        futures = [executor.submit(call, args) for args in args_list]
        start.set()
        return [f.result(timeout=120) for f in futures]


def test_100_concurrent_publishes_against_a_balance_for_10(fee_20):
    # given: one publish costs 10 x (10 + 2) = 120; the balance covers exactly 10 of them
    requester = funded_requester(1_200)
    bundles = [new_bundle_id() for _ in range(100)]

    def publish(bundle_id: int) -> int:
        with transaction.atomic():
            return services.escrow_reserve(
                requester=requester,
                bundle_id=bundle_id,
                currency="usd",
                reward_minor=10,
                judgments=10,
                idempotency_key=f"bundle-{bundle_id}-publish",
            )

    # when
    results = run_concurrently(publish, [(b,) for b in bundles])
    # then
    ok = [r for r in results if r == 120]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(ok) == 10, results
    assert len(refused) == 90
    assert {r.code for r in refused} == {"insufficient_funds"}
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 0
    assert sum(services.escrow_balance(bundle_id=b, currency="usd") for b in bundles) == 1_200
    assert_ledger_balanced()


def test_16_threads_approving_and_paying_out_one_worker(fake_stripe, settings, fee_20):
    from payments import payouts
    from payments.models import ConnectedAccount, Payout, PayoutStatus
    from tests.payments.factories import worker

    # given: a bundle with escrow for 200 judgments and one onboarded worker
    settings.PAYOUT_MINIMUM_MINOR = 100
    settings.PAYOUT_RETRY_BASE_SECONDS = 0
    requester = funded_requester(10_000)
    bundle = new_bundle_id()
    services.escrow_reserve(
        requester=requester,
        bundle_id=bundle,
        currency="usd",
        reward_minor=10,
        judgments=200,
        idempotency_key="pub",
    )
    w = worker()
    ConnectedAccount.objects.create(
        worker=w, stripe_account_id=fake_stripe.add_connected_account(), transfers_active=True
    )

    def approver(seed: int) -> int:
        import random

        ids = list(range(1, 201))
        random.Random(seed).shuffle(ids)
        for assignment_id in ids:  # 8 threads try to pay every assignment
            with transaction.atomic():
                services.assignment_pay(
                    requester_id=requester.pk,
                    bundle_id=bundle,
                    worker_id=w.pk,
                    currency="usd",
                    reward_minor=10,
                    assignment_id=assignment_id,
                )
        return 0

    def payer(seed: int) -> int:
        made = 0
        for n in range(15):
            try:
                payout = payouts.payout_request(
                    worker=w, amount_minor=100, request_key=f"t{seed}-{n}"
                )
            except DomainError:
                continue
            payouts.payout_execute(payout_id=payout.pk)
            made += 1
        return made

    # when
    results = run_concurrently(
        lambda i: approver(i) if i % 2 == 0 else payer(i), [(i,) for i in range(16)], pool=16
    )
    # then
    assert not [r for r in results if isinstance(r, DomainError)], results
    paid = Payout.objects.filter(status=PayoutStatus.PAID)
    assert Payout.objects.exclude(status=PayoutStatus.PAID).count() == 0
    assert len(fake_stripe.transfers) == paid.count() == sum(results)
    paid_out = sum(paid.values_list("amount_minor", flat=True))
    assert services.worker_available(worker_id=w.pk, currency="usd") + paid_out == 200 * 10
    assert services.escrow_balance(bundle_id=bundle, currency="usd") == 0
    assert_ledger_balanced()


def test_concurrent_duplicate_webhooks_credit_once(fake_stripe):
    from django.test import Client

    from payments.models import StripeEvent
    from tests.factories import RequesterFactory

    requester = RequesterFactory()
    topup = services.topup_create(
        requester=requester, amount_minor=2_000, currency="usd", client_token="t"
    )
    event = fake_stripe.complete_checkout_session(topup.checkout_session_id)
    signed = fake_stripe.signed_event(event)

    def deliver() -> int:
        return (
            Client()
            .post(
                "/payments/stripe/webhook/",
                data=signed.payload,
                content_type="application/json",
                headers=signed.headers,
            )
            .status_code
        )

    assert run_concurrently(deliver, [() for _ in range(12)], pool=12) == [200] * 12
    from payments import webhooks

    webhooks.events_replay_due()  # anything a racing delivery left for the replay job
    assert services.requester_available(requester_id=requester.pk, currency="usd") == 2_000
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert_ledger_balanced()


def test_concurrent_executions_of_one_payout_transfer_once(fake_stripe, settings):
    from payments import payouts
    from payments.models import ConnectedAccount, PayoutStatus

    settings.PAYOUT_MINIMUM_MINOR = 100
    w = earning_worker(1_000)
    ConnectedAccount.objects.create(
        worker=w, stripe_account_id=fake_stripe.add_connected_account(), transfers_active=True
    )
    payout = payouts.payout_request(worker=w)
    fake_stripe.latency = 0.2  # keep the first call in flight while the others try
    run_concurrently(
        lambda: payouts.payout_execute(payout_id=payout.pk), [() for _ in range(12)], pool=12
    )
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert payout.attempts == 1
    assert len(fake_stripe.transfers) == 1
    assert_ledger_balanced()

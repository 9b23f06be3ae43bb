"""Requester debt under real concurrency (PostgreSQL): refunds and disputes of one requester's
top-ups racing admin credits, top-up credits, escrow releases and bonuses. Every operation
either commits or is refused cleanly (no deadlock, no 500), the books balance, and the
requester never ends up both holding and owing money: every credit paid the debt first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from marketplace.errors import DomainError
from payments import services
from payments.fees import fee_for
from payments.models import Bonus, TopUp, TopUpStatus
from tests.factories import RequesterFactory, WorkerFactory
from tests.payments.factories import new_bundle_id
from tests.payments.helpers import assert_ledger_balanced

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(calls):
    """Run each zero-argument call on its own thread, all released together; DomainErrors are
    returned, anything else (a deadlock, an IntegrityError) fails the test."""
    start = threading.Event()

    def call(fn):
        start.wait()
        try:
            return fn()
        except DomainError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as executor:
        futures = [executor.submit(call, fn) for fn in calls]
        start.set()
        return [f.result(timeout=120) for f in futures]


def paid_session(topup: TopUp) -> dict:
    return {
        "id": f"cs_{topup.pk}",
        "payment_status": "paid",
        "client_reference_id": str(topup.pk),
        "amount_total": topup.amount_minor,
        "currency": topup.currency,
        "payment_intent": f"pi_{topup.pk}",
    }


def test_refunds_and_disputes_race_credits_releases_and_bonuses(settings):
    settings.STRIPE_SECRET_KEY = ""  # the on-commit fee sync finds no Stripe and logs
    settings.PAYMENTS_REQUESTER_DEBT_TASKS = []
    requester, worker = RequesterFactory(), WorkerFactory()
    cards = [
        TopUp.objects.create(
            requester=requester, amount_minor=1_000, currency="usd", client_token=f"c{n}"
        )
        for n in range(24)
    ]
    for topup in cards[:16]:  # credited before the race; the other 8 are credited during it
        services.topup_complete(session=paid_session(topup))
    bundles = [new_bundle_id() for _ in range(6)]
    for bundle_id in bundles:
        services.escrow_reserve(
            requester=requester,
            bundle_id=bundle_id,
            currency="usd",
            reward_minor=100,
            judgments=5,
            idempotency_key=f"bundle-{bundle_id}-publish",
        )  # 6 x 500: 13,000 left of 16,000

    calls = []
    for topup in cards[:10]:  # refunded in full
        charge = {"id": f"ch_{topup.pk}", "payment_intent": f"pi_{topup.pk}"}
        calls.append(
            lambda c=charge: services.charge_refunded(charge={**c, "amount_refunded": 1_000})
        )
    for topup in cards[10:16]:  # disputed: amount + 1,500 fee withdrawn
        dispute = {
            "id": f"dp_{topup.pk}",
            "charge": f"ch_{topup.pk}",
            "payment_intent": f"pi_{topup.pk}",
            "amount": 1_000,
            "currency": "usd",
            "status": "needs_response",
            "balance_transactions": [
                {
                    "id": f"txn_dp_{topup.pk}",
                    "amount": -1_000,
                    "fee": 1_500,
                    "net": -2_500,
                    "currency": "usd",
                    "type": "adjustment",
                    "reporting_category": "dispute",
                    "source": f"dp_{topup.pk}",
                    "created": 1,
                }
            ],
        }
        calls.append(lambda d=dispute: services.dispute_sync(dispute=d))
    for topup in cards[16:]:
        calls.append(lambda t=topup: services.topup_complete(session=paid_session(t)))
    for n in range(8):
        calls.append(
            lambda n=n: services.balance_credit(
                requester=requester, amount_minor=700, currency="usd", reference=f"INV-{n}", by=None
            )
        )
    for bundle_id in bundles:
        calls.append(
            lambda b=bundle_id: services.escrow_release(
                requester_id=requester.pk,
                bundle_id=b,
                currency="usd",
                idempotency_key=f"bundle-{b}-cancel",
            )
        )
    for n in range(8):
        calls.append(
            lambda n=n: services.bonus_pay(
                requester=requester,
                worker=worker,
                amount_minor=400,
                currency="usd",
                reason="race",
                client_token=f"bonus-{n}",
            )
        )

    results = run_concurrently(calls)

    refused = {r.code for r in results if isinstance(r, DomainError)}
    assert refused <= {"requester_in_debt", "insufficient_funds"}, refused
    bonuses = Bonus.objects.filter(requester=requester).count()
    # the net position does not depend on the order: in - out
    money_in = 24 * 1_000 + 8 * 700
    money_out = 10 * 1_000 + 6 * (1_000 + 1_500) + bonuses * (400 + fee_for(400))
    available = services.requester_available(requester_id=requester.pk, currency="usd")
    owed = services.requester_debt(requester_id=requester.pk, currency="usd")
    assert available - owed == money_in - money_out
    assert available == 0 or owed == 0  # never holding and owing at once
    assert_ledger_balanced()
    assert TopUp.objects.filter(status=TopUpStatus.REFUNDED).count() == 10
    assert TopUp.objects.filter(status=TopUpStatus.DISPUTED).count() == 6

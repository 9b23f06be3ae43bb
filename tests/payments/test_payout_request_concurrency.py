"""Concurrent payout requests with one client key (issue 11, defect 6), on PostgreSQL.

The same request sent twice at once (a double click, a client retrying a request that timed
out) must be one payout, and every caller must get it: before the fix the second caller hit
the unique request key (an IntegrityError, a 500) or, having waited for the first caller's
lock, found the balance spent (a misleading `insufficient_funds`).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from payments import payouts, services
from payments.models import ConnectedAccount, Payout, PayoutStatus
from tests.payments.factories import earning_worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CALLERS = 12


def run_together(fn, n: int = CALLERS) -> list[object]:
    """Call fn() on n threads released at once; each returns its result or the exception it
    raised (any exception: an IntegrityError is the bug), and closes its connection."""
    start = threading.Event()

    def call() -> object:
        start.wait()
        try:
            return fn()
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(call) for _ in range(n)]
        start.set()
        return [f.result(timeout=120) for f in futures]


@pytest.fixture
def worker_with_stripe(fake_stripe, settings):
    settings.PAYOUT_MINIMUM_MINOR = 500
    settings.PAYOUT_RETRY_BASE_SECONDS = 0
    w = earning_worker(2_000, funding=5_000)
    ConnectedAccount.objects.create(
        worker=w, stripe_account_id=fake_stripe.add_connected_account(), transfers_active=True
    )
    return w


def test_same_key_requested_concurrently_is_one_payout_for_every_caller(
    fake_stripe, worker_with_stripe
):
    w = worker_with_stripe
    results = run_together(
        lambda: payouts.payout_request(worker=w, currency="usd", request_key="double-click")
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    assert {r.pk for r in results} == {Payout.objects.get().pk}
    payout = Payout.objects.get()
    assert payout.amount_minor == 2_000
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
    assert services.worker_available(worker_id=w.pk, currency="usd") == 0
    assert_ledger_balanced()


def test_api_returns_the_first_payout_to_a_concurrent_retry(fake_stripe, worker_with_stripe):
    w = worker_with_stripe

    def post() -> object:
        client = APIClient()
        client.force_authenticate(w)
        response = client.post(
            "/api/v1/work/payouts/", {"client_token": "tok-1", "amount": 1_500}, format="json"
        )
        return response.status_code, response.json()

    results = run_together(post)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    assert {status for status, _body in results} == {201}, results
    payout = Payout.objects.get()
    assert {body["id"] for _status, body in results} == {payout.pk}
    assert payout.amount_minor == 1_500
    assert services.worker_available(worker_id=w.pk, currency="usd") == 500
    assert len(fake_stripe.transfers) == 1
    assert_ledger_balanced()


def test_same_key_for_another_amount_is_a_conflict_not_a_second_payout(
    fake_stripe, worker_with_stripe
):
    w = worker_with_stripe
    amounts = iter([600, 700] * CALLERS)
    lock = threading.Lock()

    def request() -> object:
        with lock:
            amount = next(amounts)
        return payouts.payout_request(worker=w, amount_minor=amount, request_key="k")

    results = run_together(request)
    payout = Payout.objects.get()
    made = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if not isinstance(r, Payout)]
    assert {p.pk for p in made} == {payout.pk}
    assert all(getattr(r, "code", None) == "idempotency_conflict" for r in refused), refused
    assert services.worker_available(worker_id=w.pk, currency="usd") == 2_000 - payout.amount_minor
    assert_ledger_balanced()


def test_a_hold_racing_payout_requests_leaves_nothing_withdrawable(settings):
    """The hold and the requests take the same account lock: a request either reserved its
    money before the hold (in flight) or is refused after it; the hold sweeps the rest."""
    from django.contrib.auth import get_user_model

    settings.STRIPE_SECRET_KEY = ""
    settings.PAYOUT_MINIMUM_MINOR = 100
    w = earning_worker(2_000, funding=5_000)
    admin = get_user_model().objects.create_user(email="ops@example.com", password="x")
    keys = iter(range(100))
    lock = threading.Lock()

    def act() -> object:
        with lock:
            n = next(keys)
        if n == 5:
            return payouts.worker_hold(worker=w, reason="race", by=admin)
        return payouts.payout_request(worker=w, amount_minor=300, request_key=f"r{n}")

    results = run_together(act)
    unexpected = [
        r
        for r in results
        if isinstance(r, Exception)
        and getattr(r, "code", "")
        not in (
            "payouts_on_hold",
            "insufficient_funds",
        )
    ]
    assert not unexpected, unexpected
    reserved = sum(p.amount_minor for p in Payout.objects.all())
    held = services.account_balance(
        services.account_get(kind="worker_held", currency="usd", owner_id=w.pk)
    )
    assert services.worker_available(worker_id=w.pk, currency="usd") == 0
    assert reserved + held == 2_000
    assert_ledger_balanced()

"""Where review and money meet under real concurrency (issue 11, defects 3 and 4; PostgreSQL).

Defect 3: settling a finished bundle's escrow read the balance and counted pending work without
a lock between them, so an approval committing in between left approved-to-be work unpayable.
Defect 4: approval locked escrow then the bundle, cancel and expiry the bundle then escrow, so
they deadlocked. Every path now takes the bundle row first, then ledger accounts in id order
(`tasks.locking`); these tests mix the paths and check the books after each run.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from marketplace.errors import DomainError
from payments import services as payments
from tasks import escrow, review, services
from tasks import work as tasks_work
from tasks.models import Assignment, AssignmentStatus, Bundle, BundleStatus
from tasks.selectors import escrow_problems, worker_public_id
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, fund
from tests.payments.helpers import assert_ledger_balanced

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(calls, pool: int = 16):
    """Run each zero-argument call on its own thread, released at once. Returns what each
    returned; DomainErrors (clean refusals) are returned, anything else is re-raised by the
    caller's assertion through the `failures` list."""
    start = threading.Event()
    failures: list[BaseException] = []

    def call(fn):
        start.wait()
        try:
            return fn()
        except DomainError as exc:
            return exc
        except BaseException as exc:  # noqa: BLE001 - a deadlock or a 500 ends up here
            failures.append(exc)
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=pool) as executor:
        futures = [executor.submit(call, fn) for fn in calls]
        start.set()
        results = [f.result(timeout=180) for f in futures]
    return results, failures


def _bundle_with_work(requester, workers, *, items: int, reward: int = 5) -> tuple[Bundle, list]:
    """A published bundle (overlap 1) where each worker submitted one answer; the remaining
    items are unclaimed, so escrow holds more than the submitted work needs."""
    bundle = BundleFactory(requester=requester, reward_minor=reward, min_overlap=1, max_overlap=1)
    for _ in range(items):
        ItemFactory(bundle=bundle)
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    done = []
    for worker in workers:
        claim = tasks_work.assignment_claim(bundle=bundle, worker=worker)
        done.append(services.assignment_submit(assignment_id=claim.pk, worker=worker, answer="pos"))
    return bundle, done


@pytest.fixture
def slow_escrow_read(monkeypatch):
    """Widen the window between reading a bundle's escrow and acting on it, as a loaded
    database does: with a lock held across it nothing changes; without one, approvals slip in."""
    real = payments.escrow_balance

    def slow(**kwargs):
        value = real(**kwargs)
        time.sleep(0.02)
        return value

    monkeypatch.setattr(payments, "escrow_balance", slow)


def test_approvals_against_settle_keep_every_pending_answer_payable(slow_escrow_read):
    # given: 4 cancelled bundles, each with 8 answers awaiting review and escrow for 12
    requester = RequesterFactory()
    fund(requester)
    workers = [WorkerFactory() for _ in range(8)]
    bundles = []
    for _ in range(4):
        bundle, done = _bundle_with_work(requester, workers, items=12)
        services.bundle_cancel(bundle=bundle, by=requester)
        bundles.append((bundle, done))
    assert escrow_problems() == []
    # when: every answer is approved while settles run on the same bundles
    calls = []
    for bundle, done in bundles:
        calls += [
            (lambda a=a: review.assignment_approve(assignment_id=a.pk, by=requester)) for a in done
        ]
        calls += [(lambda b=bundle: escrow.escrow_settle(bundle_id=b.pk)) for _ in range(8)]
    random.Random(3).shuffle(calls)
    results, failures = run_together(calls)
    # then: no approval found its escrow short, and nothing is left behind
    assert not failures, failures
    refused = [r for r in results if isinstance(r, DomainError)]
    assert not refused, [(r.code, r.detail) for r in refused]
    assert not Assignment.objects.filter(status=AssignmentStatus.SUBMITTED).exists()
    for bundle, _ in bundles:
        escrow.escrow_settle(bundle_id=bundle.pk)
        assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 0
    assert escrow_problems() == []
    assert_ledger_balanced()


def test_approve_bulk_review_cancel_expire_and_bonus_never_deadlock():
    # given: 6 live bundles of one requester, each with 8 answers awaiting review
    requester = RequesterFactory()
    fund(requester)
    workers = [WorkerFactory() for _ in range(8)]
    bundles = [_bundle_with_work(requester, workers, items=10) for _ in range(6)]
    api = client_for(requester)
    statuses: list[int] = []

    def post(url, body=None):
        response = client_for(requester).post(url, body or {}, format="json")
        statuses.append(response.status_code)
        return response.status_code

    tokens = itertools.count()
    calls = []
    for n, (bundle, done) in enumerate(bundles):
        singles, bulk = done[:4], done[4:]
        calls += [(lambda a=a: post(f"/api/v1/assignments/{a.pk}/approve/")) for a in singles]
        calls.append(
            lambda ids=[a.pk for a in bulk], n=n: post(
                "/api/v1/assignments/review/",
                {"ids": ids, "action": "approve" if n % 2 else "reject", "reason": "bulk"},
            )
        )
        if n % 2:
            calls.append(lambda b=bundle: post(f"/api/v1/bundles/{b.pk}/cancel/"))
        else:
            calls.append(lambda b=bundle: services.bundle_expire(bundle=Bundle(pk=b.pk)))
        for worker in workers[:3]:
            calls.append(
                lambda w=worker: post(
                    "/api/v1/bonuses/",
                    {
                        "worker_id": worker_public_id(requester.pk, w.pk),
                        "amount": 7,
                        "currency": "usd",
                        "reason": "thanks",
                        "client_token": f"bonus-{next(tokens)}",
                    },
                )
            )
    random.Random(4).shuffle(calls)
    # when
    results, failures = run_together(calls)
    # then: no deadlock, no 500; every answer reviewed; the books balance and escrow covers
    # whatever still waits
    assert not failures, failures
    assert all(code < 500 for code in statuses), statuses
    refused = [r for r in results if isinstance(r, DomainError)]
    assert not refused, [(r.code, r.detail) for r in refused]
    assert not Assignment.objects.filter(status=AssignmentStatus.SUBMITTED).exists()
    assert set(Bundle.objects.values_list("status", flat=True)) <= {
        BundleStatus.CANCELLED,
        BundleStatus.EXPIRED,
    }
    for bundle, _ in bundles:
        escrow.escrow_settle(bundle_id=bundle.pk)
        assert payments.escrow_balance(bundle_id=bundle.pk, currency="usd") == 0
    assert api.get("/api/v1/bonuses/").json()["count"] == 18
    assert escrow_problems() == []
    assert_ledger_balanced()


def _locks(queries) -> list[str]:
    """The rows each statement locks, in order: 'bundle', 'assignment' or 'ledger'."""
    tables = {
        '"tasks_bundle"': "bundle",
        '"tasks_assignment"': "assignment",
        '"payments_ledgeraccount"': "ledger",
    }
    seen = []
    for query in queries:
        sql = query["sql"]
        for table, name in tables.items():
            locking = "FOR UPDATE" in sql or "FOR NO KEY UPDATE" in sql
            if (locking and f"FROM {table}" in sql) or sql.startswith(f"UPDATE {table}"):
                seen.append(name)
    return seen


def _in_order(locks: list[str]) -> bool:
    """The bundle before anything else (a later bundle statement is the same row again, which
    the transaction holds already), and no assignment row once a ledger account is held."""
    if "ledger" in locks and "assignment" in locks[locks.index("ledger") :]:
        return False
    return not locks or locks[0] == "bundle"


def test_every_money_path_takes_the_bundle_first_and_the_ledger_last():
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    from tasks.quality import blocking

    requester = RequesterFactory()
    fund(requester)
    workers = [WorkerFactory() for _ in range(4)]
    bundle, done = _bundle_with_work(requester, workers, items=6)
    other, other_done = _bundle_with_work(requester, workers[:1], items=2)
    paths = {
        "approve": lambda: review.assignment_approve(assignment_id=done[0].pk, by=requester),
        "reject": lambda: review.assignment_reject(
            assignment_id=done[1].pk, by=requester, reason="no"
        ),
        "bulk review": lambda: review.assignments_review(
            requester=requester, assignment_ids=[done[2].pk], approve=True
        ),
        "block": lambda: blocking.worker_block(
            worker_id=workers[3].pk, bundle_id=bundle.pk, reason="spam"
        ),
        "cancel": lambda: services.bundle_cancel(bundle=bundle, by=requester),
        "settle": lambda: escrow.escrow_settle(bundle_id=bundle.pk),
        "expire": lambda: services.bundle_expire(bundle=other),
        "approve after expiry": lambda: review.assignment_approve(
            assignment_id=other_done[0].pk, by=requester
        ),
    }
    for name, path in paths.items():
        with CaptureQueriesContext(conn) as queries:
            path()
        locks = _locks(queries.captured_queries)
        assert _in_order(locks), (name, " ".join(locks))
    assert escrow_problems() == []
    assert_ledger_balanced()

"""Issue 16, faults: a failure injected right after the first write (and after the money
write) of publish, approve and payout leaves no partial state: every row, balance and status
is as before, and the ledger still sums to zero. Then the same call, without the fault,
succeeds once."""

from __future__ import annotations

import pytest

from accounts.models import WorkerProfile
from payments import payouts
from payments.models import JournalEntry, LedgerAccount, Payout, Posting
from tasks import services, work
from tasks.models import Assignment, Bundle, BundleEvent, Item, WorkerBundleStats
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, fund, publish
from tests.payments.factories import earning_worker
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


class Injected(Exception):
    pass


def snapshot() -> dict:
    """Everything publish, approve and payout write."""
    return {
        "entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        # Ledger accounts are made on first use before the transaction that locks them, so an
        # empty one may stay; no balance may move.
        "balances": dict(
            LedgerAccount.objects.exclude(balance_minor=0)
            .exclude(balance_minor=None)
            .values_list("key", "balance_minor")
        ),
        "bundles": dict(Bundle.objects.values_list("pk", "status")),
        "gold_slots": dict(Bundle.objects.values_list("pk", "gold_slots_open")),
        "events": BundleEvent.objects.count(),
        "items": list(Item.objects.order_by("pk").values_list("pk", "state", "slots_open")),
        "assignments": dict(Assignment.objects.values_list("pk", "status")),
        "stats": list(WorkerBundleStats.objects.order_by("pk").values()),
        "profiles": list(WorkerProfile.objects.order_by("pk").values("approved_count")),
        "payouts": Payout.objects.count(),
    }


def fail_after(monkeypatch, target: str) -> None:
    """Replace `module.function` by one that does the real write, then raises."""
    module_path, name = target.rsplit(".", 1)
    module = __import__(module_path, fromlist=[name])
    real = getattr(module, name)

    def then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise Injected(target)

    monkeypatch.setattr(module, name, then_fail)


@pytest.mark.parametrize(
    "target",
    [
        "payments.services.escrow_reserve",  # the first write: escrow
        "tasks.services.bundle_transition",  # the status change and its event
    ],
)
def test_publish(monkeypatch, target):
    bundle = BundleFactory(gold_rate=0.2)
    for _ in range(3):
        ItemFactory(bundle=bundle)
    ItemFactory(bundle=bundle, gold="pos")
    fund(bundle.requester)
    before = snapshot()
    fail_after(monkeypatch, target)
    with pytest.raises(Injected):
        services.bundle_publish(bundle=bundle, by=bundle.requester)
    assert snapshot() == before
    assert_ledger_balanced()
    monkeypatch.undo()
    services.bundle_publish(bundle=Bundle.objects.get(pk=bundle.pk), by=bundle.requester)
    assert Bundle.objects.get(pk=bundle.pk).status == "published"
    assert_ledger_balanced()


@pytest.mark.parametrize(
    "target",
    [
        "tasks.review.assignment_transition",  # the first write: the assignment's status
        "payments.services.assignment_pay",  # the worker's money
        "tasks.review.worker_record_review",  # the last write but the completion check
    ],
)
def test_approve(monkeypatch, target):
    from tasks import review

    bundle = BundleFactory(min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle)
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    claim = work.assignment_claim(bundle=bundle, worker=worker)
    work.submission_record(assignment_id=claim.pk, worker=worker, answer="pos")
    before = snapshot()
    fail_after(monkeypatch, target)
    with pytest.raises(Injected):
        review.assignment_approve(assignment_id=claim.pk, by=bundle.requester)
    assert snapshot() == before
    assert_ledger_balanced()
    monkeypatch.undo()
    review.assignment_approve(assignment_id=claim.pk, by=bundle.requester)
    assert Assignment.objects.get(pk=claim.pk).status == "approved"
    assert_ledger_balanced()


@pytest.mark.parametrize(
    "target",
    [
        "payments.payouts.request.open_batch",  # the first write: the manual batch row
        "payments.payouts.request.post_entry",  # the reserve entry, after the Payout row
    ],
)
def test_payout(monkeypatch, settings, target):
    settings.STRIPE_SECRET_KEY = ""
    settings.PAYOUT_MINIMUM_MINOR = 500
    worker = earning_worker(900)
    before = snapshot()
    fail_after(monkeypatch, target)
    with pytest.raises(Injected):
        payouts.payout_request(worker=worker, request_key="fault-1")
    assert snapshot() == before
    assert_ledger_balanced()
    monkeypatch.undo()
    payout = payouts.payout_request(worker=worker, request_key="fault-1")
    assert payout.amount_minor == 900 and Payout.objects.count() == 1
    assert_ledger_balanced()

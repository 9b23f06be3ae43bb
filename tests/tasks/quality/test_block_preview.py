"""Issue 15, bug 2: a block silently reopened items and reserved money. `worker_block_preview`
says what a block will do; these tests hold it to what the block then does."""

from __future__ import annotations

import pytest

from payments import services as payments
from tasks import review, services, work
from tasks.models import Item, ItemState
from tasks.quality import blocking
from tasks.quality.block_preview import worker_block_preview
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, fund, publish

pytestmark = pytest.mark.django_db


def _worked(requester, *, reject_blocked_work: bool):
    bundle = BundleFactory(
        requester=requester, min_overlap=1, max_overlap=1, reject_blocked_work=reject_blocked_work
    )
    for n in range(4):
        ItemFactory(bundle=bundle, payload={"text": f"item {n}"})
    bundle = publish(bundle)
    worker = WorkerFactory()
    done = []
    for _ in range(3):
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
        done.append(claimed.pk)
    review.assignments_review(requester=requester, assignment_ids=done[:2], approve=True)
    work.assignment_claim(bundle=bundle, worker=worker)  # a live claim on the fourth item
    return bundle, worker


def _open_items(bundle) -> set[int]:
    return set(
        Item.objects.filter(bundle=bundle, state=ItemState.OPEN).values_list("pk", flat=True)
    )


@pytest.mark.parametrize("reject_blocked_work", [False, True])
def test_the_preview_says_what_the_block_then_does(requester, reject_blocked_work):
    bundle, worker = _worked(requester, reject_blocked_work=reject_blocked_work)
    fund(requester, amount_minor=10_000)
    preview = worker_block_preview(worker_id=worker.pk, bundle=bundle)
    assert preview.live_claims == 1
    assert preview.items_redecided == 3
    assert preview.answers_rejected == (1 if reject_blocked_work else 0)
    assert preview.replacements == (2 if reject_blocked_work else 3)
    assert preview.funded

    open_before = _open_items(bundle)
    available_before = payments.requester_available(requester_id=requester.pk, currency="usd")
    blocking.worker_block(worker_id=worker.pk, bundle_id=bundle.pk, reason="spam", by=requester)
    available_after = payments.requester_available(requester_id=requester.pk, currency="usd")

    assert available_before - available_after == preview.reserve_minor
    reopened = _open_items(bundle) - open_before - {_claimed_item(bundle, worker)}
    assert len(reopened) == preview.items_reopened == 3


def _claimed_item(bundle, worker) -> int:
    from tasks.models import Assignment, AssignmentStatus

    return (
        Assignment.objects.filter(bundle=bundle, worker=worker, status=AssignmentStatus.EXPIRED)
        .values_list("item_id", flat=True)
        .get()
    )


def test_without_the_money_the_preview_says_nothing_is_bought(requester):
    bundle, worker = _worked(requester, reject_blocked_work=False)
    payments_available = payments.requester_available(requester_id=requester.pk, currency="usd")
    preview = worker_block_preview(worker_id=worker.pk, bundle=bundle)
    if payments_available >= 3 * 6:
        pytest.skip("the factory funded enough for the replacements")
    assert not preview.funded
    assert preview.reserve_minor == 0 and preview.items_reopened == 0


def test_the_api_dry_run_answers_the_preview_and_blocks_nothing(requester):
    from tasks.selectors import worker_public_id
    from tests.conftest import client_for

    bundle, worker = _worked(requester, reject_blocked_work=False)
    fund(requester, amount_minor=10_000)
    public = worker_public_id(requester.pk, worker.pk)
    api = client_for(requester)
    url = f"/api/v1/bundles/{bundle.pk}/workers/"
    response = api.post(url, {"worker_id": public, "reason": "spam", "dry_run": True})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["worker_id"] == public
    assert (body["items_reopened"], body["replacements"], body["funded"]) == (3, 3, True)
    assert body["reserve_minor"] > 0
    assert not bundle.worker_stats.get(worker=worker).blocked
    assert api.post(url, {"worker_id": public, "reason": "spam"}).json()["blocked"] is True

"""Review: approve, reject with a reason, in bulk, and auto-approval after the delay."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from marketplace.errors import DomainError
from payments import services as payments
from tasks import review, services
from tasks import work as tasks_work
from tasks.models import Assignment, AssignmentStatus, BundleStatus, Item, ItemState
from tasks.tasks import auto_approve_task, expire_claims_task
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, publish
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


def submitted(bundle, worker, answer="pos"):
    assignment = tasks_work.assignment_claim(bundle=bundle, worker=worker)
    return services.assignment_submit(assignment_id=assignment.pk, worker=worker, answer=answer)


@pytest.fixture
def single(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle)
    ItemFactory(bundle=bundle)
    return publish(bundle)


def test_reject_needs_a_reason_the_worker_then_sees_and_requeues_the_item(single, workers):
    work = submitted(single, workers[0])
    req = client_for(single.requester)
    no_reason = req.post(f"/api/v1/assignments/{work.pk}/reject/", {"reason": ""}, format="json")
    assert no_reason.status_code == 400
    rejected = req.post(
        f"/api/v1/assignments/{work.pk}/reject/",
        {"reason": "Answer ignores sarcasm"},
        format="json",
    )
    assert rejected.status_code == 200
    mine = client_for(workers[0]).get(f"/api/v1/work/assignments/{work.pk}/").json()
    assert (mine["status"], mine["reject_reason"]) == ("rejected", "Answer ignores sarcasm")
    item = Item.objects.get(pk=work.item_id)
    assert (item.state, item.slots_open, item.judgments_submitted) == (ItemState.OPEN, 1, 0)
    # someone else can now give the missing judgment
    assert tasks_work.assignment_claim(bundle=single, worker=workers[1]).item_id in {
        work.item_id,
        *single.items.values_list("id", flat=True),
    }
    profile = workers[0].worker_profile
    profile.refresh_from_db()
    assert (profile.rejected_count, profile.approval_rate) == (1, 0)


def test_approval_feeds_the_system_qualifications(single, workers):
    work = submitted(single, workers[0])
    review.assignment_approve(assignment_id=work.pk, by=single.requester)
    profile = workers[0].worker_profile
    profile.refresh_from_db()
    assert (profile.approved_count, profile.approval_rate) == (1, 100)
    assert workers[0].bundle_stats.get(bundle=single).approved == 1


def test_bulk_review_reports_each_failure_without_undoing_the_rest(single, workers):
    a = submitted(single, workers[0])
    b = submitted(single, workers[1])
    other = submitted(_other_bundle(), workers[2])
    response = client_for(single.requester).post(
        "/api/v1/assignments/review/", {"ids": [a.pk, b.pk, other.pk, 999999], "action": "approve"},
        format="json",
    )  # fmt: skip
    body = response.json()
    assert body["done"] == [a.pk, b.pk]
    assert body["errors"][str(other.pk)]["code"] == "assignment_not_found"
    assert body["errors"]["999999"]["code"] == "assignment_not_found"
    assert Assignment.objects.get(pk=other.pk).status == AssignmentStatus.SUBMITTED


def _other_bundle():
    bundle = BundleFactory(min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle)
    return publish(bundle)


def test_bundle_completes_when_every_item_is_complete_and_review_goes_on_after(single, workers):
    """Issue 13, item 6 (a deliberate change: this test used to say a bundle completes only once
    its answers are reviewed). A bundle whose items are all complete is `completed`; its escrow
    keeps exactly what the answers awaiting review may cost, and reviews pay from it after."""
    first = with_commit(single, workers[0])
    single.refresh_from_db()
    assert single.status == BundleStatus.PUBLISHED  # one item still open
    second = with_commit(single, workers[1])
    single.refresh_from_db()
    assert single.status == BundleStatus.COMPLETED
    assert single.finished_at is not None
    cost = payments.escrow_cost_per_judgment(
        bundle_id=single.pk, currency=single.currency, reward_minor=single.reward_minor
    )
    assert payments.escrow_balance(bundle_id=single.pk, currency=single.currency) == 2 * cost
    review.assignment_approve(assignment_id=first.pk, by=single.requester)
    with TestCase.captureOnCommitCallbacks(execute=True):
        review.assignment_reject(assignment_id=second.pk, by=single.requester, reason="Off topic")
    assert payments.escrow_balance(bundle_id=single.pk, currency=single.currency) == 0
    assert Assignment.objects.get(pk=first.pk).status == AssignmentStatus.APPROVED
    assert Item.objects.get(pk=second.item_id).state == ItemState.COMPLETE  # nothing reopens
    assert_ledger_balanced()


def with_commit(bundle, worker):
    """`submitted`, committed: the live update the submission asks for runs on commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return submitted(bundle, worker)


def test_auto_approval_after_the_delay_only(single, workers):
    work = submitted(single, workers[0])
    assert auto_approve_task.delay().get() == 0
    Assignment.objects.filter(pk=work.pk).update(
        submitted_at=timezone.now() - timedelta(seconds=single.auto_approve_after_seconds + 1)
    )
    assert auto_approve_task.delay().get() == 1
    approved = Assignment.objects.get(pk=work.pk)
    assert approved.status == AssignmentStatus.APPROVED and approved.auto_approved
    assert review.assignments_auto_approve() == 0  # idempotent


def test_expire_claims_task_and_command(single, workers):
    held = tasks_work.assignment_claim(bundle=single, worker=workers[0])
    Assignment.objects.filter(pk=held.pk).update(deadline=timezone.now() - timedelta(seconds=5))
    assert expire_claims_task.delay().get() == 1
    assert Assignment.objects.get(pk=held.pk).status == AssignmentStatus.EXPIRED
    call_command("expire_claims")  # nothing left: still fine


def test_expired_bundles_close(single):
    services.bundle_update(
        bundle=single, by=single.requester,
        data={"expires_at": timezone.now() - timedelta(minutes=1)},
    )  # fmt: skip
    assert services.bundles_expire_due() == 1
    single.refresh_from_db()
    assert single.status == BundleStatus.EXPIRED


def test_a_worker_cannot_review_and_a_requester_cannot_review_others(single, workers):
    work = submitted(single, workers[0])
    assert client_for(workers[1]).post(f"/api/v1/assignments/{work.pk}/approve/").status_code == 403
    stranger = BundleFactory().requester
    response = client_for(stranger).post(f"/api/v1/assignments/{work.pk}/approve/")
    assert response.status_code == 404
    with pytest.raises(DomainError):
        review.assignment_approve(assignment_id=work.pk, by=stranger, requester=stranger)
    assert Assignment.objects.get(pk=work.pk).status == AssignmentStatus.SUBMITTED


def test_requester_blocks_and_unblocks_a_worker_by_pseudonym(single, workers):
    from tasks.selectors import worker_public_id

    submitted(single, workers[0])
    req = client_for(single.requester)
    alias = worker_public_id(single.requester_id, workers[0].pk)
    blocked = req.post(
        f"/api/v1/bundles/{single.pk}/workers/", {"worker_id": alias, "reason": "copy-paste"}
    )
    assert blocked.status_code == 200
    assert (blocked.json()["blocked"], blocked.json()["blocked_reason"]) == (True, "copy-paste")
    refused = client_for(workers[0]).post(f"/api/v1/work/bundles/{single.pk}/claim/")
    assert (refused.status_code, refused.json()["code"]) == (403, "blocked")
    unknown = req.post(f"/api/v1/bundles/{single.pk}/workers/", {"worker_id": "w_nobody"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_worker")
    assert (
        req.post(f"/api/v1/bundles/{single.pk}/workers/", {"worker_id": alias}).json()["blocked"]
        is False
    )

"""Issue 15, blocks: per bundle, across a requester's bundles (their block list, bundles
published later included) and platform bans; each with a reason, reversible, kept as a
history row, seen by the worker and appealable. Workers and requesters see only their own."""

from __future__ import annotations

import pytest

from accounts.models import WorkerStatus
from marketplace.errors import Forbidden
from tasks import work as tasks_work
from tasks.fairness import appeals, blocks
from tasks.models import Appeal, AppealStatus, BlockScope, WorkerBlock, WorkerBundleStats
from tasks.selectors import worker_public_id
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, UserFactory, publish

from .helpers import answer

pytestmark = pytest.mark.django_db


def live(requester, items=3):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for _ in range(items):
        ItemFactory(bundle=bundle)
    return publish(bundle)


def blocked_in(worker, bundle) -> bool:
    stats = WorkerBundleStats.objects.filter(worker=worker, bundle=bundle).first()
    return bool(stats and stats.blocked)


def cannot_claim(worker, bundle) -> bool:
    try:
        tasks_work.assignment_claim(bundle=bundle, worker=worker)
    except Forbidden:
        return True
    return False


@pytest.fixture
def worked(requester, workers):
    first, second = live(requester), live(requester)
    answer(first, workers[0])
    return first, second


def test_a_bundle_block_covers_one_bundle_and_is_lifted_with_its_history(
    worked, workers, requester
):
    first, second = worked
    pseudonym = worker_public_id(requester.pk, workers[0].pk)
    made = client_for(requester).post(
        "/api/v1/blocks/",
        {"worker_id": pseudonym, "scope": "bundle", "bundle_id": first.pk, "reason": "Spam"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert blocked_in(workers[0], first) and not blocked_in(workers[0], second)
    assert cannot_claim(workers[0], first)
    seen = client_for(workers[0]).get("/api/v1/blocks/").json()["results"]
    assert [(b["scope"], b["reason"], b["lifted_at"]) for b in seen] == [("bundle", "Spam", None)]
    lifted = client_for(requester).post(
        f"/api/v1/blocks/{made.json()['id']}/lift/", {"reason": "My mistake"}, format="json"
    )
    assert lifted.status_code == 200
    assert not blocked_in(workers[0], first)
    block = WorkerBlock.objects.get()
    assert (block.lift_reason, block.lifted_by_id) == ("My mistake", requester.pk)
    assert block.lifted_at is not None  # the row stays: the history
    again = client_for(requester).post(f"/api/v1/blocks/{block.pk}/lift/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_lifted")


def test_the_requester_block_list_covers_every_bundle_and_later_ones(worked, workers, requester):
    first, second = worked
    someone_elses = live(RequesterFactory())
    block = blocks.block_across_requester(
        requester=requester, worker=workers[0], reason="Copies answers"
    )
    assert block.scope == BlockScope.REQUESTER
    assert blocked_in(workers[0], first) and blocked_in(workers[0], second)
    assert not blocked_in(workers[0], someone_elses)
    later = live(requester)  # published after the block: on the list too
    assert blocked_in(workers[0], later) and cannot_claim(workers[0], later)
    stats = WorkerBundleStats.objects.get(worker=workers[0], bundle=later)
    assert "Copies answers" in stats.blocked_reason
    blocks.block_lift(block_id=block.pk, by=requester, reason="Appeal heard")
    for bundle in (first, second, later):
        assert not blocked_in(workers[0], bundle)
    assert not cannot_claim(workers[0], second)


def test_a_platform_ban_is_an_admins_and_reversible(worked, workers, requester):
    first, _second = worked
    admin = UserFactory(is_staff=True)
    ban = blocks.platform_ban(admin=admin, worker=workers[0], reason="Fraud ring")
    workers[0].worker_profile.refresh_from_db()
    assert workers[0].worker_profile.status == WorkerStatus.BANNED
    assert cannot_claim(workers[0], first)
    with pytest.raises(blocks.BlockNotFound):  # a requester cannot lift an admin's ban
        blocks.block_lift(block_id=ban.pk, by=requester, reason="")
    blocks.block_lift(block_id=ban.pk, by=admin, reason="Cleared")
    workers[0].worker_profile.refresh_from_db()
    assert workers[0].worker_profile.status == WorkerStatus.ACTIVE
    assert WorkerBlock.objects.filter(worker=workers[0], lifted_at__isnull=False).count() == 1


def test_a_block_is_appealed_and_lifted_by_overturning(worked, workers, requester):
    first, _second = worked
    block = blocks.block_in_bundle(
        requester=requester, bundle_id=first.pk, worker=workers[0], reason="Too fast"
    )
    made = client_for(workers[0]).post(
        "/api/v1/appeals/", {"block_id": block.pk, "message": "I am a fast reader."}, format="json"
    )
    assert made.status_code == 201, made.content
    twice = client_for(workers[0]).post(
        "/api/v1/appeals/", {"block_id": block.pk, "message": "Again"}, format="json"
    )
    assert twice.status_code == 409
    appeals.appeal_answer(appeal_id=made.json()["id"], by=requester, overturn=True)
    assert Appeal.objects.get().status == AppealStatus.OVERTURNED
    assert not blocked_in(workers[0], first)
    block.refresh_from_db()
    assert block.lifted_at is not None


def test_blocks_are_scoped_to_their_owners(worked, workers, requester):
    first, _second = worked
    block = blocks.block_in_bundle(
        requester=requester, bundle_id=first.pk, worker=workers[0], reason="Spam"
    )
    other = RequesterFactory()
    assert client_for(other).get("/api/v1/blocks/").json()["results"] == []
    assert client_for(other).get(f"/api/v1/blocks/{block.pk}/").status_code == 404
    lift = client_for(other).post(f"/api/v1/blocks/{block.pk}/lift/", {}, format="json")
    assert lift.status_code == 404
    assert client_for(workers[1]).get(f"/api/v1/blocks/{block.pk}/").status_code == 404
    # Another requester cannot block a worker who never worked for them, nor in my bundle.
    stranger = client_for(other).post(
        "/api/v1/blocks/",
        {"worker_id": worker_public_id(other.pk, workers[0].pk), "scope": "requester",
         "reason": "x"},
        format="json",
    )  # fmt: skip
    assert stranger.status_code == 404
    appeal = client_for(workers[1]).post(
        "/api/v1/appeals/", {"block_id": block.pk, "message": "Not mine"}, format="json"
    )
    assert appeal.status_code == 404


def test_every_way_of_blocking_in_a_bundle_keeps_a_history_row(worked, workers, requester):
    """The bundle page's block/unblock route (and the quality rules, which call the same
    `worker_block` with no one as its author) write and close the same history rows."""
    first, _second = worked
    url = f"/api/v1/bundles/{first.pk}/workers/"
    pseudonym = worker_public_id(requester.pk, workers[0].pk)
    client_for(requester).post(url, {"worker_id": pseudonym, "reason": "Off-task"}, format="json")
    row = WorkerBlock.objects.get()
    assert (row.scope, row.bundle_id, row.reason, row.created_by_id) == (
        "bundle", first.pk, "Off-task", requester.pk,
    )  # fmt: skip
    client_for(requester).post(url, {"worker_id": pseudonym, "reason": ""}, format="json")
    row.refresh_from_db()
    assert row.lifted_at is not None and row.lifted_by_id == requester.pk
    from tasks.quality.blocking import worker_block

    worker_block(worker_id=workers[0].pk, bundle_id=first.pk, reason="gold accuracy 0.2", by=None)
    ruled = WorkerBlock.objects.get(lifted_at__isnull=True)
    assert ruled.created_by_id is None  # the bundle's quality rules
    seen = client_for(workers[0]).get("/api/v1/blocks/").json()["results"]
    assert [b["reason"] for b in seen] == ["gold accuracy 0.2", "Off-task"]
    appealed = client_for(workers[0]).post(
        "/api/v1/appeals/", {"block_id": ruled.pk, "message": "My gold was mislabelled."},
        format="json",
    )  # fmt: skip
    assert appealed.status_code == 201

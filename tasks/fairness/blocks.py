"""Blocks in three scopes, each with a reason, reversible, and kept as a history row.

* bundle: the requester (or the bundle's quality rules) blocks a worker in one bundle
  (`tasks.quality.blocking.worker_block` does what a block means and writes its row);
* requester: the requester's block list, every live bundle of theirs now and each one they
  publish later (`tasks.block_list`);
* platform: an admin's ban (the worker profile's status, which the claim path checks).

Every block is a `WorkerBlock` row; lifting it fills in who, when and why on the same row.
The worker sees their blocks (`worker_blocks`) and can appeal them (`tasks.fairness.appeals`).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User, WorkerProfile, WorkerStatus
from marketplace.errors import Conflict, DomainError, NotFound
from tasks import selectors
from tasks.block_list import requester_block_reason
from tasks.models import (
    BlockScope,
    Bundle,
    BundleStatus,
    WorkerBlock,
    WorkerBundleStats,
)
from tasks.quality.blocking import worker_block, worker_unblock

LIVE = (BundleStatus.PUBLISHED, BundleStatus.PAUSED)


class BlockNotFound(NotFound):
    code = "block_not_found"


def _reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise DomainError("A reason is required to block a worker.", code="reason_required")
    if len(reason) > 2000:
        raise DomainError("The reason is at most 2000 characters.", code="invalid_reason")
    return reason.strip()


def requester_worker(requester: User, public_id: str) -> User:
    """The worker a requester names by pseudonym: only one who worked for them (else 404)."""
    worker_id = selectors.requester_worker_from_public_id(requester.pk, public_id or "")
    worker = User.objects.filter(pk=worker_id).first() if worker_id is not None else None
    if worker is None:
        raise NotFound("No such worker.", code="worker_not_found")
    return worker


@transaction.atomic
def block_in_bundle(*, requester: User, bundle_id: int, worker: User, reason: str) -> WorkerBlock:
    """Block a worker in one of the requester's bundles, with all a block does."""
    reason = _reason(reason)
    bundle = Bundle.objects.filter(pk=bundle_id, requester=requester).first()
    if bundle is None:
        raise NotFound("No such bundle.", code="bundle_not_found")
    if WorkerBundleStats.objects.filter(worker=worker, bundle=bundle, blocked=True).exists():
        raise Conflict("This worker is blocked here already.", code="already_blocked")
    worker_block(worker_id=worker.pk, bundle_id=bundle.pk, reason=reason, by=requester)
    return WorkerBlock.objects.get(
        worker=worker, bundle=bundle, scope=BlockScope.BUNDLE, lifted_at__isnull=True
    )


@transaction.atomic
def block_across_requester(*, requester: User, worker: User, reason: str) -> WorkerBlock:
    """Put a worker on the requester's block list: blocked in every live bundle of theirs
    now (each with what a block does), and flagged in every bundle they publish later."""
    reason = _reason(reason)
    if WorkerBlock.objects.filter(
        worker=worker, requester=requester, scope=BlockScope.REQUESTER, lifted_at__isnull=True
    ).exists():
        raise Conflict("This worker is on your block list already.", code="already_blocked")
    shown = requester_block_reason(reason)
    live = Bundle.objects.filter(requester=requester, status__in=LIVE).order_by("pk")
    for bundle_id in list(live.values_list("pk", flat=True)):  # bundle locks in id order
        if not WorkerBundleStats.objects.filter(
            worker=worker, bundle_id=bundle_id, blocked=True
        ).exists():
            worker_block(
                worker_id=worker.pk, bundle_id=bundle_id, reason=shown, by=requester,
                history=False,  # this block's row is the requester-wide one below
            )  # fmt: skip
    return WorkerBlock.objects.create(
        worker=worker, scope=BlockScope.REQUESTER, requester=requester, reason=reason,
        created_by=requester,
    )  # fmt: skip


@transaction.atomic
def platform_ban(*, admin: User, worker: User, reason: str) -> WorkerBlock:
    """An admin's ban: the worker can claim nothing anywhere until it is lifted."""
    reason = _reason(reason)
    if not admin.is_staff:
        raise NotFound("No such worker.", code="worker_not_found")
    profile = WorkerProfile.objects.select_for_update().filter(user=worker).first()
    if profile is None:
        raise NotFound("No such worker.", code="worker_not_found")
    if WorkerBlock.objects.filter(
        worker=worker, scope=BlockScope.PLATFORM, lifted_at__isnull=True
    ).exists():
        raise Conflict("This worker is banned already.", code="already_blocked")
    WorkerProfile.objects.filter(pk=profile.pk).update(
        status=WorkerStatus.BANNED, status_reason=reason, status_changed_at=timezone.now()
    )
    return WorkerBlock.objects.create(
        worker=worker, scope=BlockScope.PLATFORM, reason=reason, created_by=admin
    )


def _scoped_block(block_id: int, by: User) -> WorkerBlock:
    """The block `by` may lift: their own (a requester's), any for staff."""
    blocks = WorkerBlock.objects.select_for_update()
    if not by.is_staff:
        blocks = blocks.filter(requester=by).exclude(scope=BlockScope.PLATFORM)
    block = blocks.filter(pk=block_id).first()
    if block is None:
        raise BlockNotFound("No such block.")
    return block


@transaction.atomic
def block_lift(*, block_id: int, by: User | None, reason: str) -> WorkerBlock:
    """Reverse a block (its requester, or staff; `by` None is the system, after an appeal the
    requester did not answer). The row stays, with who lifted it, when and why."""
    if by is not None:
        block = _scoped_block(block_id, by)
    else:
        block = WorkerBlock.objects.select_for_update().get(pk=block_id)
    if block.lifted_at is not None:
        raise Conflict("This block was lifted already.", code="already_lifted")
    reason = (reason or "").strip() or "lifted"
    if block.scope == BlockScope.BUNDLE and block.bundle_id is not None:
        worker_unblock(worker_id=block.worker_id, bundle_id=block.bundle_id, by=by)
    elif block.scope == BlockScope.REQUESTER:
        shown = requester_block_reason(block.reason)
        flagged = WorkerBundleStats.objects.filter(
            worker_id=block.worker_id, bundle__requester_id=block.requester_id,
            blocked=True, blocked_reason=shown,
        ).order_by("bundle_id")  # fmt: skip
        for bundle_id in list(flagged.values_list("bundle_id", flat=True)):
            worker_unblock(worker_id=block.worker_id, bundle_id=bundle_id, by=by)
    else:
        WorkerProfile.objects.filter(user_id=block.worker_id).update(
            status=WorkerStatus.ACTIVE, status_reason="", status_changed_at=timezone.now()
        )
    WorkerBlock.objects.filter(pk=block.pk).update(
        lifted_at=timezone.now(), lifted_by=by, lift_reason=reason[:2000]
    )
    block.refresh_from_db()
    return block


def worker_blocks(worker: User) -> list[WorkerBlock]:
    """Every block of the worker, active first then newest, for their own page and API."""
    rows = WorkerBlock.objects.filter(worker=worker).select_related("bundle")
    return sorted(rows, key=lambda b: (b.lifted_at is not None, -b.created_at.timestamp()))

"""Review of submitted work: the requester approves (the worker is paid) or rejects (with a
reason the worker sees, and the item asks for another judgment), in bulk or one by one; work
nobody reviewed is approved after the bundle's delay.

Each review is one transaction with its state change, its money and its counters, taking its
locks in the one order of `tasks.locking` (the bundle, then the assignment, then the ledger);
settling the bundle's escrow follows on commit. The quality engine rejects a blocked worker's
unreviewed work through `assignment_reject` here, so this module sits below both the service
layer and quality and imports neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.services import worker_record_review
from marketplace.errors import Conflict, DomainError, InvalidTransition
from payments import services as payments

from .closed_slots import closed_slot_release
from .escrow import escrow_settle
from .lifecycle import aggregate_after_commit, bundle_complete_if_done
from .locking import lock_assignment_after_bundle, lock_item
from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemState,
    WorkerBundleStats,
)
from .states import assignment_transition, give_gold_slot_back, stats_add

logger = logging.getLogger(__name__)


@transaction.atomic
def assignment_approve(
    *, assignment_id: int, by: User | None, auto: bool = False, requester: User | None = None
) -> Assignment:
    """Accept submitted work (the payments layer pays the worker in this transaction)."""
    scope = {"bundle__requester": requester} if requester is not None else {}
    assignment = lock_assignment_after_bundle(assignment_id, **scope)
    assignment_transition(
        assignment,
        AssignmentStatus.APPROVED,
        reviewed_at=timezone.now(),
        reviewed_by=by,
        auto_approved=auto,
    )
    bundle = assignment.bundle
    if bundle.reward_minor > 0:  # an unpaid exam approves without money
        payments.assignment_pay(
            requester_id=bundle.requester_id,
            bundle_id=bundle.pk,
            worker_id=assignment.worker_id,
            currency=bundle.currency,
            reward_minor=bundle.reward_minor,
            assignment_id=assignment.pk,
        )
    stats_add(assignment.worker_id, assignment.bundle_id, approved=1)
    worker_record_review(worker_id=assignment.worker_id, approved=1)
    bundle_complete_if_done(bundle_id=assignment.bundle_id)
    _settle_after_commit(assignment.bundle_id)
    return assignment


@transaction.atomic
def assignment_reject(
    *, assignment_id: int, by: User | None, reason: str, requester: User | None = None
) -> Assignment:
    """Refuse submitted work with a reason the worker sees; nothing is paid and, while the
    bundle is live, the item asks for another judgment."""
    if not reason or not reason.strip():
        raise DomainError("A reason is required to reject work.", code="reason_required")
    scope = {"bundle__requester": requester} if requester is not None else {}
    assignment = lock_assignment_after_bundle(assignment_id, **scope)
    assignment_transition(
        assignment,
        AssignmentStatus.REJECTED,
        reviewed_at=timezone.now(),
        reviewed_by=by,
        reject_reason=reason.strip(),
    )
    stats_add(assignment.worker_id, assignment.bundle_id, rejected=1)
    worker_record_review(worker_id=assignment.worker_id, rejected=1)
    bundle = assignment.bundle
    if bundle.status in (BundleStatus.PUBLISHED, BundleStatus.PAUSED):
        if assignment.is_gold:
            give_gold_slot_back(bundle.pk)
        elif _closed_before_done(bundle, assignment.item_id):
            # An expired MTurk HIT takes no new worker: the answer stops counting and the
            # slot's escrow goes back at once (its open-ended bundle never settles by itself).
            Item.objects.filter(pk=assignment.item_id).update(
                judgments_submitted=F("judgments_submitted") - 1
            )
            closed_slot_release(assignment_id=assignment.pk, bundle_id=bundle.pk)
        else:
            Item.objects.filter(pk=assignment.item_id).update(
                judgments_submitted=F("judgments_submitted") - 1,
                slots_open=F("slots_open") + 1,
                state=ItemState.OPEN,
            )
    elif not assignment.is_gold:
        # A finished bundle reopens nothing; its labels are re-aggregated without the answer.
        aggregate_after_commit(bundle.pk)
    bundle_complete_if_done(bundle_id=assignment.bundle_id)
    _settle_after_commit(assignment.bundle_id)
    return assignment


def _closed_before_done(bundle: Bundle, item_id: int) -> bool:
    """An open-ended bundle's item complete with fewer judgments than it takes: closed (an
    MTurk HIT that expired), not finished, so a rejection there reopens nothing."""
    if not bundle.open_ended:
        return False
    return Item.objects.filter(
        pk=item_id, state=ItemState.COMPLETE, judgments_submitted__lt=bundle.max_overlap
    ).exists()


@transaction.atomic
def assignment_overturn(
    *, assignment_id: int, by: User | None, requester: User | None = None
) -> Assignment:
    """Reverse a rejection: the work becomes approved and is paid, exactly once. The one way
    out of `rejected` (a review's rejection is final otherwise), shared by an appeal upheld for
    the worker or left unanswered, a quality rule's reversal and MTurk's `OverrideRejection`.

    The rejection gave the item its slot back. If nobody has taken that slot yet, the answer
    takes it again and its escrow pays, as an approval would. Otherwise that escrow went to the
    replacement judgment, and the answer is paid from the requester's balance, whatever it
    lacks becoming their debt (`payments.overturned_assignment_pay`): the worker is owed either
    way. Both paths pay under the approval's key `assignment-<id>-pay`, and the state change is
    conditional, so a retry or a second overturn pays nothing more. `requester`, when given,
    scopes the lookup to their bundles."""
    scope = {"bundle__requester": requester} if requester is not None else {}
    assignment = lock_assignment_after_bundle(assignment_id, **scope)
    if assignment.status != AssignmentStatus.REJECTED:
        raise InvalidTransition(
            f"Only rejected work can be overturned (this is {assignment.status})."
        )
    bundle = assignment.bundle
    item = lock_item(assignment.item_id)
    live = bundle.status in (BundleStatus.PUBLISHED, BundleStatus.PAUSED)
    takes_slot_back = (
        live and not assignment.is_gold and item.slots_open > 0 and item.state != ItemState.COMPLETE
    )
    if takes_slot_back:
        counted = item.judgments_submitted + 1
        slots = item.slots_open - 1
        state = (
            ItemState.COMPLETE
            if counted >= bundle.max_overlap
            else (ItemState.OPEN if slots else ItemState.FULL)
        )
        Item.objects.filter(pk=item.pk).update(
            judgments_submitted=counted, slots_open=0 if state == ItemState.COMPLETE else slots,
            state=state,
        )  # fmt: skip
    updated = Assignment.objects.filter(pk=assignment.pk, status=AssignmentStatus.REJECTED).update(
        status=AssignmentStatus.APPROVED, reviewed_at=timezone.now(), reviewed_by=by,
        reject_reason="",
    )  # fmt: skip
    if updated != 1:
        raise Conflict("The assignment changed meanwhile; reload it.")
    pay = payments.assignment_pay if takes_slot_back else payments.overturned_assignment_pay
    pay(
        requester_id=bundle.requester_id, bundle_id=bundle.pk, worker_id=assignment.worker_id,
        currency=bundle.currency, reward_minor=bundle.reward_minor, assignment_id=assignment.pk,
    )  # fmt: skip
    # The row exists (the rejection counted there): a plain update, no upsert with a -1 row.
    WorkerBundleStats.objects.filter(
        worker_id=assignment.worker_id, bundle_id=bundle.pk, rejected__gt=0
    ).update(approved=F("approved") + 1, rejected=F("rejected") - 1)
    worker_record_review(worker_id=assignment.worker_id, approved=1, rejected=-1)
    bundle_complete_if_done(bundle_id=bundle.pk)
    _settle_after_commit(bundle.pk)
    assignment.refresh_from_db()
    return assignment


@dataclass
class ReviewSummary:
    """What a bulk review did: the ids reviewed, and for each one refused its error."""

    done: list[int]
    errors: dict[int, dict[str, str]]


def assignments_review(
    *, requester: User, assignment_ids: list[int], approve: bool, reason: str = ""
) -> ReviewSummary:
    """Bulk review: each assignment in its own transaction, so one stale id does not undo
    the rest; the summary says which failed and why."""
    if not approve and not reason.strip():
        raise DomainError("A reason is required to reject work.", code="reason_required")
    summary = ReviewSummary(done=[], errors={})
    for assignment_id in sorted(set(assignment_ids)):  # fixed order: no lock-order deadlocks
        try:
            if approve:
                assignment_approve(assignment_id=assignment_id, by=requester, requester=requester)
            else:
                assignment_reject(
                    assignment_id=assignment_id, by=requester, reason=reason, requester=requester
                )
        except DomainError as exc:
            summary.errors[assignment_id] = {"code": exc.code, "detail": exc.detail}
        else:
            summary.done.append(assignment_id)
    return summary


def assignments_auto_approve(*, now: Any = None) -> int:
    """Approve work nobody reviewed within its bundle's delay. Idempotent: each approval is a
    conditional transition, so a concurrent manual review simply wins. An approval refused for
    another reason (its escrow cannot pay it: a bug the ledger check reports) is logged and the
    job goes on with the rest, instead of stopping every later bundle behind it."""
    now = now or timezone.now()
    approved = 0
    bundles = (
        Bundle.objects.filter(assignments__status=AssignmentStatus.SUBMITTED)
        .distinct()
        .values_list("id", "auto_approve_after_seconds")
    )
    for bundle_id, delay in bundles:
        cutoff = now - timedelta(seconds=delay)
        due = Assignment.objects.filter(
            bundle_id=bundle_id, status=AssignmentStatus.SUBMITTED, submitted_at__lte=cutoff
        ).values_list("id", flat=True)
        for assignment_id in list(due):
            try:
                assignment_approve(assignment_id=assignment_id, by=None, auto=True)
            except (InvalidTransition, Conflict):
                continue
            except DomainError:
                logger.exception("auto-approval of assignment %s refused", assignment_id)
                continue
            approved += 1
    return approved


def _settle_after_commit(bundle_id: int) -> None:
    """Settle in its own transaction once a review is committed: an approval's payment locks
    (escrow, worker) and the release (escrow, requester); a second batch of ledger locks in one
    transaction breaks the lock order (`tasks.locking`) and could deadlock with a concurrent
    bonus. A settle that fails is retried by the `settle_finished_bundles_task` sweep; the
    review stands either way."""

    def settle() -> None:
        try:
            escrow_settle(bundle_id=bundle_id)
        except Exception:
            logger.exception("escrow settle of bundle %s failed; the sweep retries it", bundle_id)

    transaction.on_commit(settle)

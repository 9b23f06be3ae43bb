"""Transition maps and the small write helpers shared by every state change of tasks.

One place decides which transitions exist; every change is a conditional UPDATE of exactly
one row, so a concurrent change loses cleanly instead of being overwritten.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from marketplace.errors import Conflict, InvalidTransition, NotFound

from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemState,
    WorkerBundleStats,
)

BUNDLE_TRANSITIONS: dict[str, set[str]] = {
    BundleStatus.DRAFT: {BundleStatus.PUBLISHED, BundleStatus.CANCELLED},
    BundleStatus.PUBLISHED: {
        BundleStatus.PAUSED,
        BundleStatus.COMPLETED,
        BundleStatus.CANCELLED,
        BundleStatus.EXPIRED,
    },
    BundleStatus.PAUSED: {
        BundleStatus.PUBLISHED,
        BundleStatus.COMPLETED,
        BundleStatus.CANCELLED,
        BundleStatus.EXPIRED,
    },
    BundleStatus.COMPLETED: set(),
    BundleStatus.CANCELLED: set(),
    BundleStatus.EXPIRED: set(),
}

ASSIGNMENT_TRANSITIONS: dict[str, set[str]] = {
    AssignmentStatus.CLAIMED: {
        AssignmentStatus.SUBMITTED,
        AssignmentStatus.RETURNED,
        AssignmentStatus.EXPIRED,
    },
    AssignmentStatus.SUBMITTED: {AssignmentStatus.APPROVED, AssignmentStatus.REJECTED},
    AssignmentStatus.APPROVED: set(),
    AssignmentStatus.REJECTED: set(),
    AssignmentStatus.RETURNED: set(),
    AssignmentStatus.EXPIRED: set(),
}


class AssignmentNotFound(NotFound):
    code = "assignment_not_found"


def check_transition(table: dict[str, set[str]], current: str, target: str, what: str) -> None:
    if target not in table[current]:
        raise InvalidTransition(f"A {what} cannot go from {current} to {target}.")


def lock_assignment(assignment_id: int, **scope: Any) -> Assignment:
    try:
        return (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("bundle", "item")
            .get(pk=assignment_id, **scope)
        )
    except Assignment.DoesNotExist as exc:
        raise AssignmentNotFound("No such assignment.") from exc


def assignment_transition(assignment: Assignment, target: str, **fields: Any) -> None:
    check_transition(ASSIGNMENT_TRANSITIONS, assignment.status, target, "assignment")
    updated = Assignment.objects.filter(pk=assignment.pk, status=assignment.status).update(
        status=target, **fields
    )
    if updated != 1:
        raise Conflict("The assignment changed meanwhile; reload it.")
    assignment.status = target
    for key, value in fields.items():
        setattr(assignment, key, value)


STATS_COUNTERS = ("submitted", "approved", "rejected", "gold_seen", "gold_correct")
STATS_CONFLICT = """
    ON CONFLICT (worker_id, bundle_id) DO UPDATE SET
           submitted = tasks_workerbundlestats.submitted + excluded.submitted,
           approved = tasks_workerbundlestats.approved + excluded.approved,
           rejected = tasks_workerbundlestats.rejected + excluded.rejected,
           gold_seen = tasks_workerbundlestats.gold_seen + excluded.gold_seen,
           gold_correct = tasks_workerbundlestats.gold_correct + excluded.gold_correct
"""
STATS_UPSERT = (
    """
    INSERT INTO tasks_workerbundlestats
           (worker_id, bundle_id, submitted, approved, rejected, gold_seen, gold_correct,
            blocked, blocked_reason)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '')"""  # noqa: S608 - constant SQL
    + STATS_CONFLICT
)


def stats_params(worker_id: int, bundle_id: int, **deltas: int) -> list[Any]:
    """Parameters of STATS_UPSERT for these counter increments."""
    unknown = set(deltas) - set(STATS_COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters {unknown}")
    return [worker_id, bundle_id, *(deltas.get(name, 0) for name in STATS_COUNTERS), False]


def stats_add(worker_id: int, bundle_id: int, **deltas: int) -> None:
    """Add to a worker's per-bundle counters in one atomic upsert (no read-modify-write)."""
    with connection.cursor() as cursor:
        cursor.execute(STATS_UPSERT, stats_params(worker_id, bundle_id, **deltas))


def stats_ensure(worker_id: int, bundle_id: int) -> WorkerBundleStats:
    try:
        with transaction.atomic():
            return WorkerBundleStats.objects.get_or_create(
                worker_id=worker_id, bundle_id=bundle_id
            )[0]
    except IntegrityError:
        return WorkerBundleStats.objects.get(worker_id=worker_id, bundle_id=bundle_id)


def give_slot_back(item_id: int) -> bool:
    """A claim ended without a judgment (returned, expired, rejected): the item needs one more.
    False when the item is complete (or closed) and takes no slot back."""
    return bool(
        Item.objects.filter(pk=item_id)
        .exclude(state=ItemState.COMPLETE)
        .update(slots_open=F("slots_open") + 1, state=ItemState.OPEN)
    )


def give_gold_slot_back(bundle_id: int) -> None:
    """A gold claim ended unpaid (returned, expired, rejected): its escrow can buy another."""
    Bundle.objects.filter(pk=bundle_id).update(gold_slots_open=F("gold_slots_open") + 1)


def release_claim_slot(*, bundle_id: int, item_id: int, is_gold: bool) -> bool:
    """Undo what a claim took: a judgment slot on its item, or one of the bundle's gold slots.
    False when the slot had nowhere to go back to (its item is complete or closed)."""
    if is_gold:
        give_gold_slot_back(bundle_id)
        return True
    return give_slot_back(item_id)

"""Claims that end without an answer: given back by the worker, or expired past their deadline.
Either way the slot goes back to the pool and nothing is paid."""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from tasks.models import Assignment, AssignmentStatus
from tasks.states import assignment_transition, lock_assignment, release_claim_slot


def claim_expire(*, assignment_id: int, bundle_id: int, item_id: int, is_gold: bool) -> int:
    """Expire one claim and put its slot back; returns 1, or 0 for a claim that meanwhile
    became something else (the status UPDATE is conditional, so it is left alone)."""
    with transaction.atomic():
        expired = Assignment.objects.filter(
            pk=assignment_id, status=AssignmentStatus.CLAIMED
        ).update(status=AssignmentStatus.EXPIRED)
        if expired:
            release_claim_slot(bundle_id=bundle_id, item_id=item_id, is_gold=is_gold)
    return expired


@transaction.atomic
def assignment_return(*, assignment_id: int, worker: User) -> Assignment:
    """The worker gives the task back; the slot goes back to the pool, nothing is paid."""
    assignment = lock_assignment(assignment_id, worker=worker)
    assignment_transition(assignment, AssignmentStatus.RETURNED)
    release_claim_slot(
        bundle_id=assignment.bundle_id, item_id=assignment.item_id, is_gold=assignment.is_gold
    )
    return assignment


def assignments_expire(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Expire claims past their deadline and put their slots back. Safe to run concurrently:
    each batch locks what it takes with SKIP LOCKED, and the status UPDATE is conditional."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            query = Assignment.objects.filter(status=AssignmentStatus.CLAIMED, deadline__lte=now)
            if connection.vendor == "postgresql":
                query = query.select_for_update(skip_locked=True)
            due = list(query.values_list("id", "bundle_id", "item_id", "is_gold")[:batch_size])
            for assignment_id, bundle_id, item_id, is_gold in due:
                total += claim_expire(
                    assignment_id=assignment_id, bundle_id=bundle_id, item_id=item_id,
                    is_gold=is_gold,
                )  # fmt: skip
        if len(due) < batch_size:
            return total

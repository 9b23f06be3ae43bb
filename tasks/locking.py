"""The one lock order of every path that changes a bundle's work and money together.

    1. the bundle row            (`lock_bundle`)
    2. the assignment row(s)     (`lock_assignment_after_bundle`, `lock_claim_for_release`)
    3. ledger accounts, ascending id   (`payments.ledger.post_entry` / `lock_accounts`, in ONE
                                         batch per transaction)

Item rows are locked (`lock_item`, the claim statements, `item_decide`) `FOR NO KEY UPDATE` on
PostgreSQL, never `FOR UPDATE`: rows that reference an item (its result, which the
whole-bundle re-estimate upserts for every item at once; a new assignment) check their foreign
key at COMMIT with a KEY SHARE lock on the item, which NO KEY UPDATE lets through. With
`FOR UPDATE` a claim or a decision holding an item could wait for the re-estimate's worker stats
or result rows while the re-estimate's COMMIT waited for that item: a deadlock.

Approve, reject, bulk review (one transaction per answer), auto-approve, cancel, expire, the
escrow settle, publish and uploads, block, and the gold claim ending all take the bundle first;
a bonus takes ledger accounts only. So no transaction holds a ledger account while waiting for a
bundle row, and none holds a claimed assignment while waiting for its bundle (cancel and expiry
end a bundle's claims while holding the bundle). Before this module, approval locked escrow
then the bundle while cancel and expiry locked the bundle then escrow: they deadlocked.

A transaction takes ledger locks once: a second `post_entry` on other accounts after the first
could wait for a lower id while holding a higher one. That is why an approval (escrow, worker)
settles the bundle's escrow (escrow, requester) in a transaction of its own, after commit.

On PostgreSQL the bundle is locked `FOR NO KEY UPDATE`: it excludes every other locker and
writer of the row, yet lets inserts that reference the bundle (a worker's first stats row on
the submit path) check their foreign key without waiting. SQLite serialises writers anyway.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

from .models import Assignment, Bundle, Item
from .states import AssignmentNotFound, lock_assignment


def lock_bundle(bundle: Bundle | int) -> Bundle:
    """Lock the bundle row (first in the order) and return it fresh."""
    pk = bundle.pk if isinstance(bundle, Bundle) else bundle
    rows = Bundle.objects.select_for_update(no_key=connection.vendor == "postgresql")
    return rows.get(pk=pk)


def lock_item(item_id: int) -> Item:
    """Lock an item row (after its bundle, if the caller holds that) and return it fresh."""
    return Item.objects.select_for_update(no_key=connection.vendor == "postgresql").get(pk=item_id)


def lock_assignment_after_bundle(assignment_id: int, **scope: Any) -> Assignment:
    """Lock an assignment's bundle, then the assignment (scoped like `lock_assignment`: an
    assignment outside the scope is AssignmentNotFound, whoever owns it).

    For a review: the payment draws on the bundle's escrow and the bundle may complete, so the
    review must hold the bundle before any ledger account. An assignment never changes bundle,
    so the bundle id read before locking is the one locked."""
    bundle_id = (
        Assignment.objects.filter(pk=assignment_id, **scope)
        .values_list("bundle_id", flat=True)
        .first()
    )
    if bundle_id is None:
        raise AssignmentNotFound("No such assignment.")
    lock_bundle(bundle_id)
    return lock_assignment(assignment_id, **scope)


def lock_claim_for_release(assignment_id: int, **scope: Any) -> Assignment:
    """Lock a claim about to end without an answer (returned, expired). A gold claim gives its
    slot back on the bundle row, so its bundle is locked first; a normal claim gives its slot
    back on its item, which no bundle-holding path waits for, so the hot path stays off the
    bundle row."""
    is_gold = (
        Assignment.objects.filter(pk=assignment_id, **scope)
        .values_list("is_gold", flat=True)
        .first()
    )
    if is_gold:
        return lock_assignment_after_bundle(assignment_id, **scope)
    return lock_assignment(assignment_id, **scope)

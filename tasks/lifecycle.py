"""Bundle state changes shared by the bundle services (`tasks.services`) and review
(`tasks.review`): the one transition function and completion once the last piece of work is
decided, and the beat's safety net for it (`bundles_complete_due`). The bundle row lock is
`tasks.locking`'s (the one lock order).

Kept apart from `tasks.services` so that review, and the quality engine through it, can
complete a bundle without importing the service layer that sits above them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict

from .locking import lock_bundle
from .models import Assignment, AssignmentStatus, Bundle, BundleEvent, BundleStatus, Item, ItemState
from .states import BUNDLE_TRANSITIONS, check_transition


def bundle_transition(
    bundle: Bundle, target: str, *, by: User | None, note: str = "", **fields: Any
) -> Bundle:
    """Move a bundle (already locked by the caller) to `target` and record who did it."""
    current = Bundle.objects.filter(pk=bundle.pk).values_list("status", flat=True).get()
    check_transition(BUNDLE_TRANSITIONS, current, target, "bundle")
    updated = Bundle.objects.filter(pk=bundle.pk, status=current).update(
        status=target, updated_at=timezone.now(), **fields
    )
    if updated != 1:
        raise Conflict("The bundle changed meanwhile; try again.")
    BundleEvent.objects.create(
        bundle=bundle, from_status=current, to_status=target, by=by, note=note
    )
    bundle.refresh_from_db()
    return bundle


def bundle_complete_if_done(*, bundle_id: int) -> bool:
    """Complete a live bundle once every real item is complete and no claim is still live.

    Answers awaiting review do not hold completion back (issue 13, item 6: a bundle whose
    items are all complete is `completed`): review and auto-approval go on after it, paid by
    what the escrow keeps for them (`tasks.escrow.escrow_settle`, which the caller runs once
    this commits, keeps pending x cost; the settle sweep catches any it misses).

    Runs inside the caller's transaction (after a review, the live update, the beat), which
    holds the bundle row already or takes it here (`tasks.locking`: the bundle comes first)."""
    bundle = lock_bundle(bundle_id)
    if bundle.status not in (BundleStatus.PUBLISHED, BundleStatus.PAUSED):
        return False
    if bundle.exam or bundle.open_ended:  # these run until their requester closes them
        return False
    if bundle.items.filter(is_gold=False).exclude(state=ItemState.COMPLETE).exists():
        return False
    if bundle.assignments.filter(status=AssignmentStatus.CLAIMED).exists():
        return False
    bundle_transition(
        bundle,
        BundleStatus.COMPLETED,
        by=None,
        note="all items complete",
        finished_at=timezone.now(),
    )
    aggregate_after_commit(bundle_id)
    return True


def bundles_complete_due() -> int:
    """Complete every live bundle that is done but was never completed (a live update that
    did not run, a claim that expired or was given back, an item the periodic sweep decided,
    an unblock). The beat runs this after expiring claims and after re-aggregating; returns how
    many bundles it completed. Each in its own transaction, re-checked under the bundle lock."""
    real = Item.objects.filter(bundle=OuterRef("pk"), is_gold=False)
    pending = Assignment.objects.filter(bundle=OuterRef("pk"), status=AssignmentStatus.CLAIMED)
    due = Bundle.objects.filter(
        Exists(real),
        ~Exists(real.exclude(state=ItemState.COMPLETE)),
        ~Exists(pending),
        status__in=(BundleStatus.PUBLISHED, BundleStatus.PAUSED),
        open_ended=False,
    ).values_list("pk", flat=True)
    done = 0
    for bundle_id in list(due):
        with transaction.atomic():
            done += bundle_complete_if_done(bundle_id=bundle_id)
    return done


def aggregate_after_commit(bundle_id: int) -> None:
    """The final whole-bundle aggregation runs in Celery once the state change is committed."""
    from .tasks import aggregate_bundle_task  # the Celery entry module imports the services

    transaction.on_commit(lambda: aggregate_bundle_task.delay(bundle_id))

"""Settling a finished bundle's escrow: what it no longer needs goes back to the requester.

Called at completion, cancellation and expiry (`tasks.services`), after each later review
(`tasks.review`) and by the periodic sweep (`tasks.tasks.settle_finished_bundles_task`); kept
apart from `tasks.services` so review can settle without importing the service layer.

The invariant it keeps: a bundle's escrow always covers its pending work (claimed or submitted
assignments) at the bundle's cost per judgment; `tasks.selectors.escrow_problems` checks it.
"""

from __future__ import annotations

from django.db import transaction

from payments import selectors as payment_selectors
from payments import services as payments

from .locking import lock_bundle
from .models import AssignmentStatus, BundleStatus
from .payfloor import floor_topups_pay

FINISHED = (BundleStatus.COMPLETED, BundleStatus.CANCELLED, BundleStatus.EXPIRED)


def escrow_settle_finished(*, limit: int = 500) -> int:
    """Settle every finished bundle whose escrow still holds money (the periodic sweep)."""
    done = 0
    for bundle_id in payment_selectors.bundles_with_escrow(limit=limit):
        if escrow_settle(bundle_id=bundle_id):
            done += 1
    return done


@transaction.atomic
def escrow_settle(*, bundle_id: int) -> int:
    """Give a finished bundle's unneeded escrow back to the requester, keeping what its
    still-unreviewed work may cost, after the top-ups to the pay floor once no work is
    pending (`tasks.payfloor`). Runs at completion, cancellation and expiry, and after
    each later review, so the last review of a finished bundle empties its escrow.

    Under the bundle row lock, which every approval takes before it pays (`tasks.locking`):
    no approval can commit between counting the pending work and releasing the rest, so the
    escrow left always pays for every answer still waiting for review. (Counted and released
    without that lock, an approval slipping in between left answers no escrow could pay.)
    """
    bundle = lock_bundle(bundle_id)
    if bundle.status not in FINISHED or bundle.reward_minor == 0:  # unpaid (an exam): no escrow
        return 0
    pending = bundle.assignments.filter(
        status__in=(AssignmentStatus.CLAIMED, AssignmentStatus.SUBMITTED)
    ).count()
    if pending == 0:
        # Nothing can be approved any more: top every worker up to the pay floor first, from
        # the margin reserved at publish, and only then give the rest back.
        floor_topups_pay(bundle)
    keep = pending * payments.escrow_cost_per_judgment(
        bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
    )
    held = payments.escrow_balance(bundle_id=bundle.pk, currency=bundle.currency)
    if held <= keep:
        return 0
    # The escrow only shrinks once its bundle is finished, so (pending, held) never repeats
    # for a new release; a retry of this one finds its entry and moves nothing more.
    return payments.escrow_release(
        requester_id=bundle.requester_id,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        keep_minor=keep,
        idempotency_key=f"bundle-{bundle.pk}-settle-{pending}-{held}",
    )

"""Settling a finished bundle's escrow: what it no longer needs goes back to the requester.

Called at completion, cancellation and expiry (`tasks.services`), after each later review
(`tasks.review`) and by the periodic sweep (`tasks.tasks.settle_finished_bundles_task`); kept
apart from `tasks.services` so review can settle without importing the service layer.
"""

from __future__ import annotations

from payments import selectors as payment_selectors
from payments import services as payments

from .models import AssignmentStatus, Bundle, BundleStatus


def escrow_settle_finished(*, limit: int = 500) -> int:
    """Settle every finished bundle whose escrow still holds money (the periodic sweep)."""
    done = 0
    for bundle_id in payment_selectors.bundles_with_escrow(limit=limit):
        if escrow_settle(bundle_id=bundle_id):
            done += 1
    return done


def escrow_settle(*, bundle_id: int) -> int:
    """Give a finished bundle's unneeded escrow back to the requester, keeping what its
    still-unreviewed work may cost. Runs at completion, cancellation and expiry, and after
    each later review, so the last review of a finished bundle empties its escrow."""
    bundle = Bundle.objects.get(pk=bundle_id)
    if bundle.status not in (BundleStatus.COMPLETED, BundleStatus.CANCELLED, BundleStatus.EXPIRED):
        return 0
    held = payments.escrow_balance(bundle_id=bundle.pk, currency=bundle.currency)
    pending = bundle.assignments.filter(status=AssignmentStatus.SUBMITTED).count()
    keep = pending * payments.escrow_cost_per_judgment(
        bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
    )
    if held <= keep:
        return 0
    return payments.escrow_release(
        requester_id=bundle.requester_id,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        amount_minor=held - keep,
        idempotency_key=f"bundle-{bundle.pk}-settle-{pending}-{held}",
    )

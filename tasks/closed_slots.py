"""A claim that ends unpaid (returned, expired, rejected) on an item that is already closed
cannot give its slot back: on an open-ended bundle (an MTurk HIT type, which never finishes by
itself) the slot's escrow would otherwise stay held for good. Kept below both the claim hot
path (`tasks.work`) and review (`tasks.review`), which each end such claims."""

from __future__ import annotations

from payments import services as payments

from .models import Bundle, BundleStatus


def closed_slot_release(*, assignment_id: int, bundle_id: int) -> None:
    """The escrow of a claim that ended unpaid on a closed item, back to the requester now if
    its bundle is open-ended and live (a finished bundle's settle gives it back; an ordinary
    live one, when it finishes). In the caller's transaction; keyed by the assignment, so a
    retry moves nothing more."""
    bundle = (
        Bundle.objects.filter(pk=bundle_id)
        .only("requester_id", "currency", "reward_minor", "status", "open_ended")
        .first()
    )
    live = (BundleStatus.PUBLISHED, BundleStatus.PAUSED)
    if bundle is None or not bundle.open_ended or bundle.status not in live:
        return
    if bundle.reward_minor == 0:  # nothing was reserved for it
        return
    payments.escrow_release(
        requester_id=bundle.requester_id,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        amount_minor=payments.escrow_cost_per_judgment(
            bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
        ),
        idempotency_key=f"assignment-{assignment_id}-closed-slot-release",
    )

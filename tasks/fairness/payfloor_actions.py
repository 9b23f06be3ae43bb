"""The requester's two ways out of a pilot that paid below the floor (`tasks.payfloor`):
raise the reward, or confirm a top-up bonus that brings every worker up to the floor. Both
reserve the extra money in escrow first and then resume the bundle, in one transaction."""

from __future__ import annotations

import math

from django.db import transaction

from accounts.models import User
from marketplace.errors import Conflict, DomainError, NotFound
from payments import services as payments
from tasks import payfloor, services
from tasks.locking import lock_bundle
from tasks.models import Bundle, BundleStatus, PayFloorState


def _paused_below(requester: User, bundle_id: int) -> Bundle:
    if not Bundle.objects.filter(pk=bundle_id, requester=requester).exists():
        raise NotFound("No such bundle.", code="bundle_not_found")
    bundle = lock_bundle(bundle_id)
    if bundle.pay_floor_state != PayFloorState.BELOW or bundle.status != BundleStatus.PAUSED:
        raise Conflict("This bundle is not paused for the pay floor.", code="not_below_pay_floor")
    return bundle


def _unpaid_judgments(bundle: Bundle) -> int:
    """How many judgments the escrow can still pay at today's reward (rounded up, so a raise
    reserves enough for every one, the margin included; the settle returns the rest)."""
    cost = payments.escrow_cost_per_judgment(
        bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
    )
    held = payments.escrow_balance(bundle_id=bundle.pk, currency=bundle.currency)
    return math.ceil(held / cost) if cost else 0


def minimum_reward(bundle: Bundle) -> int:
    """The least reward that pays the floor at the pilot's median work time."""
    return payfloor.floor_pay_for(bundle.pilot_median_seconds or 0.0, bundle.currency)


@transaction.atomic
def payfloor_raise_reward(*, requester: User, bundle_id: int, reward_minor: int) -> Bundle:
    """Raise the reward to at least the floor at the pilot's median, reserve the difference
    for every judgment escrow may still pay, and resume the bundle. Answers approved before
    were paid at the old reward; the top-up at completion evens them out."""
    bundle = _paused_below(requester, bundle_id)
    if isinstance(reward_minor, bool) or not isinstance(reward_minor, int):
        raise DomainError("reward must be an integer in minor units.", code="invalid_amount")
    least = minimum_reward(bundle)
    if reward_minor < least:
        raise DomainError(
            f"The reward must be at least {least} to pay the floor at the pilot's pace.",
            code="below_pay_floor",
            minimum_reward_minor=least,
        )
    judgments = _unpaid_judgments(bundle)
    old = payments.escrow_cost_per_judgment(
        bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
    )
    new = payments.escrow_cost_per_judgment(
        bundle_id=bundle.pk, currency=bundle.currency, reward_minor=reward_minor
    )
    if judgments and new > old:
        payments.escrow_reserve_amount(
            requester=requester,
            bundle_id=bundle.pk,
            currency=bundle.currency,
            amount_minor=judgments * (new - old),
            idempotency_key=f"bundle-{bundle.pk}-raise-{bundle.reward_minor}-{reward_minor}",
            memo=f"reward of bundle {bundle.pk} raised to the pay floor: {judgments} answers",
        )
    Bundle.objects.filter(pk=bundle.pk).update(
        reward_minor=reward_minor, pay_floor_state=PayFloorState.OK
    )
    bundle.refresh_from_db()
    return services.bundle_resume(bundle=bundle, by=requester)


@transaction.atomic
def payfloor_confirm_topup(*, requester: User, bundle_id: int) -> Bundle:
    """Keep the reward and commit to topping every worker up to the floor at completion:
    escrow reserves what the pilot's pace says that costs (beyond the publish margin), then
    the bundle resumes."""
    bundle = _paused_below(requester, bundle_id)
    gap = minimum_reward(bundle) - bundle.reward_minor
    if bundle.estimated_seconds:
        gap -= payfloor.margin_per_judgment(bundle)
    judgments = _unpaid_judgments(bundle)
    if gap > 0 and judgments:
        terms, _frozen = payments.escrow_fee_terms(bundle_id=bundle.pk, currency=bundle.currency)
        payments.escrow_reserve_amount(
            requester=requester,
            bundle_id=bundle.pk,
            currency=bundle.currency,
            amount_minor=judgments * terms.cost_per_judgment(gap),
            idempotency_key=f"bundle-{bundle.pk}-floor-confirm",
            memo=f"top-ups to the pay floor in bundle {bundle.pk}: {judgments} answers",
        )
    Bundle.objects.filter(pk=bundle.pk).update(pay_floor_state=PayFloorState.TOPUP)
    bundle.refresh_from_db()
    return services.bundle_resume(bundle=bundle, by=requester)

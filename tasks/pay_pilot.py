"""The pay floor's pilot (`tasks.payfloor`): once a bundle's first PAY_FLOOR_PILOT_JUDGMENTS
answers are in, their median work time decides whether the reward pays the floor; below it,
the bundle pauses for its requester (`tasks.fairness.payfloor_actions`). Followed up after each
submission during the pilot only (`tasks.services.follow_up_after_commit`), with a beat sweep.
"""

from __future__ import annotations

import logging
import statistics

from django.conf import settings
from django.db import transaction

from .lifecycle import bundle_transition
from .locking import lock_bundle
from .models import Assignment, Bundle, BundleStatus, PayFloorState
from .payfloor import below_floor

logger = logging.getLogger(__name__)

BELOW_NOTE = "paused: the pilot's median work time pays below the platform's hourly floor"


def pilot_size() -> int:
    return max(int(getattr(settings, "PAY_FLOOR_PILOT_JUDGMENTS", 10)), 1)


def pilot_median(bundle_id: int) -> float | None:
    """The median work time of the bundle's first answers, once there are enough of them."""
    first = (
        Assignment.objects.filter(bundle_id=bundle_id, submitted_at__isnull=False)
        .order_by("submitted_at", "id")
        .values_list("seconds_spent", flat=True)[: pilot_size()]
    )
    times = [float(t) for t in first if t is not None]
    if len(times) < pilot_size():
        return None
    return float(statistics.median(times))


def pilot_check(*, bundle_id: int) -> str | None:
    """Close the bundle's pilot once it has enough answers: record the median and pause the
    bundle when its reward pays below the floor. Idempotent: a pilot closes once (re-checked
    under the bundle lock); returns the new state, None while the pilot runs or is over."""
    if not Bundle.objects.filter(
        pk=bundle_id, pay_floor_state=PayFloorState.PILOT, status=BundleStatus.PUBLISHED
    ).exists():
        return None
    median = pilot_median(bundle_id)
    if median is None:
        return None
    with transaction.atomic():
        bundle = lock_bundle(bundle_id)
        if bundle.pay_floor_state != PayFloorState.PILOT or bundle.status != BundleStatus.PUBLISHED:
            return None
        below = below_floor(bundle.reward_minor, median, bundle.currency)
        state = PayFloorState.BELOW if below else PayFloorState.OK
        Bundle.objects.filter(pk=bundle_id).update(
            pilot_median_seconds=median, pay_floor_state=state
        )
        if below:
            bundle_transition(bundle, BundleStatus.PAUSED, by=None, note=BELOW_NOTE)
            logger.info("bundle %s paused: median %.1f s pays below the floor", bundle_id, median)
    return str(state)


def pilots_check_all() -> int:
    """The beat's sweep: close every live pilot that has its answers (a lost follow-up)."""
    closed = 0
    live = Bundle.objects.filter(
        pay_floor_state=PayFloorState.PILOT, status=BundleStatus.PUBLISHED
    ).values_list("pk", flat=True)
    for bundle_id in list(live):
        closed += pilot_check(bundle_id=bundle_id) is not None
    return closed


def pilot_follow_up_after_commit(bundle_id: int) -> None:
    transaction.on_commit(lambda: pilot_check(bundle_id=bundle_id))

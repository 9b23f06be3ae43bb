"""The pay floor (issue 15): a platform-wide minimum hourly pay, measured rather than declared.

* At publish a requester's own estimate of the work time (`Bundle.estimated_seconds`) must
  pay at least the floor, and escrow reserves a margin (`PAY_FLOOR_MARGIN_PERCENT` of the
  rewards) for top-ups to the floor.
* The pilot (`tasks.pay_pilot`): once the first `PAY_FLOOR_PILOT_JUDGMENTS` answers are in,
  their median work time (claim -> submit, `Assignment.seconds_spent`) decides. Below the
  floor the bundle pauses (`pay_floor_state` "below") until the requester raises the reward
  or confirms a top-up (`tasks.fairness.payfloor_actions`).
* At completion every worker whose approved pay falls short of the floor for the time they
  spent (each answer's time capped at the time limit and at twice the bundle's median, so
  idling earns nothing) is topped up by an automatic bonus from escrow; the settle releases
  what is left (`tasks.escrow.escrow_settle`, which calls `floor_topups_pay` first).

Sits beside `tasks.escrow` in the layers: it imports the models and payments only.
"""

from __future__ import annotations

import logging
import math
import statistics

from django.conf import settings

from marketplace.errors import DomainError
from payments import services as payments

from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    FloorTopUp,
)

logger = logging.getLogger(__name__)


def floor_hourly_minor(currency: str) -> int:
    """The platform's minimum pay per hour in this currency's minor units."""
    table: dict[str, int] = getattr(settings, "PAY_FLOOR_HOURLY_MINOR", {})
    return int(table.get(currency.lower(), 1200))


def floor_pay_for(seconds: float, currency: str) -> int:
    """What `seconds` of work must pay at least, rounded up to a whole minor unit."""
    return math.ceil(floor_hourly_minor(currency) * max(seconds, 0.0) / 3600 - 1e-9)


def hourly_minor(reward_minor: int, seconds: float | None) -> int | None:
    """Pay per hour of a reward earned in `seconds` (None without a positive time)."""
    if not seconds or seconds <= 0:
        return None
    return int(reward_minor * 3600 // max(seconds, 1.0))


def below_floor(reward_minor: int, seconds: float, currency: str) -> bool:
    return reward_minor * 3600 < floor_hourly_minor(currency) * seconds


def publish_check(bundle: Bundle) -> None:
    """Refuse to publish a bundle whose own time estimate pays below the floor."""
    seconds = bundle.estimated_seconds
    if seconds and below_floor(bundle.reward_minor, seconds, bundle.currency):
        raise DomainError(
            f"At {seconds} s a task, this reward pays below the platform's minimum of "
            f"{floor_hourly_minor(bundle.currency)} minor units an hour; raise the reward.",
            code="below_pay_floor",
            minimum_reward_minor=floor_pay_for(seconds, bundle.currency),
        )


def margin_per_judgment(bundle: Bundle) -> int:
    percent = int(getattr(settings, "PAY_FLOOR_MARGIN_PERCENT", 25))
    return math.ceil(bundle.reward_minor * percent / 100) if percent > 0 else 0


def margin_cost(bundle: Bundle, judgments: int) -> int:
    """What `margin_reserve` takes for `judgments` judgments (0 without a time estimate)."""
    margin = margin_per_judgment(bundle)
    if not bundle.estimated_seconds or margin == 0:
        return 0
    terms, _frozen = payments.escrow_fee_terms(bundle_id=bundle.pk, currency=bundle.currency)
    return judgments * terms.cost_per_judgment(margin)


def margin_reserve(bundle: Bundle, *, judgments: int, idempotency_key: str) -> int:
    """Reserve the top-up margin for `judgments` more judgments (publish, later uploads) of a
    bundle with a time estimate, in the caller's transaction; `insufficient_funds` rolls the
    whole change back."""
    margin = margin_per_judgment(bundle)
    if not bundle.estimated_seconds or margin == 0 or judgments == 0:
        return 0
    return payments.escrow_reserve(
        requester=bundle.requester,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        reward_minor=margin,
        judgments=judgments,
        idempotency_key=idempotency_key,
    )


def time_cap(bundle: Bundle) -> float:
    """The most one answer's time counts for in a top-up: the time limit, and twice the
    bundle's median (the pilot's, or of its approved answers) so idling earns nothing."""
    median = bundle.pilot_median_seconds
    if median is None:
        times = [
            float(t)
            for t in Assignment.objects.filter(
                bundle_id=bundle.pk, status=AssignmentStatus.APPROVED, seconds_spent__isnull=False
            ).values_list("seconds_spent", flat=True)
            if t is not None
        ]
        median = float(statistics.median(times)) if times else None
    cap = float(bundle.time_limit_seconds)
    return min(cap, 2 * median) if median else cap


def floor_topups_pay(bundle: Bundle) -> int:
    """Top every worker of a finished bundle up to the floor for the time they worked, once.

    Called by `escrow_settle` under the bundle lock, with no work pending, before the rest of
    the escrow goes back. Each top-up is keyed by (bundle, worker, approved answers, paid so
    far): run twice, it pays nothing more; an answer approved later (an overturned appeal)
    tops up only the difference; what the money could not cover (`unpaid_minor`, in the
    admin) is tried again at the next settle. A handful of queries whatever the bundle's
    size, plus one ledger entry per worker owed something. Returns the amount paid."""
    cap = time_cap(bundle)
    work: dict[int, list[tuple[int, float]]] = {}
    approved = Assignment.objects.filter(bundle_id=bundle.pk, status=AssignmentStatus.APPROVED)
    for worker_id, assignment_id, seconds in approved.values_list(
        "worker_id", "id", "seconds_spent"
    ).order_by("worker_id", "id"):
        work.setdefault(worker_id, []).append((assignment_id, min(float(seconds or 0.0), cap)))
    done = {t.worker_id: t for t in FloorTopUp.objects.filter(bundle=bundle)}
    due = [
        w
        for w, rows in work.items()
        if w not in done or done[w].approved != len(rows) or done[w].unpaid_minor > 0
    ]
    if not due:
        return 0
    earned = payments.assignments_earned(
        assignment_ids=[i for w in due for i, _s in work[w]], currency=bundle.currency
    )
    return sum(
        _worker_topup(
            bundle, worker_id=w, answers=work[w], earned=earned.get(w, 0), done=done.get(w)
        )
        for w in due
    )


def _worker_topup(
    bundle: Bundle,
    *,
    worker_id: int,
    answers: list[tuple[int, float]],
    earned: int,
    done: FloorTopUp | None,
) -> int:
    seconds = sum(s for _id, s in answers)
    floor = floor_pay_for(seconds, bundle.currency)
    already = done.paid_minor if done is not None else 0
    owed = max(floor - earned - already, 0)
    paid = fee = 0
    if owed:
        paid, fee = payments.floor_topup_pay(
            requester_id=bundle.requester_id,
            bundle_id=bundle.pk,
            worker_id=worker_id,
            currency=bundle.currency,
            amount_minor=owed,
            # What was paid before is in the key: a retry of this payment finds it, and the
            # rest of a payment the money could not cover is a new one.
            idempotency_key=f"bundle-{bundle.pk}-floor-{worker_id}-{len(answers)}-{already}",
            memo=f"top-up to the hourly pay floor in bundle {bundle.pk}",
        )
    FloorTopUp.objects.update_or_create(
        bundle=bundle,
        worker_id=worker_id,
        defaults={
            "approved": len(answers),
            "seconds": seconds,
            "earned_minor": earned,
            "floor_minor": floor,
            "paid_minor": already + paid,
            "fee_minor": (done.fee_minor if done else 0) + fee,
            "unpaid_minor": owed - paid,
            "currency": bundle.currency,
        },
    )
    return paid

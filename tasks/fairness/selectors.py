"""What workers and admins read about fair pay and due process: a worker's effective hourly
pay per bundle, requesters' rejection and appeal-loss rates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from accounts.models import User
from tasks import payfloor
from tasks.models import (
    Appeal,
    AppealKind,
    AppealStatus,
    Assignment,
    AssignmentStatus,
    FloorTopUp,
)


@dataclass
class BundlePay:
    """A worker's pay in one bundle: approved answers, time, rewards, top-ups, per hour."""

    bundle_id: int
    title: str
    currency: str
    approved: int
    seconds: float
    rewards_minor: int
    topups_minor: int
    hourly_minor: int | None
    floor_hourly_minor: int

    @property
    def below_floor(self) -> bool:
        return self.hourly_minor is not None and self.hourly_minor < self.floor_hourly_minor


def worker_pay_history(worker: User, *, limit: int = 100) -> list[BundlePay]:
    """The worker's effective hourly pay per bundle, newest work first: (rewards of approved
    answers + top-ups to the floor) / the time those answers took."""
    rows = (
        Assignment.objects.filter(worker=worker, status=AssignmentStatus.APPROVED)
        .values("bundle_id", "bundle__title", "bundle__currency", "bundle__reward_minor")
        .annotate(n=Count("id"), seconds=Sum("seconds_spent"), last=Sum("id"))
        .order_by("-last")[:limit]
    )
    topups = dict(FloorTopUp.objects.filter(worker=worker).values_list("bundle_id", "paid_minor"))
    history = []
    for row in rows:
        # Rewards as the bundle pays them now; a raise mid-bundle is evened out by top-ups.
        rewards = row["n"] * row["bundle__reward_minor"]
        extra = int(topups.get(row["bundle_id"], 0))
        seconds = float(row["seconds"] or 0.0)
        history.append(
            BundlePay(
                bundle_id=row["bundle_id"],
                title=row["bundle__title"],
                currency=row["bundle__currency"],
                approved=row["n"],
                seconds=seconds,
                rewards_minor=rewards,
                topups_minor=extra,
                hourly_minor=payfloor.hourly_minor(rewards + extra, seconds),
                floor_hourly_minor=payfloor.floor_hourly_minor(row["bundle__currency"]),
            )
        )
    return history


@dataclass
class RequesterRates:
    reviewed: int
    rejected: int
    appeals_decided: int
    appeals_lost: int

    @property
    def rejection_percent(self) -> int | None:
        return self.rejected * 100 // self.reviewed if self.reviewed else None

    @property
    def appeal_loss_percent(self) -> int | None:
        return self.appeals_lost * 100 // self.appeals_decided if self.appeals_decided else None


def requester_rates(requester_ids: Iterable[int]) -> dict[int, RequesterRates]:
    """Per requester: answers reviewed and rejected (an overturned rejection counts as
    approved), and appeals decided and lost (overturned), in two grouped queries."""
    ids = sorted(set(requester_ids))
    if not ids:
        return {}
    reviews = (
        Assignment.objects.filter(
            bundle__requester_id__in=ids,
            status__in=(AssignmentStatus.APPROVED, AssignmentStatus.REJECTED),
        )
        .values("bundle__requester_id")
        .annotate(
            reviewed=Count("id"), rejected=Count("id", filter=Q(status=AssignmentStatus.REJECTED))
        )
        .order_by()
    )
    rates = {
        row["bundle__requester_id"]: RequesterRates(row["reviewed"], row["rejected"], 0, 0)
        for row in reviews
    }
    # Appeals are few next to answers: counted here rather than by a second COUNT query.
    decided = (
        Appeal.objects.filter(requester_id__in=ids, kind=AppealKind.REJECTION)
        .exclude(status=AppealStatus.OPEN)
        .values_list("requester_id", "status")
    )
    for requester_id, status in decided:
        rate = rates.setdefault(requester_id, RequesterRates(0, 0, 0, 0))
        rate.appeals_decided += 1
        rate.appeals_lost += status == AppealStatus.OVERTURNED
    return rates

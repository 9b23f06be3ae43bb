"""Find work (issue 15): the bundles open to a worker with what they decide on (estimated
hourly pay, typical time, the requester's name and record, tasks left), searched, filtered and
sorted. The one selector behind the worker's page (`marketplace.web.find_work`) and the API's
list (`GET /api/v1/work/bundles/`), so both answer the same question the same way.

The bundles come from `selectors.bundles_for_worker` (published, qualified, not blocked, work
left for this worker); the few hundred live at a time are filtered and sorted in Python,
because the sort everyone wants (estimated hourly pay) is computed per bundle from its
approved work (`median_seconds_by_bundle`), not stored."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from accounts.models import RequesterProfile, User

from . import payfloor, selectors
from .fairness.selectors import RequesterRates, requester_rates
from .models import Assignment, AssignmentStatus, Bundle

SORTS = ("newest", "hourly", "tasks_left", "reward")

# Recent work is what predicts the pace of the next task; older answers only cost reading.
MEDIAN_SAMPLE = 200
# Pay is estimated only from at least this many approved answers (issue 15: one worker's
# 0-second answer once showed $144/h), trimming this share of the fastest and the slowest.
MIN_PAY_SAMPLE = 5
TRIM_SHARE = 0.1


@dataclass(frozen=True)
class WorkCriteria:
    """What a worker asked for; every field optional. Money in minor units."""

    q: str = ""  # words that must all appear in the title, instructions or requester's name
    min_reward_minor: int | None = None
    min_hourly_minor: int | None = None  # bundles without an estimate are left out then
    max_seconds: int | None = None  # the typical time, or the time limit without data
    requester_id: int | None = None
    question_type: str = ""
    sort: str = "newest"  # one of SORTS


@dataclass
class WorkOffer:
    """One bundle as a worker weighs it."""

    bundle: Bundle
    question_type: str
    median_seconds: float | None  # None: not enough approved work to say
    hourly_minor: int | None
    requester_name: str
    requester_rates: RequesterRates | None

    @property
    def tasks_left(self) -> int:
        return getattr(self.bundle, "tasks_left", 0)

    @property
    def reward_minor(self) -> int:
        return self.bundle.reward_minor

    @property
    def expected_seconds(self) -> float:
        return self.median_seconds or float(self.bundle.time_limit_seconds)


def trimmed_mean(values: list[float], share: float = TRIM_SHARE) -> float:
    """The mean after dropping `share` of the values at each end (at least one each side)."""
    ordered = sorted(values)
    cut = max(1, int(len(ordered) * share))
    kept = ordered[cut:-cut] or ordered
    return statistics.fmean(kept)


def median_seconds_by_bundle(bundle_ids: list[int]) -> dict[int, float]:
    """Typical seconds per task of each bundle, for its pay estimate: the trimmed mean of its
    most recent approved answers (approved work is work someone was paid for; unreviewed or
    rejected answers do not count). Bundles with fewer than MIN_PAY_SAMPLE approved answers
    are left out, so a worker reads "not enough data" rather than a guess. One query for all
    bundles: a window numbers each bundle's answers, newest first, and keeps MEDIAN_SAMPLE."""
    if not bundle_ids:
        return {}
    newest_first = Window(
        RowNumber(), partition_by=[F("bundle_id")], order_by=[F("submitted_at").desc(), F("id")]
    )
    rows = (
        Assignment.objects.filter(
            bundle_id__in=bundle_ids,
            status=AssignmentStatus.APPROVED,
            seconds_spent__isnull=False,
        )
        .annotate(recent=newest_first)
        .filter(recent__lte=MEDIAN_SAMPLE)
        .values_list("bundle_id", "seconds_spent")
    )
    seconds: dict[int, list[float]] = defaultdict(list)
    for bundle_id, spent in rows:
        if spent is not None:  # filtered out above; the type does not know
            seconds[bundle_id].append(spent)
    return {
        bundle_id: trimmed_mean(values)
        for bundle_id, values in seconds.items()
        if len(values) >= MIN_PAY_SAMPLE
    }


def requester_names(requester_ids: Iterable[int]) -> dict[int, str]:
    """{requester id: the public name workers see} (one query; never an email address)."""
    ids = set(requester_ids)
    profiles = RequesterProfile.objects.filter(user_id__in=ids)
    names = {p.user_id: p.public_name for p in profiles}
    return {rid: names.get(rid, f"Requester #{rid}") for rid in ids}


def offers_of(bundles: list[Bundle]) -> list[WorkOffer]:
    """The bundles with their estimates and requesters (a constant number of queries)."""
    medians = median_seconds_by_bundle([b.pk for b in bundles])
    standing = requester_rates(b.requester_id for b in bundles)
    names = requester_names(b.requester_id for b in bundles)
    return [
        WorkOffer(
            bundle=bundle,
            question_type=bundle.question.get("type", ""),
            median_seconds=medians.get(bundle.pk),
            hourly_minor=payfloor.hourly_minor(bundle.reward_minor, medians.get(bundle.pk)),
            requester_name=names[bundle.requester_id],
            requester_rates=standing.get(bundle.requester_id),
        )
        for bundle in bundles
    ]


def work_offers(worker: User) -> list[WorkOffer]:
    """Every bundle open to the worker now, newest first."""
    return offers_of(selectors.bundles_for_worker(worker))


def offers_matching(offers: list[WorkOffer], criteria: WorkCriteria) -> list[WorkOffer]:
    """The offers matching `criteria`, in the order asked (newest: as given). Hourly pay
    sorts the bundles without an estimate last, not first."""
    words = criteria.q.casefold().split()

    def keep(offer: WorkOffer) -> bool:
        bundle = offer.bundle
        text = f"{bundle.title}\n{bundle.instructions}\n{offer.requester_name}".casefold()
        return (
            all(word in text for word in words)
            and (
                criteria.min_reward_minor is None or offer.reward_minor >= criteria.min_reward_minor
            )
            and (
                criteria.min_hourly_minor is None
                or (
                    offer.hourly_minor is not None
                    and offer.hourly_minor >= criteria.min_hourly_minor
                )
            )
            and (not criteria.max_seconds or offer.expected_seconds <= criteria.max_seconds)
            and (not criteria.requester_id or bundle.requester_id == criteria.requester_id)
            and (not criteria.question_type or offer.question_type == criteria.question_type)
        )

    kept = [offer for offer in offers if keep(offer)]
    if criteria.sort == "hourly":
        kept.sort(key=lambda o: (o.hourly_minor is None, -(o.hourly_minor or 0)))
    elif criteria.sort == "tasks_left":
        kept.sort(key=lambda o: -o.tasks_left)
    elif criteria.sort == "reward":
        kept.sort(key=lambda o: -o.reward_minor)
    return kept

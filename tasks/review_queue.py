"""The review queue at scale (reads): a bundle's submitted answers filtered by worker, by gold
answers that failed, by disagreement with the item's current label, by the label's confidence;
paged by keyset so page 500 of 100k answers costs what page 1 does (no OFFSET, a constant
number of queries); grouped by item with the aggregate when asked.

The bulk actions of the review page act on exactly what a filter matched when the requester
confirmed it: `ReviewFilter.as_of` pins the moment the queue was shown, so work submitted
since (a claim older than the page but answered after it, too) is not swept in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet

from .models import Assignment, AssignmentStatus, Bundle, ItemResult
from .selectors import bundle_worker_from_public_id

PAGE_SIZE = 100


@dataclass(frozen=True)
class ReviewFilter:
    worker: str = ""  # a pseudonym as the requester sees it
    gold: str = ""  # "incorrect", "correct" or "" (any)
    disagree: bool = False  # the answer differs from the item's current label
    max_confidence: float | None = None  # the item's label is at most this confident
    as_of: datetime | None = None  # only answers submitted by then

    def pinned(self, as_of: datetime | None) -> ReviewFilter:
        return replace(self, as_of=as_of)


def pending_matching(bundle: Bundle, criteria: ReviewFilter) -> QuerySet[Assignment]:
    """Submitted answers of the bundle that match; unordered (the caller orders)."""
    query = Assignment.objects.filter(bundle=bundle, status=AssignmentStatus.SUBMITTED)
    if criteria.worker:
        worker_id = bundle_worker_from_public_id(bundle, criteria.worker.strip())
        if worker_id is None:
            return query.none()  # a pseudonym that is not of this bundle matches nothing
        query = query.filter(worker_id=worker_id)
    if criteria.gold == "incorrect":
        query = query.filter(is_gold=True, gold_correct=False)
    elif criteria.gold == "correct":
        query = query.filter(is_gold=True, gold_correct=True)
    if criteria.disagree:
        query = disagreeing(query)
    if criteria.max_confidence is not None:
        query = query.filter(item__result__confidence__lte=criteria.max_confidence)
    if criteria.as_of is not None:
        query = query.filter(submitted_at__lte=criteria.as_of)
    return query


@dataclass
class QueuePage:
    rows: list[Assignment]
    total: int
    next_cursor: str | None
    results: dict[int, ItemResult]


def _parse_cursor(cursor: str | None, by_item: bool) -> tuple[int, int] | None:
    try:
        if not cursor:
            return None
        if by_item:
            item_id, _, pk = cursor.partition("-")
            return int(item_id), int(pk)
        return 0, int(cursor)
    except ValueError:
        return None


def review_page(
    bundle: Bundle,
    criteria: ReviewFilter,
    *,
    cursor: str | None = None,
    by_item: bool = False,
    size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of the matching answers after `cursor` (oldest first, or item by item), with
    the total, the cursor of the next page and the aggregated results of the page's items.
    Four queries whatever the page (one more to resolve a worker's pseudonym)."""
    matching = pending_matching(bundle, criteria)
    query = matching.select_related("item")
    position = _parse_cursor(cursor, by_item)
    if by_item:
        query = query.order_by("item_id", "id")
        if position is not None:
            item_id, pk = position
            query = query.filter(Q(item_id__gt=item_id) | Q(item_id=item_id, id__gt=pk))
    else:
        query = query.order_by("id")
        if position is not None:
            query = query.filter(id__gt=position[1])
    rows = list(query[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = f"{last.item_id}-{last.pk}" if by_item else str(last.pk)
    results = {
        r.item_id: r for r in ItemResult.objects.filter(item_id__in={a.item_id for a in rows})
    }
    return QueuePage(
        rows=rows,
        total=matching.count(),
        next_cursor=next_cursor,
        results=results,
    )


def matching_ids(bundle: Bundle, criteria: ReviewFilter, *, limit: int) -> list[int]:
    """Ids of the matching answers (oldest first, at most `limit`): what a bulk action does."""
    ids = pending_matching(bundle, criteria).order_by("id").values_list("id", flat=True)
    return list(ids[:limit])


def matching_summary(bundle: Bundle, criteria: ReviewFilter) -> dict[str, Any]:
    """What a bulk action on the filter would touch: the count, the workers, and the rewards
    at stake (approved: paid to the workers from the bundle's escrow; rejected: not paid)."""
    matching = pending_matching(bundle, criteria)
    count = matching.count()
    workers = matching.values("worker_id").distinct().count() if count else 0
    return {"count": count, "workers": workers, "rewards_minor": count * bundle.reward_minor}


def disagreeing(query: QuerySet[Assignment]) -> QuerySet[Assignment]:
    """The answers of `query` that differ from their item's current label (items without a
    label yet are left out: there is nothing to disagree with)."""
    return (
        query.filter(item__result__label__isnull=False)
        .exclude(item__result__label=None)
        .exclude(answer=F("item__result__label"))
    )


def disagreeing_ids(ids: list[int]) -> set[int]:
    """Among these answers, the ones that differ from their item's current label."""
    return set(disagreeing(Assignment.objects.filter(pk__in=ids)).values_list("id", flat=True))

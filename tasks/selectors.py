"""Reads on bundles, items and assignments, scoped to who is asking."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import User
from accounts.qualifications import (
    requirement_failures,
    requirements_parse,
    worker_qualification_values,
)

from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemResult,
    ItemState,
    WorkerBundleStats,
)
from .schema import annotation_type

JUDGMENT_STATUSES = (AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED)


def bundles_of_requester(requester: User) -> QuerySet[Bundle]:
    return Bundle.objects.filter(requester=requester).order_by("-id")


def bundle_progress(bundle: Bundle) -> dict[str, int]:
    """Counts a requester watches: items by state and assignments by status (two queries)."""
    items = bundle.items.aggregate(
        total=Count("id", filter=Q(is_gold=False)),
        complete=Count("id", filter=Q(is_gold=False, state=ItemState.COMPLETE)),
        gold=Count("id", filter=Q(is_gold=True)),
    )
    by_status = dict(
        bundle.assignments.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return {
        "items_total": items["total"],
        "items_complete": items["complete"],
        "gold_items": items["gold"],
        **{f"assignments_{status}": by_status.get(status, 0) for status in AssignmentStatus},
    }


def bundles_for_worker(worker: User) -> list[Bundle]:
    """Published bundles the worker may claim in now: qualified, not blocked, with work left.

    Requirements are evaluated in Python against the worker's values fetched once, which
    stays cheap for the few hundred live bundles a marketplace has at a time."""
    live = list(
        Bundle.objects.filter(status=BundleStatus.PUBLISHED)
        .exclude(requester=worker)
        .exclude(worker_stats__worker=worker, worker_stats__blocked=True)
        .annotate(
            tasks_left=Sum(
                "items__slots_open", filter=Q(items__state=ItemState.OPEN, items__is_gold=False)
            )
        )
        .filter(tasks_left__gt=0)
        .order_by("-published_at", "-id")
    )
    values = worker_qualification_values(worker, {b.requester_id for b in live})
    return [
        b
        for b in live
        if not requirement_failures(requirements_parse(b.requirements), values, b.requester_id)
    ]


def bundle_for_worker(worker: User, bundle_id: int) -> Bundle | None:
    """A published bundle the worker may see (qualified, not theirs); None otherwise."""
    bundle = (
        Bundle.objects.filter(
            pk=bundle_id, status__in=(BundleStatus.PUBLISHED, BundleStatus.PAUSED)
        )
        .exclude(requester=worker)
        .first()
    )
    if bundle is None:
        return None
    requirements = requirements_parse(bundle.requirements)
    if requirements:
        values = worker_qualification_values(worker, [bundle.requester_id])
        if requirement_failures(requirements, values, bundle.requester_id):
            return None
    return bundle


def assignments_of_worker(worker: User) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(worker=worker)
        .select_related("bundle", "item")
        .order_by("-claimed_at", "-id")
    )


def assignments_of_requester(requester: User) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(bundle__requester=requester)
        .select_related("bundle", "item")
        .order_by("-id")
    )


@dataclass(frozen=True)
class GoldFeedback:
    """What a worker may learn from a gold answer they submitted: whether it passed, and, on
    an annotation bundle that shows it, the expected answer (the gold, in the answer's shape)
    and their score against it."""

    correct: bool
    expected: Any = None
    score: float | None = None
    shows_expected: bool = False


def gold_feedback_for(assignment: Assignment, bundle: Bundle) -> GoldFeedback | None:
    """The feedback on one of the worker's own assignments, or None: only for a gold task
    already answered (never while claimed, so nothing helps the answer itself) on a bundle that
    gives feedback. A worker is never served the same item twice, so showing the expected
    answer afterwards teaches without leaking anything they could still use."""
    if (
        not assignment.is_gold
        or assignment.status == AssignmentStatus.CLAIMED
        or assignment.gold_correct is None
    ):
        return None
    shows_expected = bundle.gold_feedback_expected and annotation_type(bundle.question) is not None
    if not (bundle.gold_feedback or shows_expected):
        return None
    if not shows_expected:
        return GoldFeedback(correct=bool(assignment.gold_correct))
    expected = (
        assignment.item.gold
        if Assignment.item.is_cached(assignment)
        else Item.objects.values_list("gold", flat=True).get(pk=assignment.item_id)
    )
    return GoldFeedback(
        correct=bool(assignment.gold_correct),
        expected=expected,
        score=assignment.gold_score,
        shows_expected=True,
    )


def worker_public_id(requester_id: int, worker_id: int) -> str:
    """A worker's id as one requester sees it: stable for that requester, unlinkable across
    requesters, and not the user's primary key."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{requester_id}:{worker_id}".encode(), hashlib.sha256
    ).hexdigest()
    return "w_" + digest[:12]


def bundle_worker_from_public_id(bundle: Bundle, public_id: str) -> int | None:
    """The user id behind a pseudonym, among the workers who worked on this bundle (one pass
    over the bundle's worker stats; pseudonyms cannot be inverted)."""
    for worker_id in WorkerBundleStats.objects.filter(bundle=bundle).values_list(
        "worker_id", flat=True
    ):
        if worker_public_id(bundle.requester_id, worker_id) == public_id:
            return worker_id
    return None


def bundle_result_rows(bundle: Bundle, *, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
    """One row per item with every judgment that counts (submitted or approved), streamed in
    chunks with two queries per chunk, so a million-item export runs in flat memory."""
    last_id = 0
    while True:
        items = list(
            Item.objects.filter(bundle=bundle, pk__gt=last_id)
            .order_by("pk")
            .values("id", "external_id", "payload", "is_gold")[:chunk_size]
        )
        if not items:
            return
        ids = [item["id"] for item in items]
        judgments: dict[int, list[dict[str, Any]]] = {}
        for row in (
            Assignment.objects.filter(item_id__in=ids, status__in=JUDGMENT_STATUSES)
            .order_by("item_id", "submitted_at", "id")
            .values_list("item_id", "worker_id", "answer", "seconds_spent", "status")
        ):
            item_id, worker_id, answer, seconds, status = row
            judgments.setdefault(item_id, []).append(
                {
                    "worker_id": worker_public_id(bundle.requester_id, worker_id),
                    "answer": answer,
                    "seconds": round(seconds, 3) if seconds is not None else None,
                    "status": status,
                }
            )
        results = {r.item_id: r for r in ItemResult.objects.filter(item_id__in=ids)}
        for item in items:
            result = results.get(item["id"])
            yield {
                "item_id": item["id"],
                "external_id": item["external_id"],
                "payload": item["payload"],
                "is_gold": item["is_gold"],
                "label": result.label if result else None,
                "confidence": result.confidence if result else None,
                "method": result.method if result else None,
                "judgments": judgments.get(item["id"], []),
            }
        last_id = ids[-1]


def bundle_payload_keys(bundle: Bundle) -> list[str]:
    """Union of payload keys in first-seen order, for the CSV header."""
    keys: dict[str, None] = {}
    for payload in (
        Item.objects.filter(bundle=bundle)
        .values_list("payload", flat=True)
        .iterator(chunk_size=5000)
    ):
        if isinstance(payload, dict):
            keys.update(dict.fromkeys(payload))
    return list(keys)


def bundle_worker_stats(bundle: Bundle) -> QuerySet[WorkerBundleStats]:
    return WorkerBundleStats.objects.filter(bundle=bundle).order_by("-submitted", "id")

"""Reads of the quality engine: the judgments that count in a bundle, the per-worker quality
report of a bundle (for its requester) and the per-worker summary across bundles (for staff).

Each report is a fixed number of queries for the whole set of workers, whatever its size (no
query per worker): the stats rows, and one pass over the workers' answers joined to the items'
aggregated results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from django.db.models import Count, F, Q, QuerySet, Sum

from tasks.models import Assignment, AssignmentStatus, Bundle, WorkerBundleStats
from tasks.schema import answers_agree

from .aggregation import aggregate_numbers, wilson_interval
from .rules import COUNTED_STATUSES, WILSON_Z

ANSWERED_STATUSES = (*COUNTED_STATUSES, AssignmentStatus.REJECTED)


def counted_judgments(*, bundle_id: int) -> QuerySet[Assignment]:
    """The judgments that count in a bundle: submitted or approved, blocked workers left out.
    (One subquery, not a multi-valued `exclude`, whose conditions need not match one row.)"""
    blocked = WorkerBundleStats.objects.filter(bundle_id=bundle_id, blocked=True).values(
        "worker_id"
    )
    return Assignment.objects.filter(bundle_id=bundle_id, status__in=COUNTED_STATUSES).exclude(
        worker_id__in=blocked
    )


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _medians(owner_index: np.ndarray, seconds: np.ndarray, n: int) -> list[float | None]:
    """Median per owner (vectorised, `aggregate_numbers`), None for owners without timings."""
    if not n:
        return []
    medians = aggregate_numbers(owner_index, seconds, n_items=n).values
    return [None if np.isnan(m) else round(float(m), 3) for m in medians]


def bundle_worker_report(
    bundle: Bundle, *, worker_ids: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """Per worker of the bundle (or of `worker_ids` in it), ordered like the stats list:

    `worker_id` (internal), `submitted`, `approved`, `rejected`, `gold_seen`, `gold_correct`,
    `gold_accuracy` with its 95% Wilson interval (`gold_accuracy_low`, `gold_accuracy_high`),
    `consensus_agreement` (share of their counted non-gold answers equal to the item's
    aggregated label, by the schema's matching rule) with `consensus_compared`, `approval_rate`
    (approved / reviewed), `median_seconds`, `fast_fraction` (answers under the bundle's speed
    floor, None without a floor), `estimated_accuracy` (last Dawid-Skene run, when stored),
    `blocked`, `blocked_reason`, `blocked_at`.

    Two queries: the stats rows, and the workers' answers with their items' results."""
    stats_query = WorkerBundleStats.objects.filter(bundle=bundle).order_by("-submitted", "id")
    if worker_ids is not None:
        stats_query = stats_query.filter(worker_id__in=list(worker_ids))
    stats = list(stats_query)
    if not stats:
        return []
    index = {s.worker_id: i for i, s in enumerate(stats)}
    n = len(stats)
    answers = (
        Assignment.objects.filter(
            bundle=bundle, worker_id__in=list(index), status__in=ANSWERED_STATUSES
        )
        .order_by()
        .values_list(
            "worker_id", "is_gold", "status", "seconds_spent", "answer", "item__result__label"
        )
    )
    owner, seconds = [], []
    compared = np.zeros(n, dtype=np.int64)
    agreed = np.zeros(n, dtype=np.int64)
    fast = np.zeros(n, dtype=np.int64)
    timed = np.zeros(n, dtype=np.int64)
    floor = bundle.min_seconds_per_task
    question = bundle.question
    for worker_id, is_gold, status, spent, answer, label in answers.iterator(chunk_size=5000):
        i = index[worker_id]
        if spent is not None:
            owner.append(i)
            seconds.append(spent)
            timed[i] += 1
            if floor is not None and spent < floor:
                fast[i] += 1
        if not is_gold and status in COUNTED_STATUSES and label is not None:
            compared[i] += 1
            agreed[i] += bool(answers_agree(question, answer, label))
    medians = _medians(np.asarray(owner, np.int64), np.asarray(seconds, np.float64), n)
    seen = np.array([s.gold_seen for s in stats])
    interval = wilson_interval(np.array([s.gold_correct for s in stats]), seen, WILSON_Z)
    low, high = np.asarray(interval[0]), np.asarray(interval[1])  # arrays: `seen` is one
    report = []
    for i, s in enumerate(stats):
        has_gold = s.gold_seen > 0
        report.append(
            {
                "worker_id": s.worker_id,
                "submitted": s.submitted,
                "approved": s.approved,
                "rejected": s.rejected,
                "gold_seen": s.gold_seen,
                "gold_correct": s.gold_correct,
                "gold_accuracy": _ratio(s.gold_correct, s.gold_seen),
                "gold_accuracy_low": round(float(low[i]), 4) if has_gold else None,
                "gold_accuracy_high": round(float(high[i]), 4) if has_gold else None,
                "consensus_agreement": _ratio(int(agreed[i]), int(compared[i])),
                "consensus_compared": int(compared[i]),
                "approval_rate": _ratio(s.approved, s.approved + s.rejected),
                "median_seconds": medians[i],
                "fast_fraction": _ratio(int(fast[i]), int(timed[i])) if floor is not None else None,
                "estimated_accuracy": s.estimated_accuracy,
                "blocked": s.blocked,
                "blocked_reason": s.blocked_reason,
                "blocked_at": s.blocked_at,
            }
        )
    return report


def worker_quality_summary(worker_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Per worker across all bundles (for staff): totals, gold accuracy with its Wilson interval,
    approval rate, bundles worked and bundles blocked in, median seconds per answer and the
    share of answers under their bundle's speed floor. Three queries for any number of workers.
    """
    ids = list(worker_ids)
    if not ids:
        return {}
    totals = {
        row["worker_id"]: row
        for row in WorkerBundleStats.objects.filter(worker_id__in=ids)
        .values("worker_id")
        .annotate(
            bundles=Count("id"),
            bundles_blocked=Count("id", filter=Q(blocked=True)),
            submitted_total=Sum("submitted"),
            approved_total=Sum("approved"),
            rejected_total=Sum("rejected"),
            gold_seen_total=Sum("gold_seen"),
            gold_correct_total=Sum("gold_correct"),
        )
    }
    speed = {
        row["worker_id"]: row
        for row in Assignment.objects.filter(worker_id__in=ids, seconds_spent__isnull=False)
        .values("worker_id")
        .annotate(
            floored=Count("id", filter=Q(bundle__min_seconds_per_task__isnull=False)),
            fast=Count("id", filter=Q(seconds_spent__lt=F("bundle__min_seconds_per_task"))),
        )
    }
    position = {w: i for i, w in enumerate(ids)}
    timings = list(
        Assignment.objects.filter(worker_id__in=ids, seconds_spent__isnull=False)
        .order_by()
        .values_list("worker_id", "seconds_spent")
    )
    medians = _medians(
        np.fromiter((position[w] for w, _ in timings), np.int64, len(timings)),
        np.fromiter((s for _, s in timings), np.float64, len(timings)),
        len(ids),
    )
    out: dict[int, dict[str, Any]] = {}
    for worker_id in ids:
        row: Mapping[str, Any] = totals.get(worker_id, {})
        seen, correct = row.get("gold_seen_total") or 0, row.get("gold_correct_total") or 0
        approved, rejected = row.get("approved_total") or 0, row.get("rejected_total") or 0
        low, high = wilson_interval(correct, seen, WILSON_Z)
        pace: Mapping[str, Any] = speed.get(worker_id, {})
        out[worker_id] = {
            "bundles": row.get("bundles", 0),
            "bundles_blocked": row.get("bundles_blocked", 0),
            "submitted": row.get("submitted_total") or 0,
            "approved": approved,
            "rejected": rejected,
            "gold_seen": seen,
            "gold_correct": correct,
            "gold_accuracy": _ratio(correct, seen),
            "gold_accuracy_low": round(float(low), 4) if seen else None,
            "gold_accuracy_high": round(float(high), 4) if seen else None,
            "approval_rate": _ratio(approved, approved + rejected),
            "median_seconds": medians[position[worker_id]],
            "fast_fraction": _ratio(pace.get("fast", 0), pace.get("floored", 0)),
        }
    return out


def vote_weights(*, bundle_id: int, worker_ids: Iterable[int]) -> dict[int, float]:
    """Workers whose votes a quality rule lowered (`lower_weight`), and their weight in [0, 1);
    everyone else weighs 1 and is not listed."""
    return dict(
        WorkerBundleStats.objects.filter(
            bundle_id=bundle_id, worker_id__in=list(worker_ids), weight__lt=1.0
        ).values_list("worker_id", "weight")
    )


__all__ = [
    "bundle_worker_report",
    "counted_judgments",
    "vote_weights",
    "worker_quality_summary",
]

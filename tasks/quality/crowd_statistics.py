"""What the rules engine compares one worker with: the bundle's median answer time (the speed
collector's floor) and the crowd's answer counts (the distribution collector's baseline).

Both are bundle-wide, and the rules engine weighs them after every submission, so reading the
whole bundle each time made a submit cost O(bundle). Here a bundle with at most
`EXACT_LIMIT` answers is read whole (the figures are exact, as before; one bounded query);
a larger one is summarised once per `REFRESH_SECONDS` and the summary kept in the cache (one
lookup per submission). A summary a minute old moves the median of thousands of answers by
little, and a rule weighs a worker over several answers anyway.

The cache key names the bundle's creation time as well as its id: a database that reuses ids
(SQLite after a rollback) never hands one bundle another's figures.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from statistics import median
from typing import Any

from django.core.cache import cache

from tasks.models import Assignment, Bundle

from .rules import COUNTED_STATUSES

#: Up to this many answers a bundle's figures are computed exactly on every evaluation.
EXACT_LIMIT = 500
#: How long a large bundle's summary serves before it is computed again.
REFRESH_SECONDS = 60.0
#: The crowd counts keep this many of the most frequent answers (choice questions have a few;
#: free text has many, and an answer outside these counts as rare).
TOP_ANSWERS = 200


def answer_key(answer: Any) -> str:
    """One answer as a comparable key (the JSON of its value, keys sorted)."""
    return json.dumps(answer, sort_keys=True)


@dataclass(frozen=True)
class CrowdAnswers:
    """The crowd's non-gold answers: how often each (of the most frequent) was given, of
    `total`; `exact` when every answer was read just now (then the worker's own are left out
    by the query), else a summary of the whole bundle the worker's own are taken out of."""

    counts: dict[str, int]
    total: int
    exact: bool

    def share_of(self, key: str, *, own: int = 0, own_total: int = 0) -> float:
        """The share of `key` among the other workers' answers. On a summary the worker's
        `own` answers of `key` (of `own_total`) are subtracted; the summary can be older than
        their latest answers, so neither figure goes below zero."""
        count, total = self.counts.get(key, 0), self.total
        if not self.exact:
            count, total = max(count - own, 0), max(total - own_total, 0)
        return count / total if total else 0.0


def _key(bundle: Bundle, what: str) -> str:
    return f"quality-crowd:{what}:{bundle.pk}:{bundle.created_at.timestamp():.6f}"


def _timed(bundle: Bundle) -> Any:
    return Assignment.objects.filter(
        bundle_id=bundle.pk, status__in=COUNTED_STATUSES, seconds_spent__isnull=False
    ).values_list("seconds_spent", flat=True)


def bundle_median_seconds(bundle: Bundle, *, least: int) -> float | None:
    """The median answer time in the bundle, or None below `least` timed answers."""
    key = _key(bundle, "median")
    summary = cache.get(key)
    if summary is None:
        sample = [float(s or 0) for s in _timed(bundle)[: EXACT_LIMIT + 1]]
        if len(sample) <= EXACT_LIMIT:
            return median(sample) if sample and len(sample) >= least else None
        every = [float(s or 0) for s in _timed(bundle).iterator(chunk_size=5000)]
        summary = (median(every), len(every))
        cache.set(key, summary, timeout=REFRESH_SECONDS)
    value, count = summary
    return float(value) if count >= least else None


def crowd_answers(bundle: Bundle, *, excluding_worker: int) -> CrowdAnswers:
    """The other workers' non-gold answers in the bundle (`CrowdAnswers`)."""
    key = _key(bundle, "answers")
    cached = cache.get(key)
    if cached is not None:
        return CrowdAnswers(counts=cached["counts"], total=cached["total"], exact=False)
    answers = Assignment.objects.filter(
        bundle_id=bundle.pk, status__in=COUNTED_STATUSES, is_gold=False
    ).values_list("answer", flat=True)
    others = answers.exclude(worker_id=excluding_worker)
    sample = [answer_key(a) for a in others[: EXACT_LIMIT + 1]]
    if len(sample) <= EXACT_LIMIT:
        return CrowdAnswers(counts=dict(Counter(sample)), total=len(sample), exact=True)
    every = Counter(answer_key(a) for a in answers.iterator(chunk_size=5000))
    counts, total = dict(every.most_common(TOP_ANSWERS)), every.total()
    cache.set(key, {"counts": counts, "total": total}, timeout=REFRESH_SECONDS)
    return CrowdAnswers(counts=counts, total=total, exact=False)

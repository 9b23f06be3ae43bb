"""Writes of the quality engine, entry point: the follow-up of a committed submission.

The jobs live in their own modules: the rules (`rules`), blocking (`blocking`), the per-item
decision of dynamic overlap (`decisions`), the whole-bundle aggregation (`bundle_aggregation`)
and the reads (`selectors`). The numbers come from the pure-numpy engine (`aggregation`).

Invariants kept by these modules (and relied on by the claim/submit hot path):

* `Item.judgments_submitted` counts the judgments that *count*: non-gold assignments that are
  submitted or approved, by workers not blocked in the bundle. The hot path adds one per
  submission; `item_decide` recounts it from the assignments under the item's row lock, so a
  block (which stops a worker's answers from counting) is reflected exactly and idempotently.
* Slots: for every item of a live bundle, `judgments_submitted + live claims + slots_open <=
  max_overlap`. Slots are only ever opened up to that room, so no item buys more than
  `max_overlap` counted judgments, and an item is complete only with at least `min_overlap`.
* A blocked worker's answers in the bundle are excluded from every aggregation.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError

from tasks.models import Bundle

from .blocking import worker_quality_check
from .decisions import item_decide
from .exams import exam_grade
from .rules_engine import quality_rules_check

logger = logging.getLogger(__name__)


def submission_recorded(
    *,
    assignment_id: int,
    bundle_id: int,
    worker_id: int,
    item_id: int,
    is_gold: bool,
    retry: bool = True,
) -> None:
    """Follow-up of one committed submission: the worker's rules (gold accuracy, too fast, then
    the bundle's rules engine, `rules_engine`), then, on a dynamic-overlap bundle, the item's
    decision: its live label and confidence, and whether it is complete or needs one more (a
    fixed-overlap item's live label comes from the batched live update).

    The submission itself is already safe; a database error here (a deadlock, a lock timeout)
    is logged and retried by a Celery task instead of failing the worker's request, and the
    periodic re-aggregation also decides any dynamic item left waiting with no open slot.
    `retry=False` (the retry itself) lets the error propagate so Celery records it."""
    try:
        bundle = Bundle.objects.get(pk=bundle_id)
        if bundle.exam and is_gold:
            exam_grade(worker_id=worker_id, bundle_id=bundle_id)
        blocked = False
        gold_rule = is_gold and bundle.min_gold_accuracy is not None
        if gold_rule or bundle.min_seconds_per_task is not None:
            blocked = worker_quality_check(worker_id=worker_id, bundle_id=bundle_id)
        if bundle.quality_rules and not blocked:
            blocked = quality_rules_check(worker_id=worker_id, bundle_id=bundle_id, bundle=bundle)
        # A block re-decides every item the worker judged, this one included. On fixed overlap
        # nothing is decided per answer: the hot path counted the slot, and the live label is
        # the batched live update's (`tasks.quality.live`, asked for by every submission), as
        # on a bundle without rules; deciding here too cost a rules bundle's submission more
        # than half its follow-up (bench/submit_follow_up.py).
        if bundle.is_dynamic_overlap and not is_gold and not blocked:
            item_decide(item_id=item_id)
    except DatabaseError:
        if not retry:
            raise
        logger.exception("quality follow-up of assignment %s failed; retrying", assignment_id)
        _retry_later(
            assignment_id=assignment_id,
            bundle_id=bundle_id,
            worker_id=worker_id,
            item_id=item_id,
            is_gold=is_gold,
        )


def _retry_later(**kwargs: Any) -> None:
    # Lazily: tasks.tasks, the Celery entry module, imports the quality services.
    from tasks.tasks import submission_recorded_task

    try:
        submission_recorded_task.apply_async(kwargs=kwargs, countdown=10)
    except Exception:  # the broker may be down too; the periodic sweep is the last resort
        logger.exception("could not schedule the quality follow-up %s", kwargs)

"""Live labels and live estimates, batched per bundle (issue 13, items 3 and 6).

Every submission asks for a live update of its bundle (`live_update_schedule`), which costs the
claim/submit hot path one cache `add`: the first submission in a debounce window schedules the
Celery task `tasks.tasks.bundle_live_update_task` for the end of the window, the others find the
key and do nothing. (Deciding the item on every answer cost the claim/submit loop 7x its
throughput in bench/claim.py; a batch per bundle costs it nothing measurable.)

The task (`bundle_live_update`) then, for one bundle:

* re-runs the whole-bundle Dawid-Skene (`bundle_aggregate`: labels, the workers' estimates the
  per-item decision reads, rings, calibration) when the bundle has grown by a share of what the
  last run saw (`GROWTH`, at least `MIN_NEW_JUDGMENTS`): geometric spacing, so the runs cost
  a constant factor of one final run however long the bundle lives;
* otherwise labels only the fixed-overlap items judged since the last pass, with the per-item
  decision and the stored estimates (dynamic-overlap items are decided on each answer already);
* completes the bundle once all its items are complete (`bundle_complete_if_done`).

Runs of one bundle in several processes are serialised by a conditional update of
`BundleQuality.labelled_at`; the periodic re-aggregation stays the safety net.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from tasks.escrow import escrow_settle
from tasks.lifecycle import bundle_complete_if_done
from tasks.locking import lock_bundle
from tasks.models import Bundle, BundleQuality

from .bundle_aggregation import bundle_aggregate
from .decisions import items_decide_waiting, items_label
from .rules import LIVE_STATUSES
from .selectors import counted_judgments

logger = logging.getLogger(__name__)

#: Re-estimate once the bundle has this share more counted judgments than the last run saw...
GROWTH = 0.5
#: ... and at least this many more.
MIN_NEW_JUDGMENTS = 20
#: Below this many counted judgments a whole-bundle fit says less about a worker than their
#: gold record does (one answer each): the per-item decision keeps the gold record.
MIN_ESTIMATE_JUDGMENTS = 30


def _debounce() -> float:
    return float(getattr(settings, "QUALITY_LIVE_DEBOUNCE_SECONDS", 30.0))


def live_update_schedule(bundle_id: int) -> None:
    """After a submission commits: make sure a live update of the bundle is on its way."""
    debounce = _debounce()
    if debounce > 0 and not cache.add(f"quality-live:{bundle_id}", 1, timeout=debounce):
        return
    # Lazily: tasks.tasks, the Celery entry module, imports the services.
    from tasks.tasks import bundle_live_update_task

    try:
        bundle_live_update_task.apply_async((bundle_id,), countdown=debounce)
    except Exception:  # the broker may be down; the periodic re-aggregation catches up
        logger.exception("could not schedule the live update of bundle %s", bundle_id)


def _claim_run(bundle_id: int, now: datetime) -> BundleQuality | None:
    quality, _ = BundleQuality.objects.get_or_create(bundle_id=bundle_id)
    claimed = BundleQuality.objects.filter(pk=quality.pk, labelled_at=quality.labelled_at).update(
        labelled_at=now
    )
    return quality if claimed else None


def estimate_due(quality: BundleQuality, counted: int) -> bool:
    """Whether the bundle grew enough since the last whole-bundle run to re-estimate."""
    if counted < MIN_ESTIMATE_JUDGMENTS:
        return False
    if quality.estimated_at is None:
        return True
    grown = counted - quality.estimated_judgments
    return grown >= max(MIN_NEW_JUDGMENTS, GROWTH * quality.estimated_judgments)


def _label(bundle: Bundle, item_ids: list[int]) -> int:
    """`items_label` under the bundle's row lock, the one every writer of several of a
    bundle's results takes first (`bundle_aggregation._results_write`)."""
    with transaction.atomic():
        lock_bundle(bundle.pk)
        return items_label(bundle=bundle, item_ids=item_ids)


def bundle_live_update(*, bundle_id: int) -> dict[str, Any]:
    """One live update of a bundle (the task's body; idempotent). Returns what it did."""
    bundle = Bundle.objects.only("id", "status", "min_overlap", "max_overlap", "question").get(
        pk=bundle_id
    )
    if bundle.status not in LIVE_STATUSES:
        return {"skipped": "finished"}
    now = timezone.now()
    quality = _claim_run(bundle_id, now)
    if quality is None:
        return {"skipped": "running elsewhere"}
    done: dict[str, Any] = {"estimated": False, "labelled": 0}
    counted = counted_judgments(bundle_id=bundle_id).count()
    if estimate_due(quality, counted):
        start = time.monotonic()
        bundle_aggregate(bundle_id=bundle_id)
        BundleQuality.objects.filter(pk=quality.pk).update(
            estimated_at=now, estimated_judgments=counted,
            estimate_seconds=time.monotonic() - start,
        )  # fmt: skip
        if bundle.is_dynamic_overlap:
            items_decide_waiting(bundle_id=bundle_id)
        else:
            # While the bundle runs, its labels are the per-item decision's, now with the new
            # estimates and rings (a strict majority kept: `decisions.majority_kept`); the
            # whole-bundle labels are the final ones, written when it completes.
            judged = (
                counted_judgments(bundle_id=bundle_id)
                .filter(is_gold=False)
                .values_list("item_id", flat=True)
            )
            done["labelled"] = _label(bundle, sorted(set(judged)))
        done["estimated"] = True
    elif not bundle.is_dynamic_overlap:
        since = counted_judgments(bundle_id=bundle_id).filter(is_gold=False)
        if quality.labelled_at is not None:
            since = since.filter(submitted_at__gte=quality.labelled_at)
        item_ids = sorted(set(since.values_list("item_id", flat=True)))
        done["labelled"] = _label(bundle, item_ids)
    with transaction.atomic():
        done["completed"] = bundle_complete_if_done(bundle_id=bundle_id)
    if done["completed"]:  # what the finished bundle no longer needs goes back now
        escrow_settle(bundle_id=bundle_id)
    return done

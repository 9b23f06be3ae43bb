"""The rules engine's actions short of a block, and how each is undone.

A block (`blocking.worker_block`) stops a worker and discards their answers; these are the
gentler or more targeted answers a requester can choose per rule (`rules_engine`):

* ``reject_requeue``: reject the worker's recent unreviewed answers here with the rule's reason
  (through `tasks.review.assignment_reject`: nothing is paid, the item asks for another
  judgment) and re-decide those items. Undone by overturning each rejection, which pays once
  (`tasks.review.assignment_overturn`).
* ``pause``: the worker cannot claim here until the requester resumes them; their answers still
  count. Undone by resuming.
* ``lower_weight``: their votes weigh less in the live decision (`WorkerBundleStats.weight`,
  read by `decisions.worker_accuracies`); the items they judged are re-decided. Undone by
  restoring the weight they had.
* ``grant_qualification`` / ``revoke_qualification``: one of the requester's own
  qualifications. Undone by restoring the value the worker held before (or none).

Each returns the figures to add to the history row (what it did, and what to restore); the
reversal reads them back. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Qualification, User, WorkerQualification
from accounts.services import qualification_grant, qualification_revoke
from marketplace.errors import DomainError, InvalidTransition
from tasks.locking import lock_bundle
from tasks.models import Assignment, AssignmentStatus, Bundle, QualityRuleEvent, WorkerBundleStats
from tasks.review import assignment_overturn, assignment_reject

from .decisions import items_decide

#: Defaults of the action parameters (validated in `rules_engine.quality_rules_validate`).
DEFAULT_RECENT = 50
DEFAULT_WEIGHT = 0.3


def _stats(worker_id: int, bundle: Bundle) -> WorkerBundleStats:
    stats, _ = WorkerBundleStats.objects.get_or_create(worker_id=worker_id, bundle=bundle)
    return stats


def _items_judged(worker_id: int, bundle_id: int) -> list[int]:
    return sorted(
        set(
            Assignment.objects.filter(
                worker_id=worker_id, bundle_id=bundle_id, is_gold=False, submitted_at__isnull=False
            ).values_list("item_id", flat=True)
        )
    )


@transaction.atomic
def reject_recent(*, bundle: Bundle, worker_id: int, reason: str, recent: int) -> dict[str, Any]:
    """Reject the worker's `recent` latest unreviewed non-gold answers here with `reason` and
    re-decide their items (reopened while the bundle is live: the escrow of an unpaid answer
    pays its replacement). Gold answers stay: they are the evidence."""
    lock_bundle(bundle.pk)
    pending = list(
        Assignment.objects.filter(
            worker_id=worker_id, bundle_id=bundle.pk, is_gold=False,
            status=AssignmentStatus.SUBMITTED,
        ).order_by("-submitted_at", "-id").values_list("id", "item_id")[:recent]
    )  # fmt: skip
    note = f"Rejected by a quality rule: {reason}"
    rejected, items = [], []
    for assignment_id, item_id in sorted(pending):
        try:
            assignment_reject(assignment_id=assignment_id, by=None, reason=note)
        except DomainError:  # reviewed meanwhile: that review stands
            continue
        rejected.append(assignment_id)
        items.append(item_id)
    items_decide(item_ids=sorted(set(items)))
    return {"rejected": rejected}


def reject_recent_undo(*, event: QualityRuleEvent, by: User) -> None:
    """Overturn each rejection the rule made (paid once, from escrow topped up for it), then
    re-decide the items: the answers count again."""
    items = []
    for assignment_id in event.figures.get("rejected", []):
        try:
            assignment = assignment_overturn(assignment_id=assignment_id, by=by)
        except InvalidTransition:  # overturned meanwhile (an appeal): paid already, once
            continue
        items.append(assignment.item_id)
    items_decide(item_ids=sorted(set(items)))


@transaction.atomic
def pause(*, bundle: Bundle, worker_id: int, reason: str) -> dict[str, Any]:
    """Stop the worker claiming here (their live claim may still be answered) until resumed."""
    lock_bundle(bundle.pk)
    stats = _stats(worker_id, bundle)
    WorkerBundleStats.objects.filter(pk=stats.pk).update(paused=True, paused_reason=reason)
    return {"paused": True}


def pause_undo(*, event: QualityRuleEvent, by: User) -> None:
    WorkerBundleStats.objects.filter(worker_id=event.worker_id, bundle_id=event.bundle_id).update(
        paused=False, paused_reason=""
    )


@transaction.atomic
def lower_weight(*, bundle: Bundle, worker_id: int, weight: float) -> dict[str, Any]:
    """Weigh the worker's votes at most `weight` here, and re-decide the items they judged."""
    lock_bundle(bundle.pk)
    stats = _stats(worker_id, bundle)
    previous = stats.weight
    WorkerBundleStats.objects.filter(pk=stats.pk).update(weight=min(previous, weight))
    items_decide(item_ids=_items_judged(worker_id, bundle.pk))
    return {"previous_weight": previous, "weight": min(previous, weight)}


def lower_weight_undo(*, event: QualityRuleEvent, by: User) -> None:
    previous = float(event.figures.get("previous_weight", 1.0))
    WorkerBundleStats.objects.filter(worker_id=event.worker_id, bundle_id=event.bundle_id).update(
        weight=previous
    )
    items_decide(item_ids=_items_judged(event.worker_id, event.bundle_id))


def requester_qualification(*, requester_id: int, name: str) -> Qualification:
    """The requester's own qualification of that name (rules act on no one else's)."""
    found = Qualification.objects.filter(owner_id=requester_id, name=name).first()
    if found is None:
        raise DomainError(
            f"Unknown qualification {name!r}: create it first.", code="unknown_qualification"
        )
    return found


def _held(worker_id: int, qualification: Qualification) -> int | None:
    return (
        WorkerQualification.objects.filter(worker_id=worker_id, qualification=qualification)
        .values_list("value", flat=True)
        .first()
    )


@transaction.atomic
def set_qualification(
    *, bundle: Bundle, worker_id: int, name: str, value: int | None
) -> dict[str, Any]:
    """Grant the requester's qualification `name` at `value`, or revoke it (None)."""
    qualification = requester_qualification(requester_id=bundle.requester_id, name=name)
    worker = User.objects.get(pk=worker_id)
    previous = _held(worker_id, qualification)
    if value is None:
        qualification_revoke(qualification=qualification, worker=worker)
    else:
        qualification_grant(qualification=qualification, worker=worker, value=value)
    return {"qualification": name, "previous_value": previous, "value": value}


def set_qualification_undo(*, event: QualityRuleEvent, by: User) -> None:
    qualification = requester_qualification(
        requester_id=event.bundle.requester_id, name=event.figures["qualification"]
    )
    worker = User.objects.get(pk=event.worker_id)
    previous = event.figures.get("previous_value")
    if previous is None:
        qualification_revoke(qualification=qualification, worker=worker)
    else:
        qualification_grant(qualification=qualification, worker=worker, value=int(previous), by=by)


#: action -> how to undo it (blocks and notify are undone in `rules_engine`).
UNDO = {
    "reject_requeue": reject_recent_undo,
    "pause": pause_undo,
    "lower_weight": lower_weight_undo,
    "grant_qualification": set_qualification_undo,
    "revoke_qualification": set_qualification_undo,
}

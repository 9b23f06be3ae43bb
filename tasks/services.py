"""Writes on bundles, items and assignments.

Every state change is one transaction: a transition map check, a conditional UPDATE of exactly
one row (so a concurrent change loses cleanly instead of being overwritten), and the counters
it implies by `F()` updates. Money moves through `payments` inside the same transaction.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, BinaryIO

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from accounts.qualifications import requirements_parse
from accounts.services import worker_record_review
from marketplace.errors import Conflict, DomainError, Forbidden, InvalidTransition, NotFound
from payments import selectors as payment_selectors
from payments import services as payments

from . import work
from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleEvent,
    BundleStatus,
    Item,
    ItemState,
    WorkerBundleStats,
)
from .quality import services as quality
from .schema import question_validate
from .states import (
    ASSIGNMENT_TRANSITIONS,  # noqa: F401
    BUNDLE_TRANSITIONS,
    AssignmentNotFound,  # noqa: F401
    assignment_transition,
    check_transition,
    give_gold_slot_back,
    lock_assignment,
    stats_add,
)

# Bundle fields a requester may change, by state. Money-bearing fields freeze at publish.
logger = logging.getLogger(__name__)

QUALITY_RULES = {
    "min_gold_accuracy", "min_gold_answers", "min_seconds_per_task", "max_fast_fraction",
    "reject_blocked_work", "gold_feedback",
}  # fmt: skip
EDITABLE_WHEN_DRAFT = {
    "title", "instructions", "question", "reward_minor", "currency", "min_overlap",
    "max_overlap", "target_confidence", "gold_rate", "time_limit_seconds",
    "auto_approve_after_seconds", "expires_at", "requirements", *QUALITY_RULES,
}  # fmt: skip
EDITABLE_WHEN_LIVE = {"title", "instructions", "time_limit_seconds", "expires_at", *QUALITY_RULES}


class BundleNotFound(NotFound):
    code = "bundle_not_found"


# ---------------------------------------------------------------------------------------------
# Bundles


def bundle_validate_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Canonical bundle settings from client data; raises DomainError naming the bad field."""
    clean = dict(data)
    if "question" in clean:
        clean["question"] = question_validate(clean["question"])
    if "requirements" in clean:
        clean["requirements"] = [r.as_dict() for r in requirements_parse(clean["requirements"])]
    if "overlap" in clean:
        overlap = clean.pop("overlap")
        clean["min_overlap"] = clean["max_overlap"] = overlap
    low, high = clean.get("min_overlap"), clean.get("max_overlap")
    if low is not None and high is None:
        clean["max_overlap"] = high = low
    if high is not None and low is None:
        clean["min_overlap"] = low = high
    if low is not None and not 1 <= low <= high <= 100:
        raise DomainError(
            "Overlap must satisfy 1 <= min_overlap <= max_overlap <= 100.", code="invalid_overlap"
        )
    target = clean.get("target_confidence")
    if target is not None and not 0.5 <= target < 1:
        raise DomainError("target_confidence must be in [0.5, 1).", code="invalid_target")
    rate = clean.get("gold_rate")
    if rate is not None and not 0 <= rate < 1:
        raise DomainError("gold_rate must be in [0, 1).", code="invalid_gold_rate")
    accuracy = clean.get("min_gold_accuracy")
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise DomainError("min_gold_accuracy must be in [0, 1].", code="invalid_gold_accuracy")
    if "currency" in clean:
        clean["currency"] = str(clean["currency"]).lower()
    return clean


@transaction.atomic
def bundle_create(*, requester: User, data: dict[str, Any]) -> Bundle:
    if not requester.is_requester:
        raise Forbidden("Only requesters create bundles.", code="not_a_requester")
    clean = bundle_validate_settings(data)
    unknown = set(clean) - EDITABLE_WHEN_DRAFT
    if unknown:
        raise DomainError(f"Unknown field(s): {', '.join(sorted(unknown))}.", code="invalid")
    if "question" not in clean:
        raise DomainError("A question schema is required.", code="invalid_question")
    bundle = Bundle.objects.create(requester=requester, **clean)
    BundleEvent.objects.create(bundle=bundle, from_status="", to_status=bundle.status, by=requester)
    return bundle


@transaction.atomic
def bundle_update(*, bundle: Bundle, by: User, data: dict[str, Any]) -> Bundle:
    """Drafts may change anything; live bundles only what does not change the price."""
    bundle = Bundle.objects.select_for_update().get(pk=bundle.pk)
    clean = bundle_validate_settings(data)
    allowed = EDITABLE_WHEN_DRAFT if bundle.status == BundleStatus.DRAFT else EDITABLE_WHEN_LIVE
    if bundle.status in (BundleStatus.COMPLETED, BundleStatus.CANCELLED, BundleStatus.EXPIRED):
        allowed = set()
    refused = set(clean) - allowed
    if refused:
        raise DomainError(
            f"Cannot change {', '.join(sorted(refused))} on a {bundle.status} bundle.",
            code="field_locked",
            http_status=409,
        )
    for key, value in clean.items():
        setattr(bundle, key, value)
    if bundle.min_overlap > bundle.max_overlap:
        raise DomainError("min_overlap must not exceed max_overlap.", code="invalid_overlap")
    bundle.save()
    return bundle


def _bundle_transition(
    bundle: Bundle, target: str, *, by: User | None, note: str = "", **fields: Any
) -> Bundle:
    """Move a bundle (already locked by the caller) to `target` and record who did it."""
    current = Bundle.objects.filter(pk=bundle.pk).values_list("status", flat=True).get()
    check_transition(BUNDLE_TRANSITIONS, current, target, "bundle")
    updated = Bundle.objects.filter(pk=bundle.pk, status=current).update(
        status=target, updated_at=timezone.now(), **fields
    )
    if updated != 1:
        raise Conflict("The bundle changed meanwhile; try again.")
    BundleEvent.objects.create(
        bundle=bundle, from_status=current, to_status=target, by=by, note=note
    )
    bundle.refresh_from_db()
    return bundle


def _lock_bundle(bundle: Bundle | int) -> Bundle:
    pk = bundle.pk if isinstance(bundle, Bundle) else bundle
    return Bundle.objects.select_for_update().get(pk=pk)


@transaction.atomic
def bundle_publish(*, bundle: Bundle, by: User) -> Bundle:
    """Open a draft to workers. Needs items; the payments layer reserves escrow here."""
    bundle = _lock_bundle(bundle)
    if bundle.status != BundleStatus.DRAFT:
        raise InvalidTransition(f"Only a draft can be published (this one is {bundle.status}).")
    real_items = bundle.items.filter(is_gold=False).count()
    if real_items == 0:
        raise DomainError("Upload items before publishing.", code="no_items", http_status=409)
    if bundle.gold_rate > 0 and not bundle.items.filter(is_gold=True).exists():
        raise DomainError(
            "gold_rate is set but the bundle has no gold items.", code="no_gold", http_status=409
        )
    _reserve_for_items(bundle, real_items, idempotency_key=f"bundle-{bundle.pk}-publish")
    return _bundle_transition(bundle, BundleStatus.PUBLISHED, by=by, published_at=timezone.now())


def judgments_to_reserve(bundle: Bundle, real_items: int) -> tuple[int, int]:
    """(real judgments, gold judgments) that `real_items` more items can cost at most.

    Every item may need up to max_overlap paid judgments; gold claims are paid too and come on
    top at the gold rate, so of all judgments a share `gold_rate` is gold."""
    real = real_items * bundle.max_overlap
    if bundle.gold_rate <= 0:
        return real, 0
    gold = math.ceil(real * bundle.gold_rate / (1 - bundle.gold_rate) - 1e-9)
    return real, gold


def _reserve_for_items(bundle: Bundle, real_items: int, *, idempotency_key: str) -> int:
    """Reserve escrow for new items in the caller's transaction (publish or a live upload);
    `insufficient_funds` rolls the whole change back, so nothing is published or imported."""
    real, gold = judgments_to_reserve(bundle, real_items)
    reserved = payments.escrow_reserve(
        requester=bundle.requester,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        reward_minor=bundle.reward_minor,
        judgments=real + gold,
        idempotency_key=idempotency_key,
    )
    if gold:
        Bundle.objects.filter(pk=bundle.pk).update(gold_slots_open=F("gold_slots_open") + gold)
    return reserved


def _settle_after_commit(bundle_id: int) -> None:
    """Settle in its own transaction once a review is committed: an approval's payment and the
    release of escrow lock accounts in different orders, so doing both in one transaction
    could deadlock with a concurrent bonus. A settle that fails is retried by the
    `settle_finished_bundles_task` sweep; the review stands either way."""

    def settle() -> None:
        try:
            escrow_settle(bundle_id=bundle_id)
        except Exception:
            logger.exception("escrow settle of bundle %s failed; the sweep retries it", bundle_id)

    transaction.on_commit(settle)


def escrow_settle_finished(*, limit: int = 500) -> int:
    """Settle every finished bundle whose escrow still holds money (the periodic sweep)."""
    done = 0
    for bundle_id in payment_selectors.bundles_with_escrow(limit=limit):
        if escrow_settle(bundle_id=bundle_id):
            done += 1
    return done


def escrow_settle(*, bundle_id: int) -> int:
    """Give a finished bundle's unneeded escrow back to the requester, keeping what its
    still-unreviewed work may cost. Runs at completion, cancellation and expiry, and after
    each later review, so the last review of a finished bundle empties its escrow."""
    bundle = Bundle.objects.get(pk=bundle_id)
    if bundle.status not in (BundleStatus.COMPLETED, BundleStatus.CANCELLED, BundleStatus.EXPIRED):
        return 0
    held = payments.escrow_balance(bundle_id=bundle.pk, currency=bundle.currency)
    pending = bundle.assignments.filter(status=AssignmentStatus.SUBMITTED).count()
    keep = pending * payments.escrow_cost_per_judgment(
        bundle_id=bundle.pk, currency=bundle.currency, reward_minor=bundle.reward_minor
    )
    if held <= keep:
        return 0
    return payments.escrow_release(
        requester_id=bundle.requester_id,
        bundle_id=bundle.pk,
        currency=bundle.currency,
        amount_minor=held - keep,
        idempotency_key=f"bundle-{bundle.pk}-settle-{pending}-{held}",
    )


@transaction.atomic
def bundle_pause(*, bundle: Bundle, by: User) -> Bundle:
    return _bundle_transition(_lock_bundle(bundle), BundleStatus.PAUSED, by=by)


@transaction.atomic
def bundle_resume(*, bundle: Bundle, by: User) -> Bundle:
    bundle = _lock_bundle(bundle)
    if bundle.status != BundleStatus.PAUSED:
        raise InvalidTransition(f"Only a paused bundle can resume (this one is {bundle.status}).")
    return _bundle_transition(bundle, BundleStatus.PUBLISHED, by=by)


@transaction.atomic
def bundle_cancel(*, bundle: Bundle, by: User | None, note: str = "") -> Bundle:
    """Stop a bundle: live claims end now (expired), submitted work stays reviewable."""
    bundle = _lock_bundle(bundle)
    bundle = _bundle_transition(
        bundle, BundleStatus.CANCELLED, by=by, note=note, finished_at=timezone.now()
    )
    _release_live_claims(bundle, AssignmentStatus.EXPIRED)
    escrow_settle(bundle_id=bundle.pk)
    _aggregate_after_commit(bundle.pk)
    return bundle


@transaction.atomic
def bundle_expire(*, bundle: Bundle) -> Bundle:
    bundle = _lock_bundle(bundle)
    bundle = _bundle_transition(
        bundle, BundleStatus.EXPIRED, by=None, note="expiry date passed", finished_at=timezone.now()
    )
    _release_live_claims(bundle, AssignmentStatus.EXPIRED)
    escrow_settle(bundle_id=bundle.pk)
    _aggregate_after_commit(bundle.pk)
    return bundle


def _release_live_claims(bundle: Bundle, status: str) -> None:
    Assignment.objects.filter(bundle=bundle, status=AssignmentStatus.CLAIMED).update(status=status)


def bundle_complete_if_done(*, bundle_id: int) -> bool:
    """Complete a live bundle once every real item is complete and no work awaits a decision.

    Runs inside the caller's transaction (after an approval, a rejection or a submit)."""
    bundle = Bundle.objects.select_for_update().get(pk=bundle_id)
    if bundle.status not in (BundleStatus.PUBLISHED, BundleStatus.PAUSED):
        return False
    if bundle.items.filter(is_gold=False).exclude(state=ItemState.COMPLETE).exists():
        return False
    if bundle.assignments.filter(
        status__in=(AssignmentStatus.CLAIMED, AssignmentStatus.SUBMITTED)
    ).exists():
        return False
    _bundle_transition(
        bundle,
        BundleStatus.COMPLETED,
        by=None,
        note="all items complete",
        finished_at=timezone.now(),
    )
    _aggregate_after_commit(bundle_id)
    return True


def _aggregate_after_commit(bundle_id: int) -> None:
    """The final whole-bundle aggregation runs in Celery once the state change is committed."""
    from .tasks import aggregate_bundle_task

    transaction.on_commit(lambda: aggregate_bundle_task.delay(bundle_id))


@transaction.atomic
def bundle_delete_draft(*, bundle: Bundle, by: User) -> None:
    """A draft has moved no money and no worker has seen it, so it may simply go; anything
    published must be cancelled instead, which keeps its history."""
    bundle = _lock_bundle(bundle)
    if bundle.status != BundleStatus.DRAFT:
        raise InvalidTransition(f"Only drafts can be deleted; cancel a {bundle.status} bundle.")
    bundle.delete()


def bundle_for_claim(*, bundle_id: int, worker: User) -> Bundle:
    """The bundle a worker asks to claim in: 404 unless it has been live (a draft or a
    cancelled bundle does not exist for workers)."""
    bundle = (
        Bundle.objects.filter(
            pk=bundle_id,
            status__in=(BundleStatus.PUBLISHED, BundleStatus.PAUSED, BundleStatus.COMPLETED),
        )
        .exclude(requester=worker)
        .first()
    )
    if bundle is None:
        raise BundleNotFound("No such bundle.")
    return bundle


@transaction.atomic
def bundle_add_items(
    *, bundle: Bundle, by: User, source: BinaryIO, content_type: str | None, filename: str | None
) -> Any:
    """Upload items (CSV, JSON, JSONL) all-or-nothing. Allowed before and while live."""
    from .ingest import items_load, upload_format

    bundle = _lock_bundle(bundle)
    if bundle.status not in (BundleStatus.DRAFT, BundleStatus.PUBLISHED, BundleStatus.PAUSED):
        raise InvalidTransition(f"Cannot add items to a {bundle.status} bundle.")
    first_new = (bundle.items.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    summary = items_load(bundle=bundle, source=source, fmt=upload_format(content_type, filename))
    if bundle.status != BundleStatus.DRAFT and summary.created > summary.gold:
        _reserve_for_items(
            bundle,
            summary.created - summary.gold,
            idempotency_key=f"bundle-{bundle.pk}-items-from-{first_new}",
        )
    return summary


# ---------------------------------------------------------------------------------------------
# Submitting (claiming, returning and expiry are tasks.work's, called directly)


def assignment_submit(
    *, assignment_id: int, worker: User, answer: Any, bundle: Bundle | None = None
) -> Assignment:
    """Record the answer (`tasks.work.submission_record`: validated, gold scored, item and
    stats counted, all or nothing), then the quality follow-up (a block, an item completed
    early) once that has committed, since it reads what the submission wrote: outside a
    transaction, before this returns. With the bundle at hand PostgreSQL needs one statement."""
    submission = work.submission_record(
        assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle
    )
    if submission.follow_up is not None:
        transaction.on_commit(partial(submission_follow_up, follow_up=submission.follow_up))
    return submission.assignment


def assignment_submit_and_claim_next(
    *, assignment_id: int, worker: User, answer: Any, bundle: Bundle
) -> work.SubmittedAndNext:
    """A worker's loop step (the task page, the API's `submit/?next=1`): exactly
    `assignment_submit` then `tasks.work.assignment_claim`, so (outside a transaction) the next
    claim sees what the follow-up decided; one statement on PostgreSQL when no follow-up is
    due. A refused answer claims nothing; no next task is not an error but `no_next`."""
    step = work.submission_record_and_claim(
        assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle
    )
    if step is not None:
        return step
    submitted = assignment_submit(
        assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle
    )
    return work.claim_next(submitted=submitted, bundle=bundle, worker=worker)


def submission_follow_up(*, follow_up: work.FollowUp) -> None:
    """The quality follow-up of one committed submission, now (the demo crowd, all in one
    transaction, runs it where each request would have committed)."""
    quality.submission_recorded(
        assignment_id=follow_up.assignment_id, bundle_id=follow_up.bundle_id,
        worker_id=follow_up.worker_id, item_id=follow_up.item_id, is_gold=follow_up.is_gold,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Review


@transaction.atomic
def assignment_approve(
    *, assignment_id: int, by: User | None, auto: bool = False, requester: User | None = None
) -> Assignment:
    """Accept submitted work (the payments layer pays the worker in this transaction)."""
    scope = {"bundle__requester": requester} if requester is not None else {}
    assignment = lock_assignment(assignment_id, **scope)
    assignment_transition(
        assignment,
        AssignmentStatus.APPROVED,
        reviewed_at=timezone.now(),
        reviewed_by=by,
        auto_approved=auto,
    )
    bundle = assignment.bundle
    payments.assignment_pay(
        requester_id=bundle.requester_id,
        bundle_id=bundle.pk,
        worker_id=assignment.worker_id,
        currency=bundle.currency,
        reward_minor=bundle.reward_minor,
        assignment_id=assignment.pk,
    )
    stats_add(assignment.worker_id, assignment.bundle_id, approved=1)
    worker_record_review(worker_id=assignment.worker_id, approved=1)
    bundle_complete_if_done(bundle_id=assignment.bundle_id)
    _settle_after_commit(assignment.bundle_id)
    return assignment


@transaction.atomic
def assignment_reject(
    *, assignment_id: int, by: User | None, reason: str, requester: User | None = None
) -> Assignment:
    """Refuse submitted work with a reason the worker sees; nothing is paid and, while the
    bundle is live, the item asks for another judgment."""
    if not reason or not reason.strip():
        raise DomainError("A reason is required to reject work.", code="reason_required")
    scope = {"bundle__requester": requester} if requester is not None else {}
    assignment = lock_assignment(assignment_id, **scope)
    assignment_transition(
        assignment,
        AssignmentStatus.REJECTED,
        reviewed_at=timezone.now(),
        reviewed_by=by,
        reject_reason=reason.strip(),
    )
    stats_add(assignment.worker_id, assignment.bundle_id, rejected=1)
    worker_record_review(worker_id=assignment.worker_id, rejected=1)
    bundle = assignment.bundle
    if bundle.status in (BundleStatus.PUBLISHED, BundleStatus.PAUSED):
        if assignment.is_gold:
            give_gold_slot_back(bundle.pk)
        else:
            Item.objects.filter(pk=assignment.item_id).update(
                judgments_submitted=F("judgments_submitted") - 1,
                slots_open=F("slots_open") + 1,
                state=ItemState.OPEN,
            )
    bundle_complete_if_done(bundle_id=assignment.bundle_id)
    _settle_after_commit(assignment.bundle_id)
    return assignment


@dataclass
class ReviewSummary:
    done: list[int]
    errors: dict[int, dict[str, str]]


def assignments_review(
    *, requester: User, assignment_ids: list[int], approve: bool, reason: str = ""
) -> ReviewSummary:
    """Bulk review: each assignment in its own transaction, so one stale id does not undo
    the rest; the summary says which failed and why."""
    if not approve and not reason.strip():
        raise DomainError("A reason is required to reject work.", code="reason_required")
    summary = ReviewSummary(done=[], errors={})
    for assignment_id in sorted(set(assignment_ids)):  # fixed order: no lock-order deadlocks
        try:
            if approve:
                assignment_approve(assignment_id=assignment_id, by=requester, requester=requester)
            else:
                assignment_reject(
                    assignment_id=assignment_id, by=requester, reason=reason, requester=requester
                )
        except DomainError as exc:
            summary.errors[assignment_id] = {"code": exc.code, "detail": exc.detail}
        else:
            summary.done.append(assignment_id)
    return summary


def assignments_auto_approve(*, now: Any = None) -> int:
    """Approve work nobody reviewed within its bundle's delay. Idempotent: each approval is a
    conditional transition, so a concurrent manual review simply wins."""
    now = now or timezone.now()
    approved = 0
    bundles = (
        Bundle.objects.filter(assignments__status=AssignmentStatus.SUBMITTED)
        .distinct()
        .values_list("id", "auto_approve_after_seconds")
    )
    for bundle_id, delay in bundles:
        cutoff = now - timedelta(seconds=delay)
        due = Assignment.objects.filter(
            bundle_id=bundle_id, status=AssignmentStatus.SUBMITTED, submitted_at__lte=cutoff
        ).values_list("id", flat=True)
        for assignment_id in list(due):
            try:
                assignment_approve(assignment_id=assignment_id, by=None, auto=True)
            except (InvalidTransition, Conflict):
                continue
            approved += 1
    return approved


def bundles_expire_due(*, now: Any = None) -> int:
    now = now or timezone.now()
    due = Bundle.objects.filter(
        Q(status=BundleStatus.PUBLISHED) | Q(status=BundleStatus.PAUSED), expires_at__lte=now
    ).values_list("id", flat=True)
    count = 0
    for bundle_id in list(due):
        try:
            bundle_expire(bundle=Bundle(pk=bundle_id))
        except InvalidTransition:
            continue
        count += 1
    return count


def worker_block_in_bundle(
    *, worker: User, bundle: Bundle, reason: str, by: User | None = None
) -> WorkerBundleStats:
    """Stop a worker from claiming in one bundle (reversible with worker_unblock_in_bundle)."""
    if not reason.strip():
        raise DomainError("A reason is required to block a worker.", code="reason_required")
    stats, _ = WorkerBundleStats.objects.get_or_create(worker=worker, bundle=bundle)
    WorkerBundleStats.objects.filter(pk=stats.pk).update(
        blocked=True, blocked_reason=reason.strip(), blocked_at=timezone.now()
    )
    stats.refresh_from_db()
    return stats


def worker_unblock_in_bundle(*, worker: User, bundle: Bundle) -> None:
    WorkerBundleStats.objects.filter(worker=worker, bundle=bundle).update(
        blocked=False, blocked_reason="", blocked_at=None, unblocked_at=timezone.now()
    )

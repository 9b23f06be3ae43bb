"""Writes on bundles, items and assignments.

Every state change is one transaction: a transition map check, a conditional UPDATE of exactly
one row (so a concurrent change loses cleanly instead of being overwritten), and the counters
it implies by `F()` updates. Money moves through `payments` inside the same transaction, and
every change takes its locks in the one order of `tasks.locking` (the bundle row first).
"""

from __future__ import annotations

import logging
import math
from functools import partial
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from accounts.qualifications import requirements_check_known, requirements_parse
from marketplace.errors import DomainError, Forbidden, InvalidTransition, NotFound
from payments import selectors as payment_selectors
from payments import services as payments

from . import work
from .assist.predictions import decide_after_commit
from .assist.settings import assist_validate, overlap_validate
from .escrow import escrow_settle
from .lifecycle import aggregate_after_commit, bundle_transition
from .locking import lock_bundle
from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleEvent,
    BundleStatus,
)
from .quality import services as quality
from .quality.live import live_update_schedule
from .quality.rules_engine import quality_rules_validate
from .schema import annotation_type, question_validate
from .states import (
    ASSIGNMENT_TRANSITIONS,  # noqa: F401
    AssignmentNotFound,  # noqa: F401
)

# Bundle fields a requester may change, by state. Money-bearing fields freeze at publish.
logger = logging.getLogger(__name__)

QUALITY_RULES = {
    "min_gold_accuracy", "min_gold_answers", "min_seconds_per_task", "max_fast_fraction",
    "reject_blocked_work", "gold_feedback", "gold_feedback_expected", "quality_rules",
}  # fmt: skip
EDITABLE_WHEN_DRAFT = {
    "title", "instructions", "question", "reward_minor", "currency", "min_overlap",
    "max_overlap", "target_confidence", "gold_rate", "time_limit_seconds",
    "auto_approve_after_seconds", "expires_at", "requirements", "assist", *QUALITY_RULES,
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
    if low is not None and high is not None and not 0 <= low <= high <= 100:
        raise DomainError(
            "Overlap must satisfy 1 <= min_overlap <= max_overlap <= 100.", code="invalid_overlap"
        )
    if "assist" in clean:
        clean["assist"] = assist_validate(clean["assist"])
    target = clean.get("target_confidence")
    if target is not None and not 0.5 <= target < 1:
        raise DomainError("target_confidence must be in [0.5, 1).", code="invalid_target")
    rate = clean.get("gold_rate")
    if rate is not None and not 0 <= rate < 1:
        raise DomainError("gold_rate must be in [0, 1).", code="invalid_gold_rate")
    accuracy = clean.get("min_gold_accuracy")
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise DomainError("min_gold_accuracy must be in [0, 1].", code="invalid_gold_accuracy")
    if "quality_rules" in clean:
        clean["quality_rules"] = quality_rules_validate(clean["quality_rules"])
    if "currency" in clean:
        clean["currency"] = str(clean["currency"]).lower()
        allowed = [c.lower() for c in settings.ALLOWED_CURRENCIES]
        if clean["currency"] not in allowed:
            raise DomainError(
                f"Unsupported currency; use one of: {', '.join(allowed)}.",
                code="unsupported_currency",
            )
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
    requirements_check_known(clean.get("requirements"), owner_id=requester.pk)
    bundle = Bundle(requester=requester, **clean)
    overlap_validate(assist=bundle.assist, min_overlap=bundle.min_overlap)
    _check_feedback_setting(bundle)
    bundle.save()
    BundleEvent.objects.create(bundle=bundle, from_status="", to_status=bundle.status, by=requester)
    return bundle


@transaction.atomic
def bundle_update(*, bundle: Bundle, by: User, data: dict[str, Any]) -> Bundle:
    """Drafts may change anything; live bundles only what does not change the price."""
    bundle = lock_bundle(bundle)
    clean = bundle_validate_settings(data)
    requirements_check_known(clean.get("requirements"), owner_id=bundle.requester_id)
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
    overlap_validate(assist=bundle.assist, min_overlap=bundle.min_overlap)
    _check_feedback_setting(bundle)
    bundle.save()
    return bundle


def _check_feedback_setting(bundle: Bundle) -> None:
    """Showing the expected answer after gold is for annotation types (shapes, text a worker
    learns to draw or write); a plain choice says enough with correct or incorrect."""
    if bundle.gold_feedback_expected and annotation_type(bundle.question) is None:
        raise DomainError(
            "gold_feedback_expected applies to annotation question types only.",
            code="invalid_setting",
        )


@transaction.atomic
def bundle_publish(*, bundle: Bundle, by: User) -> Bundle:
    """Open a draft to workers. Needs items; the payments layer reserves escrow here. A
    requester in debt (card money came back) publishes nothing: `requester_in_debt`, 402."""
    bundle = lock_bundle(bundle)
    payments.requester_debt_check(requester_id=bundle.requester_id)
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
    if bundle.assist:
        decide_after_commit(bundle.pk)  # the model may settle items before anyone claims
    return bundle_transition(bundle, BundleStatus.PUBLISHED, by=by, published_at=timezone.now())


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


@transaction.atomic
def bundle_pause(*, bundle: Bundle, by: User) -> Bundle:
    return bundle_transition(lock_bundle(bundle), BundleStatus.PAUSED, by=by)


@transaction.atomic
def bundle_resume(*, bundle: Bundle, by: User) -> Bundle:
    bundle = lock_bundle(bundle)
    if bundle.status != BundleStatus.PAUSED:
        raise InvalidTransition(f"Only a paused bundle can resume (this one is {bundle.status}).")
    payments.requester_debt_check(requester_id=bundle.requester_id)
    return bundle_transition(bundle, BundleStatus.PUBLISHED, by=by)


DEBT_PAUSE_NOTE = "paused: the requester owes money (a card refund or dispute); top up to resume"


def bundles_pause_for_debt(*, requester_id: int) -> int:
    """Pause every published bundle of a requester who owes the platform money, each in its
    own transaction (run by the task payments triggers when a debt appears, and the sweep).
    Nothing happens once the debt is paid (a late trigger); returns how many were paused."""
    if not payments.requester_debts(requester_id=requester_id):
        return 0
    paused = 0
    live = Bundle.objects.filter(requester_id=requester_id, status=BundleStatus.PUBLISHED)
    for bundle_id in list(live.values_list("pk", flat=True)):
        with transaction.atomic():
            bundle = lock_bundle(bundle_id)
            if bundle.status != BundleStatus.PUBLISHED:
                continue
            bundle_transition(bundle, BundleStatus.PAUSED, by=None, note=DEBT_PAUSE_NOTE)
            paused += 1
    return paused


def bundles_pause_for_debt_sweep() -> int:
    """Beat: pause the live bundles of every requester in debt (a lost trigger's catch-up)."""
    return sum(
        bundles_pause_for_debt(requester_id=requester_id)
        for requester_id in payment_selectors.requesters_in_debt()
    )


@transaction.atomic
def bundle_cancel(*, bundle: Bundle, by: User | None, note: str = "") -> Bundle:
    """Stop a bundle: live claims end now (expired), submitted work stays reviewable."""
    bundle = lock_bundle(bundle)
    bundle = bundle_transition(
        bundle, BundleStatus.CANCELLED, by=by, note=note, finished_at=timezone.now()
    )
    _release_live_claims(bundle, AssignmentStatus.EXPIRED)
    escrow_settle(bundle_id=bundle.pk)
    aggregate_after_commit(bundle.pk)
    return bundle


@transaction.atomic
def bundle_expire(*, bundle: Bundle) -> Bundle:
    bundle = lock_bundle(bundle)
    bundle = bundle_transition(
        bundle, BundleStatus.EXPIRED, by=None, note="expiry date passed", finished_at=timezone.now()
    )
    _release_live_claims(bundle, AssignmentStatus.EXPIRED)
    escrow_settle(bundle_id=bundle.pk)
    aggregate_after_commit(bundle.pk)
    return bundle


def _release_live_claims(bundle: Bundle, status: str) -> None:
    Assignment.objects.filter(bundle=bundle, status=AssignmentStatus.CLAIMED).update(status=status)


@transaction.atomic
def bundle_delete_draft(*, bundle: Bundle, by: User) -> None:
    """A draft has moved no money and no worker has seen it, so it may simply go; anything
    published must be cancelled instead, which keeps its history."""
    bundle = lock_bundle(bundle)
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
    """Upload items (CSV, JSON, JSONL, or a zip of media files with one of those naming them)
    all-or-nothing, stored media files included. Allowed before and while live."""
    from .ingest import items_load, upload_format
    from .media import media_delete

    bundle = lock_bundle(bundle)
    payments.requester_debt_check(requester_id=bundle.requester_id)
    if bundle.status not in (BundleStatus.DRAFT, BundleStatus.PUBLISHED, BundleStatus.PAUSED):
        raise InvalidTransition(f"Cannot add items to a {bundle.status} bundle.")
    first_new = (bundle.items.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    summary = items_load(bundle=bundle, source=source, fmt=upload_format(content_type, filename))
    try:
        if bundle.status != BundleStatus.DRAFT and summary.created > summary.gold:
            _reserve_for_items(
                bundle,
                summary.created - summary.gold,
                idempotency_key=f"bundle-{bundle.pk}-items-from-{first_new}",
            )
    except BaseException:
        media_delete(summary.media_keys)  # the items roll back: so do their stored files
        raise
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
        transaction.on_commit(partial(live_update_schedule, submission.assignment.bundle_id))
    else:
        follow_up_after_commit(submission.assignment, bundle=bundle)
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
        follow_up_after_commit(step.submitted, bundle=bundle)
        return step
    submitted = assignment_submit(
        assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle
    )
    return work.claim_next(submitted=submitted, bundle=bundle, worker=worker)


def follow_up_after_commit(assignment: Assignment, *, bundle: Bundle | None = None) -> None:
    """A submission the hot path's own rules do not follow up gets the quality follow-up once
    committed only where the bundle's rules engine must weigh it (the write itself stays the
    hot path's one statement). A fixed-overlap bundle without rules pays no follow-up per
    answer: deciding the item on every answer cost the claim/submit loop 7x its throughput
    (bench/claim.py), so its live labels come from the per-bundle live update, which every
    submission asks for here at the price of one cache lookup (`tasks.quality.live`), after
    the follow-up (the rules weigh the labels as they stood before this answer)."""
    if bundle is None or bundle.pk != assignment.bundle_id:
        rules = Bundle.objects.filter(pk=assignment.bundle_id).values_list(
            "quality_rules", flat=True
        )
        has_rules = bool(rules.first())
    else:
        has_rules = bool(bundle.quality_rules)
    if has_rules:
        follow_up = work.FollowUp(
            assignment_id=assignment.pk, bundle_id=assignment.bundle_id,
            worker_id=assignment.worker_id, item_id=assignment.item_id,
            is_gold=bool(assignment.is_gold),
        )  # fmt: skip
        transaction.on_commit(partial(submission_follow_up, follow_up=follow_up))
    transaction.on_commit(partial(live_update_schedule, assignment.bundle_id))


def submission_follow_up(*, follow_up: work.FollowUp) -> None:
    """The quality follow-up of one committed submission, now (the demo crowd, all in one
    transaction, runs it where each request would have committed)."""
    quality.submission_recorded(
        assignment_id=follow_up.assignment_id, bundle_id=follow_up.bundle_id,
        worker_id=follow_up.worker_id, item_id=follow_up.item_id, is_gold=follow_up.is_gold,
    )  # fmt: skip


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

"""Writes on bundles, items and assignments.

Every state change is one transaction: a transition map check, a conditional UPDATE of exactly
one row (so a concurrent change loses cleanly instead of being overwritten), and the counters
it implies by `F()` updates. Money moves through `payments` inside the same transaction, and
every change takes its locks in the one order of `tasks.locking` (the bundle row first).
"""

from __future__ import annotations

import logging
import math
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

from . import payfloor
from .assist.predictions import decide_after_commit
from .assist.settings import assist_validate, overlap_validate
from .block_list import requester_blocks_apply
from .escrow import escrow_settle
from .lifecycle import aggregate_after_commit, bundle_transition
from .locking import lock_bundle
from .models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleEvent,
    BundleStatus,
    PayFloorState,
)
from .quality.exams import exam_gold_judgments, exam_qualification_ensure, exam_validate
from .quality.machine_signals import canary_validate
from .quality.rules_engine import quality_rules_validate, rule_qualifications_check_known
from .sandbox import PLAY_MONEY_CURRENCY, sandbox_settings
from .schema import annotation_type, question_validate
from .states import (
    ASSIGNMENT_TRANSITIONS,  # noqa: F401
    AssignmentNotFound,  # noqa: F401
)
from .submission import (  # noqa: F401  (the public entry of the submit side)
    assignment_submit,
    assignment_submit_and_claim_next,
    follow_up_after_commit,
    submission_follow_up,
)

# Bundle fields a requester may change, by state. Money-bearing fields freeze at publish.
logger = logging.getLogger(__name__)

QUALITY_RULES = {
    "min_gold_accuracy", "min_gold_answers", "min_seconds_per_task", "max_fast_fraction",
    "reject_blocked_work", "gold_feedback", "gold_feedback_expected", "quality_rules",
    "agent_canary",
}  # fmt: skip
EDITABLE_WHEN_DRAFT = {
    "title", "instructions", "question", "reward_minor", "currency", "min_overlap",
    "max_overlap", "target_confidence", "gold_rate", "time_limit_seconds",
    "auto_approve_after_seconds", "expires_at", "requirements", "assist", "estimated_seconds",
    "exam",
    *QUALITY_RULES,
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
    if "exam" in clean:
        clean["exam"] = exam_validate(clean["exam"])
        if clean["exam"]:  # every task of an exam is gold
            clean["gold_rate"] = 1.0
    if "agent_canary" in clean:
        clean["agent_canary"] = canary_validate(clean["agent_canary"])
    if "currency" in clean:
        clean["currency"] = str(clean["currency"]).lower()
        # Play money (the sandbox's) is always offered: it buys only test workers' work.
        allowed = [*(c.lower() for c in settings.ALLOWED_CURRENCIES), PLAY_MONEY_CURRENCY]
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
    clean = sandbox_settings(clean, requester_id=requester.pk, currency="usd")
    requirements_check_known(clean.get("requirements"), owner_id=requester.pk)
    rule_qualifications_check_known(clean.get("quality_rules") or [], owner_id=requester.pk)
    exam_qualification_ensure(requester=requester, exam=clean.get("exam"))
    if not clean.get("exam") and clean.get("reward_minor") == 0:
        raise DomainError("Only an exam may be unpaid (reward 0).", code="invalid_amount")
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
    clean = sandbox_settings(
        bundle_validate_settings(data),
        requester_id=bundle.requester_id,
        currency=bundle.currency,
        requirements=bundle.requirements,
    )
    requirements_check_known(clean.get("requirements"), owner_id=bundle.requester_id)
    rule_qualifications_check_known(clean.get("quality_rules") or [], owner_id=bundle.requester_id)
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
    exam_qualification_ensure(requester=bundle.requester, exam=clean.get("exam"))
    if not bundle.exam and bundle.reward_minor == 0:
        raise DomainError("Only an exam may be unpaid (reward 0).", code="invalid_amount")
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
    if bundle.exam:
        return _exam_publish(bundle, real_items=real_items, by=by)
    if real_items == 0:
        raise DomainError("Upload items before publishing.", code="no_items", http_status=409)
    if bundle.gold_rate > 0 and not bundle.items.filter(is_gold=True).exists():
        raise DomainError(
            "gold_rate is set but the bundle has no gold items.", code="no_gold", http_status=409
        )
    payfloor.publish_check(bundle)
    requester_blocks_apply(bundle)
    _reserve_for_items(bundle, real_items, idempotency_key=f"bundle-{bundle.pk}-publish")
    if bundle.assist:
        decide_after_commit(bundle.pk)  # the model may settle items before anyone claims
    return bundle_transition(bundle, BundleStatus.PUBLISHED, by=by, published_at=timezone.now())


def _exam_publish(bundle: Bundle, *, real_items: int, by: User) -> Bundle:
    """An exam is gold only: each gold item once per possible taker is reserved (nothing for
    an unpaid exam) and becomes its gold budget."""
    gold = exam_gold_judgments(bundle)
    if real_items or not gold:
        raise DomainError(
            "An exam has gold items only (each with its answer), and at least one.",
            code="invalid_exam",
            http_status=409,
        )
    if bundle.reward_minor > 0:
        payments.escrow_reserve(
            requester=bundle.requester, bundle_id=bundle.pk, currency=bundle.currency,
            reward_minor=bundle.reward_minor, judgments=gold,
            idempotency_key=f"bundle-{bundle.pk}-publish",
        )  # fmt: skip
    Bundle.objects.filter(pk=bundle.pk).update(gold_slots_open=gold)
    return bundle_transition(bundle, BundleStatus.PUBLISHED, by=by, published_at=timezone.now())


def judgments_to_reserve(bundle: Bundle, real_items: int) -> tuple[int, int]:
    """(real judgments, gold judgments) that `real_items` more items can cost at most.

    Every item may need up to max_overlap paid judgments; gold claims are paid too and come on
    top at the gold rate, so of all judgments a share `gold_rate` is gold. An exam is all gold:
    each gold item once per possible taker."""
    if bundle.exam:
        return 0, exam_gold_judgments(bundle)
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
    # With a time estimate, escrow also holds a margin for top-ups to the pay floor.
    reserved += payfloor.margin_reserve(
        bundle, judgments=real + gold, idempotency_key=f"{idempotency_key}-floor-margin"
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
    if bundle.pay_floor_state == PayFloorState.BELOW:
        raise DomainError(
            "The pilot paid below the platform's hourly floor: raise the reward or confirm a "
            "top-up to the floor to resume.",
            code="below_pay_floor",
            http_status=409,
        )
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

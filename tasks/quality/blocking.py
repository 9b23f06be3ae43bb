"""Blocking a worker from a bundle, and lifting the block.

`worker_block` is the one way to block: what a block means (the worker cannot claim, their live
claims end, their unreviewed work may be rejected, their answers stop counting and every item
they judged is re-decided, with replacements funded) happens in one transaction whoever asks,
the automatic rules (`worker_quality_check`), the requester or staff. The stats-row flag alone
is a private primitive here, so no caller can set it and skip the rest.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from marketplace.errors import DomainError
from payments import services as payments
from tasks.locking import lock_bundle
from tasks.models import (
    Assignment,
    AssignmentStatus,
    BlockScope,
    Bundle,
    QualityRuleEvent,
    WorkerBlock,
    WorkerBundleStats,
)
from tasks.review import assignment_reject
from tasks.work import claim_expire

from .decisions import items_decide
from .rules import LIVE_STATUSES, Evidence, rule_violation, rule_violation_of, shorthand_rules

logger = logging.getLogger(__name__)


def worker_evidence(*, stats: WorkerBundleStats, bundle: Bundle) -> Evidence:
    """Gold and speed evidence since the worker's last unblock (all of it if never unblocked).

    Gold comes from the counters the hot path keeps (no query) unless an unblock makes only
    later answers count; speed is one aggregate over the worker's answers here, and only when
    the bundle has a speed floor."""
    since = stats.unblocked_at
    answered = Assignment.objects.filter(
        worker_id=stats.worker_id, bundle_id=bundle.pk, submitted_at__isnull=False
    )
    if since is not None:
        answered = answered.filter(submitted_at__gt=since)
    gold_seen, gold_correct = stats.gold_seen, stats.gold_correct
    if since is not None:
        gold = answered.filter(is_gold=True).aggregate(
            seen=Count("id"), correct=Count("id", filter=Q(gold_correct=True))
        )
        gold_seen, gold_correct = gold["seen"], gold["correct"]
    answers = fast = 0
    if bundle.min_seconds_per_task is not None:
        speed = answered.aggregate(
            total=Count("id"),
            fast=Count("id", filter=Q(seconds_spent__lt=bundle.min_seconds_per_task)),
        )
        answers, fast = speed["total"], speed["fast"]
    return Evidence(gold_seen, gold_correct, answers, fast)


def worker_quality_check(*, worker_id: int, bundle_id: int) -> bool:
    """Apply the bundle's rules to the worker; block them (with the figures as the reason) when
    a rule says so. Returns whether the worker stands blocked in the bundle afterwards.

    Idempotent and safe to run concurrently: a rule that fires is checked again under the
    bundle's row lock, which every block and unblock takes first (`tasks.locking`), so an
    existing block (automatic, by the requester, or by staff) is never rewritten, and the
    consequences of a block run once, in the transaction that sets it. After an unblock only
    new evidence (since `unblocked_at`) can block again. The usual outcome, no rule broken,
    takes no lock at all."""
    bundle = Bundle.objects.get(pk=bundle_id)
    stats = WorkerBundleStats.objects.filter(worker_id=worker_id, bundle_id=bundle_id).first()
    if stats is None:
        return False
    if stats.blocked:
        return True
    if rule_violation(evidence=worker_evidence(stats=stats, bundle=bundle), bundle=bundle) is None:
        return False
    with transaction.atomic():
        bundle = lock_bundle(bundle_id)
        stats = WorkerBundleStats.objects.get(worker_id=worker_id, bundle_id=bundle_id)
        if stats.blocked:
            return True
        found = rule_violation_of(
            evidence=worker_evidence(stats=stats, bundle=bundle), bundle=bundle
        )
        if found is None:
            return False
        reason = found.reason
        worker_block(worker_id=worker_id, bundle_id=bundle_id, reason=reason, by=None)
        # The old field is a rule like any other: its block is in the history, reversible.
        rule = next(r for r in shorthand_rules(bundle) if r["from"] == found.field)
        QualityRuleEvent.objects.create(
            bundle=bundle, worker_id=worker_id, rule=rule, action="block", reason=reason,
            figures={**found.figures, "bundles": [bundle_id]},
        )  # fmt: skip
    logger.info("worker %s blocked in bundle %s: %s", worker_id, bundle_id, reason)
    return True


@transaction.atomic
def worker_block(
    *, worker_id: int, bundle_id: int, reason: str, by: User | None = None, history: bool = True
) -> WorkerBundleStats:
    """Block a worker from a bundle with all its consequences, in one transaction.

    The stats row is flagged (with the reason the worker sees; a blank reason is refused); then
    the worker's live claims here end (expired, slots given back) so no uncounted work is
    bought; with `reject_blocked_work`, their unreviewed non-gold work is rejected with the
    reason (which re-queues the item while the bundle is live); and every item they judged is
    re-decided without them, which recounts `judgments_submitted`, reopens what now lacks
    judgments and rewrites its result. Gold work is left as it is: it is the evidence.

    Locks in the order of `tasks.locking`: the bundle row first (the block rejects work and
    reserves escrow, like a review and a publish), then the worker's live claims, then their
    stats row, the order a submission of theirs takes (claim, then stats), so a block racing
    the worker's own next answer waits for it instead of deadlocking with it."""
    if not reason.strip():
        raise DomainError("A reason is required to block a worker.", code="reason_required")
    bundle = lock_bundle(bundle_id)
    worker = User.objects.get(pk=worker_id)
    _end_live_claims(worker_id=worker_id, bundle_id=bundle_id)
    stats = _stats_block(worker=worker, bundle=bundle, reason=reason)
    if history:  # the block's history row (issue 15); a requester-wide block keeps its own
        _history_open(worker=worker, bundle=bundle, reason=reason, by=by)
    if bundle.reject_blocked_work:
        _reject_unreviewed(worker_id=worker_id, bundle_id=bundle_id, reason=reason, by=by)
    reopen = _fund_replacements(bundle=bundle, worker_id=worker_id, stats=stats)
    items_decide(item_ids=_items_judged_by(worker_id=worker_id, bundle_id=bundle_id), reopen=reopen)
    return stats


@transaction.atomic
def worker_unblock(*, worker_id: int, bundle_id: int, by: User | None = None) -> None:
    """Lift a block (requester or admin): the worker may claim again and their answers count
    again, so the items they judged are re-decided (their count may then exceed max_overlap
    where a replacement was bought meanwhile; nothing more is bought for those items).
    Sets `unblocked_at`, so only new evidence can block them again."""
    bundle = lock_bundle(bundle_id)
    _stats_unblock(worker_id=worker_id, bundle=bundle)
    WorkerBlock.objects.filter(
        worker_id=worker_id, bundle=bundle, scope=BlockScope.BUNDLE, lifted_at__isnull=True
    ).update(lifted_at=timezone.now(), lifted_by=by, lift_reason="unblocked")
    # An unblock by hand reverses the rule's block here too, so the history tells the truth.
    QualityRuleEvent.objects.filter(
        bundle_id=bundle_id, worker_id=worker_id, action="block", reversed_at__isnull=True
    ).update(reversed_at=timezone.now(), reversed_by=by)
    items_decide(item_ids=_items_judged_by(worker_id=worker_id, bundle_id=bundle_id))


def _history_open(*, worker: User, bundle: Bundle, reason: str, by: User | None) -> None:
    """One active history row per blocked (worker, bundle): who (None: the quality rules),
    why; `worker_unblock` closes it. The worker reads and may appeal it (`tasks.fairness`)."""
    if not WorkerBlock.objects.filter(
        worker=worker, bundle=bundle, scope=BlockScope.BUNDLE, lifted_at__isnull=True
    ).exists():
        WorkerBlock.objects.create(
            worker=worker, scope=BlockScope.BUNDLE, requester_id=bundle.requester_id,
            bundle=bundle, reason=reason.strip(), created_by=by,
        )  # fmt: skip


def _stats_block(*, worker: User, bundle: Bundle, reason: str) -> WorkerBundleStats:
    """The flag the claim path checks: the worker can no longer claim in the bundle."""
    if not reason.strip():
        raise DomainError("A reason is required to block a worker.", code="reason_required")
    stats, _ = WorkerBundleStats.objects.get_or_create(worker=worker, bundle=bundle)
    WorkerBundleStats.objects.filter(pk=stats.pk).update(
        blocked=True, blocked_reason=reason.strip(), blocked_at=timezone.now()
    )
    stats.refresh_from_db()
    return stats


def _stats_unblock(*, worker_id: int, bundle: Bundle) -> None:
    WorkerBundleStats.objects.filter(worker_id=worker_id, bundle=bundle).update(
        blocked=False, blocked_reason="", blocked_at=None, unblocked_at=timezone.now()
    )


def _end_live_claims(*, worker_id: int, bundle_id: int) -> int:
    ended = 0
    live = Assignment.objects.filter(
        worker_id=worker_id, bundle_id=bundle_id, status=AssignmentStatus.CLAIMED
    ).values_list("id", "item_id", "is_gold")
    for assignment_id, item_id, is_gold in list(live):
        ended += claim_expire(
            assignment_id=assignment_id, bundle_id=bundle_id, item_id=item_id, is_gold=is_gold
        )
    return ended


def _reject_unreviewed(*, worker_id: int, bundle_id: int, reason: str, by: User | None) -> None:
    note = f"Not accepted: you were blocked from this bundle. {reason}"
    pending = Assignment.objects.filter(
        worker_id=worker_id,
        bundle_id=bundle_id,
        is_gold=False,
        status=AssignmentStatus.SUBMITTED,
    ).values_list("id", flat=True)
    for assignment_id in list(pending):
        try:
            assignment_reject(assignment_id=assignment_id, by=by, reason=note)
        except DomainError:  # reviewed meanwhile: that review stands
            continue


def _fund_replacements(*, bundle: Bundle, worker_id: int, stats: WorkerBundleStats) -> bool:
    """Escrow for the judgments that replace a blocked worker's paid (or still payable) work.

    Escrow was reserved for max_overlap judgments per item; the blocked worker's approved and
    unreviewed answers are (or will be) paid and yet no longer count, so buying replacements
    needs that much more. Reserved from the requester's balance in this transaction; without
    the money the items are re-decided but not reopened, so no approval can ever find the
    escrow short."""
    payable = Assignment.objects.filter(
        worker_id=worker_id,
        bundle_id=bundle.pk,
        is_gold=False,
        status__in=(AssignmentStatus.APPROVED, AssignmentStatus.SUBMITTED),
    ).count()
    if payable == 0 or bundle.status not in LIVE_STATUSES:
        return True
    stamp = int(stats.blocked_at.timestamp() * 1_000_000) if stats.blocked_at else 0
    try:
        with transaction.atomic():
            payments.escrow_reserve(
                requester=bundle.requester,
                bundle_id=bundle.pk,
                currency=bundle.currency,
                reward_minor=bundle.reward_minor,
                judgments=payable,
                idempotency_key=f"bundle-{bundle.pk}-replace-{worker_id}-{stamp}",
            )
    except DomainError as exc:
        if exc.code != "insufficient_funds":
            raise
        logger.warning(
            "bundle %s: no funds to replace %s judgments of blocked worker %s",
            bundle.pk, payable, worker_id,
        )  # fmt: skip
        return False
    return True


def _items_judged_by(*, worker_id: int, bundle_id: int) -> list[int]:
    return list(
        Assignment.objects.filter(
            worker_id=worker_id,
            bundle_id=bundle_id,
            is_gold=False,
            submitted_at__isnull=False,
        )
        .order_by("item_id")
        .values_list("item_id", flat=True)
        .distinct()
    )

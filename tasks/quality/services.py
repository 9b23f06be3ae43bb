"""Writes of the quality engine: gold rules and blocking, the dynamic-overlap decision, and the
whole-bundle aggregation that fills `ItemResult`.

The numbers come from the pure-numpy engine (`tasks.quality.aggregation`); this module only
reads judgments from the ORM, codes them as integer arrays, and writes the outcome.

Invariants kept here (and relied on by the claim/submit hot path):

* `Item.judgments_submitted` counts the judgments that *count*: non-gold assignments that are
  submitted or approved, by workers not blocked in the bundle. The hot path adds one per
  submission; `item_decide` recounts it from the assignments under the item's row lock, so a
  block (which stops a worker's answers from counting) is reflected exactly and idempotently.
* Slots: for every item of a live bundle, `judgments_submitted + live claims + slots_open <=
  max_overlap`. Slots are only ever opened up to that room, so no item buys more than
  `max_overlap` counted judgments, and an item is complete only with at least `min_overlap`.
* A blocked worker's answers in the bundle are excluded from every aggregation here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from django.db import DatabaseError, transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from marketplace.errors import DomainError
from payments import services as payments
from tasks import services as task_services
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemResult,
    ItemState,
    WorkerBundleStats,
)
from tasks.schema import text_normalise
from tasks.states import release_claim_slot

from .aggregation import (
    accuracy_weights,
    aggregate,
    aggregate_numbers,
    aggregate_text,
    item_needs_more_judgments,
    wilson_interval,
)

logger = logging.getLogger(__name__)

#: Judgments that count towards an item (a rejected one does not; a claim is not a judgment).
COUNTED_STATUSES = (AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED)
LIVE_STATUSES = (BundleStatus.PUBLISHED, BundleStatus.PAUSED)
#: Target confidence of dynamic overlap when a bundle does not set one.
DEFAULT_TARGET_CONFIDENCE = 0.9
#: Two-sided 95% Wilson interval: a worker is blocked when even the optimistic end of it is
#: under the bundle's minimum (so bad luck rarely blocks a good worker; see the tests).
WILSON_Z = 1.96
#: The too-fast rule waits for at least this many answers (or min_gold_answers, if larger).
FAST_RULE_MIN_ANSWERS = 5
#: Prior of the per-item (one-coin) decision: an unknown worker is assumed this accurate, worth
#: this many gold answers; gold answers move each worker's estimate away from it.
PRIOR_WORKER_ACCURACY = 0.7
PRIOR_WORKER_WEIGHT = 4.0
#: The pooled accuracy of a bundle's crowd is kept inside this range before it becomes a prior.
POOLED_ACCURACY_RANGE = (0.55, 0.95)

RESULT_FIELDS = ["label", "confidence", "method", "judgments", "updated_at"]
#: Methods written by a whole-bundle run (the per-item decision writes "one_coin" or "median").
BUNDLE_METHODS = ("dawid_skene", "majority_vote", "text_vote", "median", "gold")


def _stats_fields() -> set[str]:
    return {f.name for f in WorkerBundleStats._meta.concrete_fields}


def _has_unblocked_at() -> bool:
    """`WorkerBundleStats.unblocked_at` (requested from the lead) marks a requester's or an
    admin's unblock, so the automatic rules then weigh only answers submitted after it. Until
    the field exists, an unblocked worker is judged on all their answers again."""
    return "unblocked_at" in _stats_fields()


def _has_estimated_accuracy() -> bool:
    """`WorkerBundleStats.estimated_accuracy` (requested) stores the last whole-bundle
    Dawid-Skene run's accuracy per worker, which the per-item decision then prefers to gold."""
    return "estimated_accuracy" in _stats_fields()


# ---------------------------------------------------------------------------------------------
# Rules (pure, vectorised: the simulation in the tests runs the very functions used here)


def gold_rule_blocks(
    *,
    correct: Any,
    seen: Any,
    min_accuracy: float,
    min_answers: int,
    z: float = WILSON_Z,
) -> Any:
    """Whether the gold rule blocks (scalar or array): at least `min_answers` gold answers and
    the upper end of the Wilson interval of `correct / seen` under `min_accuracy`."""
    seen_arr = np.asarray(seen)
    _, high = wilson_interval(correct, seen_arr, z)
    blocks = (seen_arr >= max(min_answers, 1)) & (np.asarray(high) < min_accuracy)
    return bool(blocks) if np.ndim(blocks) == 0 else blocks


def fast_rule_blocks(*, fast: int, total: int, max_fraction: float, min_answers: int) -> bool:
    """Whether the too-fast rule blocks: enough answers, and more than `max_fraction` of them
    faster than the bundle's floor."""
    return total >= max(min_answers, FAST_RULE_MIN_ANSWERS) and fast > max_fraction * total


# ---------------------------------------------------------------------------------------------
# After a submission (called by tasks.claiming.assignment_submit once it has committed)


def submission_recorded(
    *,
    assignment_id: int,
    bundle_id: int,
    worker_id: int,
    item_id: int,
    is_gold: bool,
    retry: bool = True,
) -> None:
    """Follow-up of one committed submission: the worker's rules (gold accuracy, too fast),
    then, on a dynamic-overlap bundle, the item's decision (complete, or one more judgment).

    The submission itself is already safe; a database error here (a deadlock, a lock timeout)
    is logged and retried by a Celery task instead of failing the worker's request, and the
    periodic re-aggregation also decides any dynamic item left waiting with no open slot.
    `retry=False` (the retry itself) lets the error propagate so Celery records it."""
    try:
        bundle = Bundle.objects.only(
            "id", "min_overlap", "max_overlap", "min_gold_accuracy", "min_seconds_per_task"
        ).get(pk=bundle_id)
        blocked = False
        gold_rule = is_gold and bundle.min_gold_accuracy is not None
        if gold_rule or bundle.min_seconds_per_task is not None:
            blocked = worker_quality_check(worker_id=worker_id, bundle_id=bundle_id)
        # A block re-decides every item the worker judged, this one included.
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
    from tasks.tasks import submission_recorded_task

    try:
        submission_recorded_task.apply_async(kwargs=kwargs, countdown=10)
    except Exception:  # the broker may be down too; the periodic sweep is the last resort
        logger.exception("could not schedule the quality follow-up %s", kwargs)


# ---------------------------------------------------------------------------------------------
# Worker rules and blocking


@dataclass(frozen=True)
class Evidence:
    """What the automatic rules weigh for one worker in one bundle."""

    gold_seen: int
    gold_correct: int
    answers: int
    fast_answers: int


def worker_evidence(*, stats: WorkerBundleStats, bundle: Bundle) -> Evidence:
    """Gold and speed evidence since the worker's last unblock (all of it if never unblocked).

    Gold comes from the counters the hot path keeps (no query) unless an unblock marker makes
    only later answers count; speed is one aggregate over the worker's answers here, and only
    when the bundle has a speed floor."""
    since = getattr(stats, "unblocked_at", None)
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


def rule_violation(*, evidence: Evidence, bundle: Bundle) -> str | None:
    """The reason the bundle's rules block this evidence, with its figures, or None."""
    if bundle.min_gold_accuracy is not None and gold_rule_blocks(
        correct=evidence.gold_correct,
        seen=evidence.gold_seen,
        min_accuracy=bundle.min_gold_accuracy,
        min_answers=bundle.min_gold_answers,
    ):
        _, high = wilson_interval(evidence.gold_correct, evidence.gold_seen, WILSON_Z)
        return (
            f"Gold accuracy {evidence.gold_correct}/{evidence.gold_seen} "
            f"({evidence.gold_correct / evidence.gold_seen:.0%}): even the upper end of its 95% "
            f"interval ({high:.0%}) is under this bundle's minimum of "
            f"{bundle.min_gold_accuracy:.0%}."
        )
    if bundle.min_seconds_per_task is not None and fast_rule_blocks(
        fast=evidence.fast_answers,
        total=evidence.answers,
        max_fraction=bundle.max_fast_fraction,
        min_answers=bundle.min_gold_answers,
    ):
        return (
            f"{evidence.fast_answers} of {evidence.answers} answers "
            f"({evidence.fast_answers / evidence.answers:.0%}) took under "
            f"{bundle.min_seconds_per_task:g} s each; this bundle allows at most "
            f"{bundle.max_fast_fraction:.0%}."
        )
    return None


def worker_quality_check(*, worker_id: int, bundle_id: int) -> bool:
    """Apply the bundle's rules to the worker; block them (with the figures as the reason) when
    a rule says so. Returns whether the worker stands blocked in the bundle afterwards.

    Idempotent and safe to run concurrently: the worker's stats row is locked, an existing block
    (automatic, by the requester, or by staff) is never rewritten, and the consequences of a
    block run once, in the transaction that sets it. After an unblock only new evidence can
    block again once `WorkerBundleStats.unblocked_at` exists (see `_has_unblocked_at`)."""
    bundle = Bundle.objects.get(pk=bundle_id)
    with transaction.atomic():
        stats = (
            WorkerBundleStats.objects.select_for_update()
            .filter(worker_id=worker_id, bundle_id=bundle_id)
            .first()
        )
        if stats is None:
            return False
        if stats.blocked:
            return True
        reason = rule_violation(evidence=worker_evidence(stats=stats, bundle=bundle), bundle=bundle)
        if reason is None:
            return False
        worker_block(worker_id=worker_id, bundle_id=bundle_id, reason=reason, by=None)
    logger.info("worker %s blocked in bundle %s: %s", worker_id, bundle_id, reason)
    return True


@transaction.atomic
def worker_block(
    *, worker_id: int, bundle_id: int, reason: str, by: User | None = None
) -> WorkerBundleStats:
    """Block a worker from a bundle with its consequences, in one transaction.

    The block itself is `tasks.services.worker_block_in_bundle`; then: the worker's live claims
    here end (expired, slots given back) so no uncounted work is bought; with
    `reject_blocked_work`, their unreviewed non-gold work is rejected with the reason (which
    re-queues the item while the bundle is live); and every item they judged is re-decided
    without them, which recounts `judgments_submitted`, reopens what now lacks judgments and
    rewrites its result. Gold work is left as it is: it is the evidence."""
    bundle = Bundle.objects.get(pk=bundle_id)
    worker = User.objects.get(pk=worker_id)
    stats = task_services.worker_block_in_bundle(worker=worker, bundle=bundle, reason=reason, by=by)
    _end_live_claims(worker_id=worker_id, bundle_id=bundle_id)
    if bundle.reject_blocked_work:
        note = f"Not accepted: you were blocked from this bundle. {reason}"
        pending = Assignment.objects.filter(
            worker_id=worker_id,
            bundle_id=bundle_id,
            is_gold=False,
            status=AssignmentStatus.SUBMITTED,
        ).values_list("id", flat=True)
        for assignment_id in list(pending):
            try:
                task_services.assignment_reject(assignment_id=assignment_id, by=by, reason=note)
            except DomainError:  # reviewed meanwhile: that review stands
                continue
    reopen = _fund_replacements(bundle=bundle, worker_id=worker_id, stats=stats)
    items_decide(item_ids=_items_judged_by(worker_id=worker_id, bundle_id=bundle_id), reopen=reopen)
    return stats


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


@transaction.atomic
def worker_unblock(*, worker_id: int, bundle_id: int, by: User | None = None) -> None:
    """Lift a block (requester or admin): the worker may claim again and their answers count
    again, so the items they judged are re-decided (their count may then exceed max_overlap
    where a replacement was bought meanwhile; nothing more is bought for those items).
    Sets `unblocked_at` when the model has it, so only new evidence can block them again."""
    bundle = Bundle.objects.get(pk=bundle_id)
    task_services.worker_unblock_in_bundle(worker=User(pk=worker_id), bundle=bundle)
    if _has_unblocked_at():
        WorkerBundleStats.objects.filter(worker_id=worker_id, bundle_id=bundle_id).update(
            unblocked_at=timezone.now()
        )
    items_decide(item_ids=_items_judged_by(worker_id=worker_id, bundle_id=bundle_id))


def _end_live_claims(*, worker_id: int, bundle_id: int) -> int:
    ended = 0
    live = Assignment.objects.filter(
        worker_id=worker_id, bundle_id=bundle_id, status=AssignmentStatus.CLAIMED
    ).values_list("id", "item_id", "is_gold")
    for assignment_id, item_id, is_gold in list(live):
        expired = Assignment.objects.filter(
            pk=assignment_id, status=AssignmentStatus.CLAIMED
        ).update(status=AssignmentStatus.EXPIRED)
        if expired:
            release_claim_slot(bundle_id=bundle_id, item_id=item_id, is_gold=is_gold)
        ended += expired
    return ended


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


# ---------------------------------------------------------------------------------------------
# Per-item decision (dynamic overlap)


@dataclass(frozen=True)
class Decision:
    label: Any
    confidence: float
    method: str


def _blocked_workers(bundle_id: int) -> QuerySet[WorkerBundleStats]:
    return WorkerBundleStats.objects.filter(bundle_id=bundle_id, blocked=True).values("worker_id")


def counted_judgments(*, bundle_id: int) -> QuerySet[Assignment]:
    """The judgments that count in a bundle: submitted or approved, blocked workers left out.
    (One subquery, not a multi-valued `exclude`, whose conditions need not match one row.)"""
    return Assignment.objects.filter(bundle_id=bundle_id, status__in=COUNTED_STATUSES).exclude(
        worker_id__in=_blocked_workers(bundle_id)
    )


def _pooled_accuracy(bundle_id: int) -> float:
    """The crowd's gold accuracy in the bundle (blocked workers left out), shrunk toward the
    prior and kept in a sane range: the starting belief about a worker with no gold yet."""
    pooled = WorkerBundleStats.objects.filter(bundle_id=bundle_id, blocked=False).aggregate(
        seen=Sum("gold_seen"), correct=Sum("gold_correct")
    )
    seen, correct = pooled["seen"] or 0, pooled["correct"] or 0
    estimate = (correct + PRIOR_WORKER_WEIGHT * PRIOR_WORKER_ACCURACY) / (
        seen + PRIOR_WORKER_WEIGHT
    )
    return float(np.clip(estimate, *POOLED_ACCURACY_RANGE))


def worker_accuracies(*, bundle_id: int, worker_ids: Iterable[int]) -> dict[int, float]:
    """Accuracy per worker for the per-item decision: the last Dawid-Skene estimate when one is
    stored, else the worker's gold record shrunk toward the crowd's pooled accuracy (so three
    lucky gold answers do not make anyone an oracle). Blocked workers are left out."""
    ids = list(worker_ids)
    prior = _pooled_accuracy(bundle_id)
    fields = ["worker_id", "gold_seen", "gold_correct", "blocked"]
    if _has_estimated_accuracy():
        fields.append("estimated_accuracy")
    rows = WorkerBundleStats.objects.filter(bundle_id=bundle_id, worker_id__in=ids).values(*fields)
    known = {row["worker_id"]: row for row in rows}
    out: dict[int, float] = {}
    for worker_id in ids:
        row = known.get(worker_id)
        if row is None:
            out[worker_id] = prior
            continue
        if row["blocked"]:
            continue
        estimated = row.get("estimated_accuracy")
        if estimated is not None and np.isfinite(estimated):
            out[worker_id] = float(estimated)
        else:
            out[worker_id] = (row["gold_correct"] + PRIOR_WORKER_WEIGHT * prior) / (
                row["gold_seen"] + PRIOR_WORKER_WEIGHT
            )
    return out


def one_coin_posterior(labels: Any, accuracies: Any, n_classes: int) -> np.ndarray:
    """Posterior over classes of one item under the one-coin model (each worker right with
    their accuracy, wrong uniformly otherwise) and a flat prior: the softmax of log-odds
    weighted votes (`accuracy_weights`), which is exactly that posterior."""
    weights = accuracy_weights(accuracies, n_classes) if len(labels) else np.zeros(0)
    scores = np.bincount(np.asarray(labels, np.int64), weights=weights, minlength=n_classes)
    scores = scores - scores.max()
    post = np.exp(scores)
    return post / post.sum()


def decide_answers(
    question: dict[str, Any], answers: Sequence[Any], accuracies: Sequence[float]
) -> Decision | None:
    """Aggregate one item's counted answers by question type; None without answers.

    Choice and rating: one-coin posterior (a probability). Multiple choice: per option, the
    label being the selected options and the confidence the product of the per-option
    posteriors (every option must be right). Text: one-coin over the distinct normalised
    answers, reported in the first spelling given. Number: the median, with the share of
    answers equal to it as confidence (agreement, not a probability)."""
    if not answers:
        return None
    qtype = question["type"]
    acc = np.asarray(accuracies, dtype=np.float64)
    if qtype in ("single_choice", "rating"):
        codec = ChoiceCodec(question)
        post = one_coin_posterior(codec.encode(answers), acc, codec.n_classes)
        best = int(np.argmax(post))
        return Decision(codec.decode(best), float(post[best]), "one_coin")
    if qtype == "multiple_choice":
        values = [c["value"] for c in question["choices"]]
        chosen, confidence = [], 1.0
        for value in values:
            ticks = np.fromiter((value in a for a in answers), dtype=np.int64, count=len(answers))
            post = one_coin_posterior(ticks, acc, 2)
            selected = bool(post[1] > post[0])
            confidence *= float(post[int(selected)])
            if selected:
                chosen.append(value)
        return Decision(chosen, confidence, "one_coin")
    if qtype == "text":
        normalised = [text_normalise(a) for a in answers]
        vocab = sorted(set(normalised))
        codes = np.array([vocab.index(t) for t in normalised], dtype=np.int64)
        post = one_coin_posterior(codes, acc, max(len(vocab), 2))
        best = int(np.argmax(post[: len(vocab)]))
        spelling = answers[normalised.index(vocab[best])]
        return Decision(spelling, float(post[best]), "one_coin")
    values = np.asarray(answers, dtype=np.float64)
    median = float(np.median(values))
    share = float(np.mean(np.isclose(values, median)))
    return Decision(_number(median), share, "median")


@transaction.atomic
def item_decide(*, item_id: int, reopen: bool = True) -> str:
    """Aggregate an item's counted judgments and decide whether it needs another one.

    Under the item's row lock: recount `judgments_submitted` (blocked workers out), write the
    item's `ItemResult`, then, while the bundle is live: complete the item once it has at least
    min_overlap judgments and its confidence reaches the target (bundle's, or 0.9) or it has
    max_overlap; otherwise make sure one more judgment is on its way (or as many as it lacks
    to min_overlap), opening slots only within `max_overlap - counted - live claims`. Returns
    the item's state. Gold items are never decided (they are never complete). With
    `reopen=False` the result is rewritten but no judgment is bought (no money for it)."""
    item = Item.objects.select_for_update(of=("self",)).select_related("bundle").get(pk=item_id)
    bundle = item.bundle
    if item.is_gold:
        return item.state
    rows = list(
        Assignment.objects.filter(item_id=item_id, status__in=COUNTED_STATUSES)
        .order_by("submitted_at", "id")
        .values_list("worker_id", "answer")
    )
    accuracy = worker_accuracies(bundle_id=bundle.pk, worker_ids={w for w, _ in rows})
    counted = [(w, answer) for w, answer in rows if w in accuracy]
    decision = decide_answers(
        bundle.question, [a for _, a in counted], [accuracy[w] for w, _ in counted]
    )
    _result_write(item_id=item_id, decision=decision, judgments=len(counted))
    n = len(counted)
    if bundle.status not in LIVE_STATUSES:
        Item.objects.filter(pk=item_id).update(judgments_submitted=n)
        return item.state
    claimed = Assignment.objects.filter(item_id=item_id, status=AssignmentStatus.CLAIMED).count()
    target = bundle.target_confidence or DEFAULT_TARGET_CONFIDENCE
    confidence = decision.confidence if decision is not None else float("nan")
    needs = item_needs_more_judgments(
        confidence, n, min_overlap=bundle.min_overlap, max_overlap=bundle.max_overlap, target=target
    )
    if not needs:
        state, slots = ItemState.COMPLETE, 0
    elif not reopen:
        Item.objects.filter(pk=item_id).update(judgments_submitted=n)
        return item.state
    else:
        wanted = max(bundle.min_overlap - n, 1)
        room = max(bundle.max_overlap - n - claimed, 0)
        slots = min(max(wanted - claimed, 0), room)
        state = ItemState.OPEN if slots > 0 else ItemState.FULL
    Item.objects.filter(pk=item_id).update(judgments_submitted=n, slots_open=slots, state=state)
    return state


def items_decide(*, item_ids: Iterable[int], reopen: bool = True) -> dict[str, int]:
    """`item_decide` over several items (each in its own savepoint and lock); counts by state."""
    states: dict[str, int] = {}
    for item_id in item_ids:
        state = item_decide(item_id=item_id, reopen=reopen)
        states[state] = states.get(state, 0) + 1
    return states


def items_decide_waiting(*, bundle_id: int) -> int:
    """Decide the items of a live dynamic bundle that wait with no open slot and no live claim:
    the safety net for a follow-up that failed after its submission committed."""
    waiting = (
        Item.objects.filter(bundle_id=bundle_id, is_gold=False, state=ItemState.FULL)
        .exclude(assignments__status=AssignmentStatus.CLAIMED)
        .values_list("id", flat=True)
    )
    return sum(items_decide(item_ids=list(waiting)).values())


def _result_write(*, item_id: int, decision: Decision | None, judgments: int) -> None:
    """Upsert (one statement, so it never races a whole-bundle run into a duplicate) or, with
    nothing left that counts, delete the item's result."""
    if decision is None:
        ItemResult.objects.filter(item_id=item_id).delete()
        return
    ItemResult.objects.bulk_create(
        [
            ItemResult(
                item_id=item_id,
                label=decision.label,
                confidence=decision.confidence,
                method=decision.method,
                judgments=judgments,
            )
        ],
        update_conflicts=True,
        unique_fields=["item"],
        update_fields=RESULT_FIELDS,
    )


# ---------------------------------------------------------------------------------------------
# Whole-bundle aggregation


class ChoiceCodec:
    """Single choice and rating answers <-> class indices (choice order; rating min..max)."""

    def __init__(self, question: dict[str, Any]) -> None:
        if question["type"] == "single_choice":
            self.values: list[Any] = [c["value"] for c in question["choices"]]
        else:
            self.values = list(range(question["min"], question["max"] + 1))
        self.index = {v: i for i, v in enumerate(self.values)}
        self.n_classes = len(self.values)

    def encode(self, answers: Sequence[Any]) -> np.ndarray:
        return np.fromiter((self.index[a] for a in answers), dtype=np.int64, count=len(answers))

    def decode(self, index: int) -> Any:
        return self.values[index]


@dataclass
class _BundleJudgments:
    item_ids: list[int]  # items with a result row to write (judged, or gold)
    gold: dict[int, Any]  # item id -> gold answer
    items: np.ndarray  # per judgment: index into item_ids
    workers: np.ndarray  # per judgment: dense worker index
    worker_ids: np.ndarray  # dense worker index -> worker id
    answers: list[Any]


def _bundle_judgments(bundle: Bundle) -> _BundleJudgments:
    rows = list(
        counted_judgments(bundle_id=bundle.pk)
        .order_by("item_id", "id")
        .values_list("item_id", "worker_id", "answer")
        .iterator(chunk_size=5000)
    )
    gold = dict(
        Item.objects.filter(bundle=bundle, is_gold=True, gold__isnull=False).values_list(
            "id", "gold"
        )
    )
    judged = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    item_ids = np.union1d(judged, np.fromiter(gold, dtype=np.int64, count=len(gold)))
    worker_col = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    worker_ids, workers = np.unique(worker_col, return_inverse=True)
    return _BundleJudgments(
        item_ids=item_ids.tolist(),
        gold=gold,
        items=np.searchsorted(item_ids, judged),
        workers=workers.astype(np.int64),
        worker_ids=worker_ids,
        answers=[r[2] for r in rows],
    )


def bundle_aggregate(
    *, bundle_id: int, method: Literal["dawid_skene", "majority_vote"] = "dawid_skene"
) -> int:
    """Aggregate a whole bundle and write every item's `ItemResult`; returns the rows written.

    By question type: choice and rating by `method` (Dawid-Skene by default, gold items clamped
    to their answer, so they teach the worker models); multiple choice per option the same way;
    text by exact vote over normalised answers; numbers by median. Labels are written as schema
    values (choice value, rating int, list of values, text as first spelled, number). Gold items
    get their gold answer with confidence 1 and method "gold". Blocked workers' answers are left
    out; items with nothing that counts lose their stale result. Idempotent: same judgments, same
    rows (one upsert batch and one delete, in one transaction). With Dawid-Skene the per-worker
    accuracies are stored for the per-item decision when the model has the field."""
    bundle = Bundle.objects.get(pk=bundle_id)
    data = _bundle_judgments(bundle)
    qtype = bundle.question["type"]
    n_items = len(data.item_ids)
    quality: np.ndarray | None = None
    if qtype in ("single_choice", "rating"):
        labels, confidence, used, quality = _aggregate_choice(bundle, data, method)
    elif qtype == "multiple_choice":
        labels, confidence, used, quality = _aggregate_multiple(bundle, data, method)
    elif qtype == "text":
        text = aggregate_text(data.items, [str(a) for a in data.answers], n_items=n_items)
        labels = _first_spellings(data, text.texts)
        confidence, used = text.confidence, "text_vote"
    else:
        values = np.asarray(data.answers, dtype=np.float64)
        numbers = aggregate_numbers(data.items, values, n_items=n_items)
        labels = [None if np.isnan(v) else _number(float(v)) for v in numbers.values]
        confidence, used = _median_agreement(data, values, numbers.values), "median"
    counts = np.bincount(data.items, minlength=n_items)
    results = []
    for i, item_id in enumerate(data.item_ids):
        if item_id in data.gold:
            results.append(ItemResult(item_id=item_id, label=data.gold[item_id], confidence=1.0,
                                      method="gold", judgments=int(counts[i])))  # fmt: skip
        elif labels[i] is not None:
            results.append(ItemResult(item_id=item_id, label=labels[i],
                                      confidence=float(confidence[i]), method=used,
                                      judgments=int(counts[i])))  # fmt: skip
    with transaction.atomic():
        ItemResult.objects.filter(item__bundle_id=bundle_id).exclude(
            item_id__in=[r.item_id for r in results]
        ).delete()
        ItemResult.objects.bulk_create(
            results,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["item"],
            update_fields=RESULT_FIELDS,
        )
        if quality is not None and _has_estimated_accuracy():
            _store_worker_quality(bundle_id, data.worker_ids, quality)
    return len(results)


def _aggregate_choice(
    bundle: Bundle, data: _BundleJudgments, method: str
) -> tuple[list[Any], np.ndarray, str, np.ndarray | None]:
    codec = ChoiceCodec(bundle.question)
    labels_idx = codec.encode(data.answers)
    position = {item_id: i for i, item_id in enumerate(data.item_ids)}
    gold = None
    if method == "dawid_skene":
        gold = {position[i]: codec.index[g] for i, g in data.gold.items() if g in codec.index}
    res = aggregate(
        data.items,
        data.workers,
        labels_idx,
        method,
        n_items=len(data.item_ids),
        n_workers=len(data.worker_ids),
        n_classes=codec.n_classes,
        **({"gold": gold} if gold is not None else {}),
    )
    labels = [None if lab < 0 else codec.decode(int(lab)) for lab in res.labels]
    quality = res.worker_quality if method == "dawid_skene" else None
    return labels, res.confidence, res.method, quality


def _aggregate_multiple(
    bundle: Bundle, data: _BundleJudgments, method: str
) -> tuple[list[Any], np.ndarray, str, np.ndarray | None]:
    """One binary aggregation per option (what `aggregate_multiple_choice` does), here with each
    option's own gold clamp. Confidence of the set: product of the per-option confidences."""
    values = [c["value"] for c in bundle.question["choices"]]
    n_items = len(data.item_ids)
    position = {item_id: i for i, item_id in enumerate(data.item_ids)}
    selected = np.zeros((n_items, len(values)), dtype=bool)
    confidence = np.ones(n_items)
    qualities = []
    for o, value in enumerate(values):
        ticks = np.fromiter(
            (value in a for a in data.answers), dtype=np.int64, count=len(data.answers)
        )
        options: dict[str, Any] = {}
        if method == "dawid_skene":
            options["gold"] = {position[i]: int(value in g) for i, g in data.gold.items()}
        res = aggregate(
            data.items,
            data.workers,
            ticks,
            method,
            n_items=n_items,
            n_workers=len(data.worker_ids),
            n_classes=2,
            **options,
        )
        selected[:, o] = res.labels == 1
        confidence *= res.confidence
        qualities.append(res.worker_quality)
    judged = np.bincount(data.items, minlength=n_items) > 0
    labels = [
        [v for v, on in zip(values, row, strict=True) if on] if judged[i] else None
        for i, row in enumerate(selected)
    ]
    quality = (
        np.nanmean(np.stack(qualities), axis=0) if qualities and method == "dawid_skene" else None
    )
    return labels, np.where(judged, confidence, 0.0), method, quality


def _first_spellings(data: _BundleJudgments, winners: list[str | None]) -> list[Any]:
    """The winning normalised text of each item, as its first submitter spelled it."""
    spelling: dict[tuple[int, str], str] = {}
    for i, answer in zip(data.items.tolist(), data.answers, strict=True):
        spelling.setdefault((i, text_normalise(answer)), answer)
    return [
        None if w is None else spelling.get((i, text_normalise(w)), w)
        for i, w in enumerate(winners)
    ]


def _median_agreement(data: _BundleJudgments, values: np.ndarray, medians: np.ndarray) -> Any:
    n_items = len(medians)
    if not len(values):
        return np.zeros(n_items)
    equal = np.isclose(values, medians[data.items])
    counts = np.bincount(data.items, minlength=n_items)
    agree = np.bincount(data.items, weights=equal, minlength=n_items)
    return np.divide(agree, counts, out=np.zeros(n_items), where=counts > 0)


def _store_worker_quality(bundle_id: int, worker_ids: np.ndarray, quality: np.ndarray) -> None:
    by_worker = {
        int(w): float(q) for w, q in zip(worker_ids.tolist(), quality.tolist(), strict=True)
    }
    rows = list(WorkerBundleStats.objects.filter(bundle_id=bundle_id, worker_id__in=by_worker))
    for row in rows:
        value = by_worker[row.worker_id]
        row.estimated_accuracy = value if np.isfinite(value) else None
    WorkerBundleStats.objects.bulk_update(rows, ["estimated_accuracy"], batch_size=2000)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# ---------------------------------------------------------------------------------------------
# Live re-aggregation


def bundles_needing_aggregation() -> list[int]:
    """Live bundles with judgments submitted since their last whole-bundle run (or never run):
    the newest submission against the newest result a whole-bundle run wrote (the per-item
    decision writes other methods, so it does not hide a stale bundle)."""
    submitted = dict(
        Assignment.objects.filter(bundle__status__in=LIVE_STATUSES, status__in=COUNTED_STATUSES)
        .values("bundle_id")
        .annotate(latest=Max("submitted_at"))
        .values_list("bundle_id", "latest")
    )
    if not submitted:
        return []
    ran = dict(
        ItemResult.objects.filter(item__bundle_id__in=list(submitted), method__in=BUNDLE_METHODS)
        .values("item__bundle_id")
        .annotate(latest=Max("updated_at"))
        .values_list("item__bundle_id", "latest")
    )
    return sorted(
        bundle_id
        for bundle_id, latest in submitted.items()
        if latest is not None and (ran.get(bundle_id) is None or ran[bundle_id] < latest)
    )


def live_bundles_reaggregate() -> int:
    """Re-run the whole-bundle aggregation where new judgments arrived, and decide any dynamic
    item left waiting; returns the bundles re-aggregated. Each bundle is independent: one that
    fails is logged and the others still run."""
    done = 0
    for bundle_id in bundles_needing_aggregation():
        try:
            bundle_aggregate(bundle_id=bundle_id)
            bundle = Bundle.objects.only("min_overlap", "max_overlap", "status").get(pk=bundle_id)
            if bundle.is_dynamic_overlap:
                items_decide_waiting(bundle_id=bundle_id)
        except Exception:
            logger.exception("re-aggregation of bundle %s failed", bundle_id)
            continue
        done += 1
    return done


__all__ = [
    "COUNTED_STATUSES",
    "DEFAULT_TARGET_CONFIDENCE",
    "ChoiceCodec",
    "Decision",
    "Evidence",
    "bundle_aggregate",
    "bundles_needing_aggregation",
    "counted_judgments",
    "decide_answers",
    "fast_rule_blocks",
    "gold_rule_blocks",
    "item_decide",
    "items_decide",
    "items_decide_waiting",
    "live_bundles_reaggregate",
    "one_coin_posterior",
    "rule_violation",
    "submission_recorded",
    "worker_accuracies",
    "worker_block",
    "worker_evidence",
    "worker_quality_check",
    "worker_unblock",
]

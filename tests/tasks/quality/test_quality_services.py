"""Gold rules and blocking, the too-fast rule, and dynamic overlap, through the real claim and
submit path (tasks.services) and the quality follow-up it calls."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.errors import Forbidden
from tasks import work as tasks_work
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Item,
    ItemResult,
    ItemState,
    WorkerBundleStats,
)
from tasks.quality import blocking, bundle_aggregation, rules
from tasks.quality import services as quality
from tasks.quality.selectors import counted_judgments
from tests.factories import ItemFactory, WorkerFactory

from .conftest import FIVE, claim_submit, live_bundle_with, stats_of, submit

pytestmark = pytest.mark.django_db


def test_gold_rule_is_the_wilson_upper_bound_after_min_answers():
    # 0 of 3 is not enough evidence; 0 of 4 and 1 of 4 are (upper bounds 0.49 and 0.70-)
    assert not rules.gold_rule_blocks(correct=0, seen=3, min_accuracy=0.7, min_answers=4)
    assert rules.gold_rule_blocks(correct=0, seen=4, min_accuracy=0.7, min_answers=4)
    assert rules.gold_rule_blocks(correct=1, seen=4, min_accuracy=0.7, min_answers=4)
    assert not rules.gold_rule_blocks(correct=2, seen=4, min_accuracy=0.7, min_answers=4)
    assert not rules.gold_rule_blocks(correct=7, seen=10, min_accuracy=0.7, min_answers=4)


@pytest.mark.parametrize("reject_blocked_work", [False, True])
def test_spammer_is_blocked_after_enough_gold_and_their_items_requeued(draw, reject_blocked_work):
    # given: overlap 1, so every item the spammer answers is complete on their word alone (a
    # fourth item nobody answers keeps the bundle live: a completed bundle reopens nothing)
    bundle = live_bundle_with(
        items=4, gold=["a"] * 12, question=FIVE, min_overlap=1, max_overlap=1, gold_rate=0.2,
        min_gold_accuracy=0.7, min_gold_answers=4, reject_blocked_work=reject_blocked_work,
    )  # fmt: skip
    spammer = WorkerFactory()
    rng = np.random.default_rng(7)
    draw.real()
    real = [claim_submit(bundle, spammer, "b") for _ in range(3)]
    assert set(
        Item.objects.filter(pk__in=[w.item_id for w in real]).values_list("state", flat=True)
    ) == {ItemState.COMPLETE}
    # when: they answer gold at random (uniform over 5 choices)
    draw.gold()
    seen = correct = 0
    while True:
        answer = str(rng.choice(list("abcde")))
        claim_submit(bundle, spammer, answer)
        seen, correct = seen + 1, correct + (answer == "a")
        blocked = stats_of(spammer, bundle).blocked
        expected = rules.gold_rule_blocks(
            correct=correct, seen=seen, min_accuracy=0.7, min_answers=4
        )
        assert blocked == expected, (seen, correct)
        if blocked:
            break
        assert seen < 12, "a random spammer should be caught within 12 gold answers"
    # then: blocked from the bundle, with the figures as the reason
    assert seen >= 4
    stats = stats_of(spammer, bundle)
    assert stats.blocked_reason.startswith(f"Gold accuracy {correct}/{seen}")
    assert "under this bundle's minimum of 70%" in stats.blocked_reason
    with pytest.raises(Forbidden):
        tasks_work.assignment_claim(bundle=bundle, worker=spammer)
    # their answers no longer count: every item they completed is open again for one judgment
    for work in real:
        item = Item.objects.get(pk=work.item_id)
        assert (item.state, item.slots_open, item.judgments_submitted) == (ItemState.OPEN, 1, 0)
        assert not ItemResult.objects.filter(item=item).exists()
        status, reason = Assignment.objects.values_list("status", "reject_reason").get(pk=work.pk)
        if reject_blocked_work:
            assert status == AssignmentStatus.REJECTED
            assert "blocked from this bundle" in reason and "Gold accuracy" in reason
        else:
            assert (status, reason) == (AssignmentStatus.SUBMITTED, "")
    # and someone else buys the replacement judgments
    draw.real()
    other = WorkerFactory()
    replaced = {claim_submit(bundle, other, "a").item_id for _ in range(3)}
    assert replaced == {w.item_id for w in real}
    assert Item.objects.filter(bundle=bundle, is_gold=False, state=ItemState.COMPLETE).count() == 3
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    labels = ItemResult.objects.filter(item__bundle=bundle, item__is_gold=False)
    assert {r.label for r in labels} == {"a"}  # the spammer's "b" is gone (the 4th: unjudged)
    # idempotent: checking again changes nothing and keeps the reason
    assert blocking.worker_quality_check(worker_id=spammer.pk, bundle_id=bundle.pk)
    assert stats_of(spammer, bundle).blocked_reason == stats.blocked_reason


def test_good_workers_are_rarely_blocked_by_bad_luck():
    """Sequential use of the rule (checked after every gold answer from the 4th on), simulated
    for many workers with the very function the service uses.

    Exact figures for min_gold_answers=4 (a Markov chain over (answers, correct), computed
    when the defaults were chosen): a 90%-accurate worker is ever blocked with probability
    0.40% over 50 gold answers at min accuracy 0.7, and 1.29% at 0.8; a uniform spammer on 5
    choices (20%) is blocked within 20 gold answers with probability 99.9% at 0.7. The bounds
    asserted leave > 4 standard errors of the 4,000-worker estimate above the exact values."""
    rng = np.random.default_rng(2024)
    n_workers, n_gold = 4000, 50
    seen = np.arange(1, n_gold + 1)

    def blocked_share(accuracy: float, min_accuracy: float, answers: int = n_gold) -> float:
        correct = np.cumsum(rng.random((n_workers, answers)) < accuracy, axis=1)
        verdict = rules.gold_rule_blocks(
            correct=correct, seen=seen[:answers], min_accuracy=min_accuracy, min_answers=4
        )
        return float(verdict.any(axis=1).mean())

    assert blocked_share(0.9, 0.7) <= 0.01
    assert blocked_share(0.9, 0.8) <= 0.025
    assert blocked_share(0.2, 0.7, answers=20) >= 0.98


def test_blocks_through_the_hot_path_match_the_rule(draw):
    """Wiring check: twelve 90%-accurate workers and two always-wrong ones answer six gold
    items each through claim and submit; exactly the workers the rule names get blocked."""
    bundle = live_bundle_with(
        items=1, gold=["a"] * 6, question=FIVE, gold_rate=0.2, min_gold_accuracy=0.7,
        min_gold_answers=4,
    )  # fmt: skip
    rng = np.random.default_rng(11)
    draw.gold()
    expected = {}
    for n in range(14):
        worker = WorkerFactory()
        accuracy = 0.9 if n < 12 else 0.0
        right = rng.random(6) < accuracy
        for ok in right:
            claim_submit(bundle, worker, "a" if ok else "c")
            if stats_of(worker, bundle).blocked:
                break
        correct = np.cumsum(right)
        expected[worker.pk] = bool(
            rules.gold_rule_blocks(
                correct=correct, seen=np.arange(1, 7), min_accuracy=0.7, min_answers=4
            ).any()
        )
    blocked = dict(
        WorkerBundleStats.objects.filter(bundle=bundle).values_list("worker_id", "blocked")
    )
    assert blocked == expected
    assert sum(expected.values()) == 2  # the two spammers, no good worker


def test_too_fast_rule(draw):
    bundle = live_bundle_with(
        items=8, min_overlap=3, max_overlap=3, min_seconds_per_task=3.0, max_fast_fraction=0.5,
        min_gold_answers=4,
    )  # fmt: skip
    draw.real()
    fast, slow, mixed = WorkerFactory(), WorkerFactory(), WorkerFactory()
    for n in range(5):
        assert not stats_of(fast, bundle).blocked if n else True
        claim_submit(bundle, fast, "pos")  # instant
    # blocked at the 5th answer (the rule waits for max(5, min_gold_answers) answers)
    stats = stats_of(fast, bundle)
    assert stats.blocked
    assert stats.blocked_reason.startswith("5 of 5 answers (100%) took under 3 s")
    for _ in range(6):
        claim_submit(bundle, slow, "pos", seconds=10)
    for n in range(6):
        claim_submit(bundle, mixed, "pos", seconds=None if n % 2 else 10)
    assert not stats_of(slow, bundle).blocked
    assert not stats_of(mixed, bundle).blocked  # 3 of 6 is not more than half
    # the fast worker's answers stopped counting on the items they touched
    touched = Assignment.objects.filter(worker=fast).values_list("item_id", flat=True)
    for item in Item.objects.filter(pk__in=touched):
        counted = Assignment.objects.filter(item=item, status__in=rules.COUNTED_STATUSES).exclude(
            worker=fast
        )
        assert item.judgments_submitted == counted.count()


# ---------------------------------------------------------------------------------------------
# Dynamic overlap


def _invariants(bundle):
    """What must hold for every item at every moment."""
    for item in Item.objects.filter(bundle=bundle, is_gold=False):
        claimed = Assignment.objects.filter(item=item, status=AssignmentStatus.CLAIMED).count()
        n = item.judgments_submitted
        assert n + claimed + item.slots_open <= bundle.max_overlap, item
        assert counted_judgments(bundle_id=bundle.pk).filter(item=item).count() == n
        if item.state == ItemState.COMPLETE:
            assert n >= bundle.min_overlap
            result = ItemResult.objects.get(item=item)
            target = bundle.target_confidence or rules.DEFAULT_TARGET_CONFIDENCE
            assert n == bundle.max_overlap or result.confidence >= target
        else:
            assert item.slots_open + claimed >= 1, "an incomplete item must be waiting for work"


def _with_an_item_served_last(bundle):
    """One more item, served after the others, that nobody reaches: it keeps the bundle live
    (a bundle whose items are all complete is completed, and its final run relabels them)."""
    ItemFactory(bundle=bundle, priority=10)
    Item.objects.filter(bundle=bundle, priority=10).update(slots_open=1)


def test_dynamic_overlap_completes_early_when_confident(draw):
    bundle = live_bundle_with(items=1, min_overlap=2, max_overlap=5, target_confidence=0.9)
    item = bundle.items.get()
    _with_an_item_served_last(bundle)
    draw.real()
    for n, expected_state in [(1, ItemState.OPEN), (2, ItemState.OPEN), (3, ItemState.COMPLETE)]:
        claim_submit(bundle, WorkerFactory(), "pos")
        item.refresh_from_db()
        assert (item.judgments_submitted, item.state) == (n, expected_state)
        _invariants(bundle)
    result = ItemResult.objects.get(item=item)
    # three agreeing workers of the prior accuracy 0.7: 0.343 / (0.343 + 0.027)
    assert (result.label, result.method, result.judgments) == ("pos", "one_coin", 3)
    assert result.confidence == pytest.approx(0.927, abs=1e-3)
    assert claim_submit(bundle, WorkerFactory(), "pos").item_id != item.pk


def test_dynamic_overlap_never_exceeds_max(draw):
    bundle = live_bundle_with(items=1, min_overlap=2, max_overlap=5, target_confidence=0.95)
    item = bundle.items.get()
    draw.real()
    for n in range(5):
        claim_submit(bundle, WorkerFactory(), "pos" if n % 2 else "neg")
        _invariants(bundle)
    item.refresh_from_db()
    assert (item.judgments_submitted, item.state, item.slots_open) == (5, ItemState.COMPLETE, 0)
    with pytest.raises(tasks_work.NoTasksAvailable):
        claim_submit(bundle, WorkerFactory(), "pos")
    assert Assignment.objects.filter(item=item).count() == 5


def test_dynamic_overlap_never_completes_below_min(draw):
    bundle = live_bundle_with(
        items=1, question=FIVE, min_overlap=2, max_overlap=4, target_confidence=0.9
    )
    item = bundle.items.get()
    expert = WorkerFactory()
    WorkerBundleStats.objects.create(worker=expert, bundle=bundle, gold_seen=30, gold_correct=30)
    draw.real()
    claim_submit(bundle, expert, "c")
    item.refresh_from_db()
    result = ItemResult.objects.get(item=item)
    assert result.confidence >= 0.9  # confident on one judgment...
    assert (item.state, item.judgments_submitted, item.slots_open) == (ItemState.OPEN, 1, 1)
    claim_submit(bundle, WorkerFactory(), "c")  # ...but it waits for min_overlap
    item.refresh_from_db()
    assert item.state == ItemState.COMPLETE


def test_dynamic_overlap_invariants_under_a_random_crowd(draw):
    bundle = live_bundle_with(
        items=6, question=FIVE, min_overlap=2, max_overlap=4, target_confidence=0.9
    )
    rng = np.random.default_rng(3)
    truth = {item.pk: str(rng.choice(list("abcde"))) for item in bundle.items.all()}
    draw.real()
    workers = [(WorkerFactory(), rng.uniform(0.3, 0.95)) for _ in range(12)]
    held = []
    for worker, accuracy in workers:
        # two claims outstanding at once now and then, so live claims count in the room
        try:
            held.append(
                (worker, accuracy, tasks_work.assignment_claim(bundle=bundle, worker=worker))
            )
        except tasks_work.NoTasksAvailable:
            break
        _invariants(bundle)
        if len(held) < 2:
            continue
        for w, acc, assignment in held:
            answer = truth[assignment.item_id] if rng.random() < acc else "e"
            submit(assignment_id=assignment.pk, worker=w, answer=answer)
            _invariants(bundle)
        held = []
        while True:
            try:
                claim_submit(
                    bundle, worker, lambda i, a=accuracy: truth[i.pk] if rng.random() < a else "d"
                )
            except tasks_work.NoTasksAvailable:
                break
            _invariants(bundle)
    counts = list(bundle.items.values_list("judgments_submitted", flat=True))
    assert all(2 <= n <= 4 for n in counts)
    assert min(counts) < 4  # some items completed early


def test_blocking_reopens_a_dynamic_item_that_needed_the_blocked_answer(draw):
    bundle = live_bundle_with(items=1, min_overlap=2, max_overlap=5, target_confidence=0.9)
    item = bundle.items.get()
    _with_an_item_served_last(bundle)
    draw.real()
    workers = [WorkerFactory() for _ in range(3)]
    for worker in workers:
        claim_submit(bundle, worker, "pos")
    item.refresh_from_db()
    assert item.state == ItemState.COMPLETE
    blocking.worker_block(worker_id=workers[0].pk, bundle_id=bundle.pk, reason="Copy-paste")
    item.refresh_from_db()
    assert (item.state, item.judgments_submitted, item.slots_open) == (ItemState.OPEN, 2, 1)
    assert ItemResult.objects.get(item=item).judgments == 2
    _invariants(bundle)
    # unblocking counts their answer again and completes the item without buying more
    blocking.worker_unblock(worker_id=workers[0].pk, bundle_id=bundle.pk)
    item.refresh_from_db()
    assert (item.state, item.judgments_submitted, item.slots_open) == (ItemState.COMPLETE, 3, 0)


def test_an_unblocked_worker_is_judged_on_new_gold_only(draw):
    bundle = live_bundle_with(
        items=1, gold=["a"] * 10, question=FIVE, gold_rate=0.2, min_gold_accuracy=0.7,
        min_gold_answers=4,
    )  # fmt: skip
    worker = WorkerFactory()
    draw.gold()
    for _ in range(4):
        claim_submit(bundle, worker, "b")
    assert stats_of(worker, bundle).blocked
    blocking.worker_unblock(worker_id=worker.pk, bundle_id=bundle.pk)
    claim_submit(bundle, worker, "a")
    assert not stats_of(worker, bundle).blocked  # the old 0/4 is not held against them
    for _ in range(3):
        claim_submit(bundle, worker, "b")
    assert stats_of(worker, bundle).blocked  # 1/4 since the unblock


def test_a_failed_follow_up_is_retried_not_raised(monkeypatch, draw):
    from django.db import OperationalError

    bundle = live_bundle_with(items=1, min_overlap=2, max_overlap=3)
    calls = []

    def flaky(*, item_id):
        calls.append(item_id)
        if len(calls) == 1:
            raise OperationalError("deadlock detected")
        return ItemState.OPEN

    monkeypatch.setattr(quality, "item_decide", flaky)
    draw.real()
    claim_submit(bundle, WorkerFactory(), "pos")  # does not raise
    assert len(calls) == 2  # the (eager) Celery retry ran it again

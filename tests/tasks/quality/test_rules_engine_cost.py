"""What the rules engine costs per submission does not grow with the bundle: the speed and
distribution collectors compare a worker with a bounded read of a small bundle, or with a
summary of a large one (`crowd_statistics`), and reach the decisions the whole read reached."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tasks.models import Assignment, AssignmentStatus, Item, QualityRuleEvent, WorkerBundleStats
from tasks.quality import crowd_statistics
from tasks.quality.rules_engine import quality_rules_check, quality_rules_validate
from tests.factories import WorkerFactory

from .conftest import claim_submit, live_bundle_with

pytestmark = pytest.mark.django_db

RULES = [
    {"collector": "answer_speed", "min_answers": 3, "threshold": 0.5},
    {"collector": "answer_distribution", "min_answers": 3, "threshold": 0.6},
]


def crowd_bundle(items: int, *, per_item: int = 3):
    """A live bundle whose items already carry `per_item` judgments of a 30-second crowd that
    answers "pos" a third of the time."""
    bundle = live_bundle_with(
        items=items, min_overlap=per_item + 2, max_overlap=per_item + 2,
        quality_rules=quality_rules_validate(RULES),
    )  # fmt: skip
    crowd = [WorkerFactory() for _ in range(per_item * 2)]
    now = timezone.now()
    rows = []
    for n, item in enumerate(Item.objects.filter(bundle=bundle).order_by("id")):
        for k in range(per_item):
            worker = crowd[(n + k) % len(crowd)]
            rows.append(
                Assignment(
                    bundle=bundle,
                    item=item,
                    worker=worker,
                    status=AssignmentStatus.SUBMITTED,
                    answer="pos" if (n + k) % 3 == 0 else "neg",
                    claimed_at=now - timedelta(seconds=30),
                    deadline=now + timedelta(minutes=10),
                    submitted_at=now,
                    seconds_spent=30.0,
                )  # fmt: skip
            )
    Assignment.objects.bulk_create(rows)
    return bundle


def queries_of_one_submission(bundle, worker) -> int:
    with CaptureQueriesContext(connection) as captured:
        claim_submit(bundle, worker, "neg", seconds=25)
    return len(captured.captured_queries)


def test_queries_per_submission_do_not_grow_with_the_bundle(django_assert_max_num_queries):
    small = crowd_bundle(6)  # 18 answers: read whole
    large = crowd_bundle(220)  # 660 answers: summarised
    assert 18 <= crowd_statistics.EXACT_LIMIT < 660
    worker = WorkerFactory()
    claim_submit(small, worker, "neg", seconds=25)
    claim_submit(large, worker, "neg", seconds=25)  # the large bundle's summary is made here
    per_small = queries_of_one_submission(small, worker)
    with django_assert_max_num_queries(per_small):
        claim_submit(large, worker, "neg", seconds=25)
    # And what the rules read: nothing of the whole large bundle any more, a bounded read of
    # the small one (the old collectors read every answer of the bundle per submission).
    for bundle, whole_reads in ((small, 0), (large, 0)):
        with CaptureQueriesContext(connection) as captured:
            quality_rules_check(worker_id=worker.pk, bundle_id=bundle.pk)
        assert len(unbounded_bundle_reads(captured.captured_queries)) == whole_reads


def unbounded_bundle_reads(queries) -> list[str]:
    """Reads of assignments by bundle alone (no worker named) with no LIMIT."""
    sqls = [q["sql"] for q in queries]
    return [
        sql for sql in sqls
        if sql.startswith("SELECT") and 'FROM "tasks_assignment"' in sql
        and '"tasks_assignment"."worker_id" =' not in sql and "LIMIT" not in sql
    ]  # fmt: skip


def blocked(worker, bundle) -> bool:
    stats = WorkerBundleStats.objects.filter(worker=worker, bundle=bundle).first()
    return bool(stats and stats.blocked)


@pytest.mark.parametrize("items", [6, 220])
def test_a_large_bundles_summary_blocks_the_instant_clicker_as_the_whole_read_does(items):
    bundle = crowd_bundle(items)
    spammer, steady = WorkerFactory(), WorkerFactory()
    for _ in range(3):
        claim_submit(bundle, steady, "neg", seconds=20)
        claim_submit(bundle, spammer, "neg")  # well under a second each
    assert blocked(spammer, bundle) and not blocked(steady, bundle)
    event = QualityRuleEvent.objects.get(worker=spammer)
    assert event.rule["collector"] == "answer_speed"
    # The median is the crowd's 30 s whichever way it was read (the two workers' own answers
    # barely move it in the large bundle, and not past the 20 s of the steady one).
    assert event.figures["floor_seconds"] == pytest.approx(0.3 * 30, rel=0.1)


@pytest.mark.parametrize("items", [6, 220])
def test_a_large_bundles_summary_catches_the_constant_answerer_as_the_whole_read_does(items):
    bundle = crowd_bundle(items)
    constant, varied = WorkerFactory(), WorkerFactory()
    for n in range(3):
        claim_submit(bundle, varied, "pos" if n % 3 == 0 else "neg", seconds=30)
        claim_submit(bundle, constant, "pos", seconds=30)
    assert blocked(constant, bundle) and not blocked(varied, bundle)
    figures = QualityRuleEvent.objects.get(worker=constant).figures
    assert figures["share"] == 1.0
    # The crowd's "pos" share is a third either way (the worker's own answers left out).
    assert figures["crowd_share"] == pytest.approx(1 / 3, abs=0.05)


def test_a_fixed_overlap_submissions_follow_up_reads_little_and_leaves_labels_to_the_batch(
    monkeypatch,
):
    """What a rules bundle's submission pays after its write: the bundle, the worker's
    counters, and no rule evaluated before the worker has the answers a rule needs; the
    item's live label is the batched live update's (asked for here), not decided per answer."""
    from tasks import submission

    asked: list[int] = []
    monkeypatch.setattr(submission, "live_update_schedule", asked.append)
    bundle = crowd_bundle(6)
    worker = WorkerFactory()
    with CaptureQueriesContext(connection) as captured:
        claim_submit(bundle, worker, "neg", seconds=25)
    # Claim and write (SQLite: a handful of statements), then the follow-up's two reads.
    reads = [q["sql"] for q in captured.captured_queries]
    assert not any("tasks_qualityruleevent" in sql for sql in reads)  # no history read
    assert not any('"tasks_itemresult"' in sql for sql in reads)  # no per-answer decision
    assert asked == [bundle.pk]

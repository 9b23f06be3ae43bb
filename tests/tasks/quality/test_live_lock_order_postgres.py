"""The whole-bundle re-estimate of the live update against concurrent claims and submissions
(PostgreSQL: row locks). Both write a bundle's worker stats and item results; they must take
their locks in one order, so that PostgreSQL never has to pick a deadlock victim (which the
claim would retry and the follow-up would push to Celery, hiding the fault: the test reads
the database's own deadlock counter)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from marketplace.errors import DomainError
from tasks import services
from tasks import work as tasks_work
from tasks.models import Assignment, Item, ItemResult, WorkerBundleStats
from tasks.quality.bundle_aggregation import bundle_aggregate
from tasks.quality.rules_engine import quality_rules_validate
from tests.factories import BundleFactory, RequesterFactory, WorkerFactory, publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CHOICES = {"type": "single_choice", "choices": [{"value": v, "label": v} for v in "abc"]}


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize("overlap", [(3, 3), (2, 4)], ids=["fixed", "dynamic"])
def test_re_estimates_while_16_workers_claim_and_submit_never_deadlock(overlap):
    low, high = overlap
    bundle = BundleFactory(
        requester=RequesterFactory(), question=CHOICES, min_overlap=low, max_overlap=high,
        # A rule makes every submission's follow-up decide its item (row lock, result write).
        quality_rules=quality_rules_validate(
            [{"collector": "answer_speed", "action": "notify", "min_answers": 1000}]
        ),
    )  # fmt: skip
    Item.objects.bulk_create(
        Item(bundle=bundle, payload={"n": n}, external_id=f"x{n}", slots_open=low)
        for n in range(120)
    )
    bundle = publish(bundle)
    crowd = [WorkerFactory() for _ in range(16)]
    before = deadlocks()
    errors: list[BaseException] = []
    done = threading.Event()
    start = threading.Barrier(len(crowd) + 1)
    runs = []

    def answer(worker, item_id: int) -> str:
        return "abc"[(item_id + (worker.pk % 5 == 0)) % 3]  # one worker in five disagrees

    def work(worker):
        try:
            start.wait()
            while True:
                try:
                    task = tasks_work.assignment_claim(bundle=bundle, worker=worker)
                except DomainError as exc:
                    assert exc.code == "no_tasks_available", exc.code
                    return
                if worker.pk % 2:  # half answer and take the next task in one call
                    while task is not None:
                        step = services.assignment_submit_and_claim_next(
                            assignment_id=task.pk, worker=worker,
                            answer=answer(worker, task.item_id), bundle=bundle,
                        )  # fmt: skip
                        task = step.next
                    return
                services.assignment_submit(
                    assignment_id=task.pk, worker=worker, answer=answer(worker, task.item_id),
                    bundle=bundle,
                )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def re_estimate():
        try:
            start.wait()
            while not done.is_set():
                runs.append(bundle_aggregate(bundle_id=bundle.pk))
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    estimator = threading.Thread(target=re_estimate)
    threads = [threading.Thread(target=work, args=(w,)) for w in crowd]
    for thread in [estimator, *threads]:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    estimator.join()
    assert not errors, errors
    assert len(runs) >= 3  # the re-estimate ran while the crowd worked
    time.sleep(1.5)  # the backends' counters reach the shared statistics
    assert deadlocks() == before
    # And it all adds up: every item has its judgments, its result and the workers' estimates.
    assert Assignment.objects.filter(bundle=bundle, status="submitted").count() >= 120 * low
    bundle_aggregate(bundle_id=bundle.pk)
    assert ItemResult.objects.filter(item__bundle=bundle).count() == 120
    stats = WorkerBundleStats.objects.filter(bundle=bundle)
    assert not stats.filter(estimated_accuracy__isnull=True).exists()

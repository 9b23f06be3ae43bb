"""Claiming under real concurrency (PostgreSQL: row locks, SKIP LOCKED)."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from marketplace.errors import DomainError
from tasks import services
from tasks import work as tasks_work
from tasks.models import Assignment, BundleStatus, Item, ItemState
from tests.factories import BundleFactory, RequesterFactory, WorkerFactory, publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_32_threads_claim_a_bundle_empty_with_exact_overlap():
    bundle = BundleFactory(requester=RequesterFactory())
    Item.objects.bulk_create(
        Item(bundle=bundle, payload={"n": n}, external_id=f"x{n}", slots_open=3) for n in range(60)
    )
    bundle = publish(bundle)
    crowd = [WorkerFactory() for _ in range(32)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(crowd))

    def work(worker):
        try:
            start.wait()
            if worker.pk % 3 == 0:  # a third answer and take the next task in one call
                try:
                    task = tasks_work.assignment_claim(bundle=bundle, worker=worker)
                except DomainError as exc:
                    assert exc.code == "no_tasks_available", exc.code
                    return
                while task is not None:
                    step = services.assignment_submit_and_claim_next(
                        assignment_id=task.pk, worker=worker, answer="pos", bundle=bundle
                    )
                    task = step.next
                assert step.no_next.code == "no_tasks_available", step.no_next.code
                return
            while True:
                try:
                    assignment = tasks_work.assignment_claim(bundle=bundle, worker=worker)
                except DomainError as exc:
                    assert exc.code == "no_tasks_available", exc.code
                    return
                # The rest submit the one-statement way (bundle at hand) or the long way.
                hint = bundle if worker.pk % 3 == 1 else None
                services.assignment_submit(
                    assignment_id=assignment.pk, worker=worker, answer="pos", bundle=hint
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(w,)) for w in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors

    per_item = Counter(Assignment.objects.filter(bundle=bundle).values_list("item_id", flat=True))
    assert len(per_item) == 60  # no lost item
    assert set(per_item.values()) == {3}  # every item exactly its overlap
    pairs = Assignment.objects.filter(bundle=bundle).values_list("item_id", "worker_id")
    assert len(set(pairs)) == len(pairs)  # no worker twice on an item
    assert not Item.objects.filter(bundle=bundle).exclude(state=ItemState.COMPLETE).exists()


def test_one_worker_claiming_from_8_threads_at_once_holds_one_claim():
    bundle = BundleFactory(requester=RequesterFactory())
    Item.objects.bulk_create(
        Item(bundle=bundle, payload={"n": n}, external_id=f"x{n}", slots_open=3) for n in range(20)
    )
    bundle = publish(bundle)
    worker = WorkerFactory()
    got: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def claim():
        try:
            start.wait()
            got.append(tasks_work.assignment_claim(bundle=bundle, worker=worker).pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(got) == 8 and len(set(got)) == 1  # every request got the one claim
    assert Assignment.objects.filter(worker=worker).count() == 1
    assert sum(Item.objects.filter(bundle=bundle).values_list("slots_open", flat=True)) == 59


def test_claim_uses_the_partial_open_item_index_in_a_large_bundle():
    bundle = BundleFactory(requester=RequesterFactory(), status=BundleStatus.PUBLISHED)
    other = BundleFactory(requester=bundle.requester, status=BundleStatus.PUBLISHED)
    with connection.cursor() as cursor:
        for target, count in ((bundle, 100_000), (other, 20_000)):
            cursor.execute(
                """INSERT INTO tasks_item (bundle_id, external_id, payload, is_gold, state,
                                           priority, slots_open, judgments_submitted, created_at)
                   SELECT %s, '', jsonb_build_object('n', g), false,
                          CASE WHEN g %% 2 = 0 THEN 'full' ELSE 'open' END, 0, 3, 0, now()
                     FROM generate_series(1, %s) g""",
                [target.pk, count],
            )
        cursor.execute("ANALYZE tasks_item")
        cursor.execute("ANALYZE tasks_assignment")
    worker = WorkerFactory()
    sql, params = tasks_work.claim_statement(bundle, worker)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_claim_open" in plan, plan
    assert "Seq Scan on tasks_item" not in plan, plan

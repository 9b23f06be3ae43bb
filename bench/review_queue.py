"""The review queue at scale: one page of a bundle's 100k waiting answers, first and deepest,
plain, grouped by item and filtered (disagreement with the label), on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crowdmarket_bench python -m bench.review_queue
    python -m bench.review_queue --scale 0.1      # 10k answers (as `make bench` with BENCH_ARGS)

Builds one published bundle with --answers submitted answers (one per item, 50 workers, a label
on every item, a tenth of the answers disagreeing), then times `tasks.review_queue.review_page`
(what the review page runs: the page by keyset, the total, the newest id, the page's results)
at the first page and at the last one. The baseline, measured in the same run, is the same last
page by OFFSET (what a plain paginator does), with its count.

Ends with `TARGET review_keyset_deep_vs_first <last page / first page> <= 1.5` (keyset pages
cost the same at any depth) and `TARGET review_keyset_vs_offset_deep <keyset last / offset
last> <= 1.0`. The rows are removed afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import print_table, report_target
from bench.setup_db import django_setup_for_bench

REQUESTER_EMAIL = "bench-review@example.com"
WORKERS = 50
REPEAT = 7


def build(answers: int):
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from accounts.services import user_create
    from tasks import models as m

    cleanup()
    requester = user_create(email=REQUESTER_EMAIL, password=None, requester=True)
    workers = [
        user_create(email=f"bench-review-w{n}@example.com", password=None, worker=True)
        for n in range(WORKERS)
    ]
    now = timezone.now()
    with transaction.atomic():
        bundle = m.Bundle.objects.create(
            requester=requester, title="bench review", question={"type": "single_choice",
            "choices": [{"value": "pos", "label": "P"}, {"value": "neg", "label": "N"}]},
            reward_minor=5, status=m.BundleStatus.PUBLISHED, published_at=now,
        )  # fmt: skip
        for start in range(0, answers, 10_000):
            count = min(10_000, answers - start)
            items = m.Item.objects.bulk_create(
                m.Item(bundle=bundle, payload={"text": f"review {start + n}"}, slots_open=0,
                     state=m.ItemState.COMPLETE, judgments_submitted=1)
                for n in range(count)
            )  # fmt: skip
            m.Assignment.objects.bulk_create(
                m.Assignment(bundle=bundle, item=item, worker=workers[n % WORKERS],
                           status=m.AssignmentStatus.SUBMITTED,
                           answer="neg" if (start + n) % 10 == 0 else "pos",
                           claimed_at=now, deadline=now, submitted_at=now, seconds_spent=5.0)
                for n, item in enumerate(items)
            )  # fmt: skip
            m.ItemResult.objects.bulk_create(
                m.ItemResult(item=item, label="pos", confidence=0.5 + (n % 50) / 100,
                           method="majority", judgments=1)
                for n, item in enumerate(items)
            )  # fmt: skip
        m.WorkerBundleStats.objects.bulk_create(
            m.WorkerBundleStats(worker=w, bundle=bundle, submitted=answers // WORKERS)
            for w in workers
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_assignment; ANALYZE tasks_item; ANALYZE tasks_itemresult")
    assert User.objects.filter(email=REQUESTER_EMAIL).exists()
    return bundle


def cleanup() -> None:
    from accounts.models import User
    from tasks.models import Bundle

    for bundle in Bundle.objects.filter(requester__email=REQUESTER_EMAIL):
        bundle.assignments.all().delete()
        bundle.delete()
    User.objects.filter(email__startswith="bench-review").delete()


def timed(fn) -> float:
    """Median milliseconds of REPEAT runs (after one warm-up)."""
    fn()
    runs = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    answers = max(1_000, int(args.answers * args.scale))
    django_setup_for_bench()
    from tasks import review_queue
    from tasks.review_queue import ReviewFilter

    print(f"building {answers} waiting answers ...", flush=True)
    bundle = build(answers)
    try:
        plain, size = ReviewFilter(), review_queue.PAGE_SIZE
        ids = list(
            review_queue.pending_matching(bundle, plain).order_by("id").values_list("id", flat=True)
        )
        last_cursor = str(ids[-size - 1])
        last_item = review_queue.pending_matching(bundle, plain).get(pk=ids[-size - 1]).item_id
        disagree = ReviewFilter(disagree=True)
        d_ids = list(
            review_queue.pending_matching(bundle, disagree)
            .order_by("id")
            .values_list("id", flat=True)
        )

        def offset_last() -> None:
            query = review_queue.pending_matching(bundle, plain).select_related("item")
            list(query.order_by("id")[len(ids) - size : len(ids)])
            query.count()

        page = review_queue.review_page
        g_cursor = f"{last_item}-{ids[-size - 1]}"
        d_cursor = str(d_ids[-size - 1])
        rows = [
            ["plain", "first", timed(lambda: page(bundle, plain))],
            ["plain", "last", timed(lambda: page(bundle, plain, cursor=last_cursor))],
            ["grouped", "first", timed(lambda: page(bundle, plain, by_item=True))],
            ["grouped", "last", timed(lambda: page(bundle, plain, cursor=g_cursor, by_item=True))],
            ["disagree", "first", timed(lambda: page(bundle, disagree))],
            ["disagree", "last", timed(lambda: page(bundle, disagree, cursor=d_cursor))],
            ["offset (baseline)", "last", timed(offset_last)],
        ]  # fmt: skip
        print_table(["view", "page", "ms (median)"], rows)
        first, last, offset = rows[0][2], rows[1][2], rows[6][2]
        ok = report_target("review_keyset_deep_vs_first", last / first, "<=", 1.5)
        ok &= report_target("review_keyset_vs_offset_deep", last / offset, "<=", 1.0)
    finally:
        cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Claim+submit throughput of the service layer vs. one raw SQL claim statement (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crowdmarket_bench python -m bench.claim

Three identical bundles of --items items (overlap 1) are consumed by --workers concurrent
processes: one with the raw statement `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP
LOCKED LIMIT 1)`, two through the service layer: `assignment_claim` then `assignment_submit`
(two calls per task), and a worker's loop through `assignment_submit_and_claim_next` (one
call per task). The three take turns, 5% of a bundle at a time, so a drift in the machine's
speed (shared VMs lose CPU to their neighbours) weighs on all three alike. Throughput is read
in two windows: fresh (5%-15% consumed) and after half the bundle is consumed (50%-60%),
where dead rows left by claims would show. Prints both service ratios and ends with
`TARGET claim_vs_raw_sql <loop ratio> >= 0.50`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from collections import Counter

from bench.common import print_table, report_target
from bench.setup_db import django_setup_for_bench

RAW_CLAIM = """
    UPDATE tasks_item SET slots_open = slots_open - 1,
           state = CASE WHEN slots_open = 1 THEN 'full' ELSE 'open' END
     WHERE id = (SELECT i.id FROM tasks_item i
                  WHERE i.bundle_id = %s AND i.state = 'open' AND i.is_gold = false
                    AND i.slots_open > 0
                    AND NOT EXISTS (SELECT 1 FROM tasks_assignment a
                                     WHERE a.item_id = i.id AND a.worker_id = %s)
                  ORDER BY i.priority, i.id LIMIT 1 FOR UPDATE SKIP LOCKED)
 RETURNING id
"""


def make_bundle(n_items: int, requester) -> int:
    from django.db import connection

    from tasks.models import Bundle, BundleStatus

    bundle = Bundle.objects.create(
        requester=requester,
        title=f"bench claim {n_items}",
        question={"type": "single_choice", "choices": [{"value": "a", "label": "A"},
                                                       {"value": "b", "label": "B"}]},
        reward_minor=5, min_overlap=1, max_overlap=1, status=BundleStatus.PUBLISHED,
        time_limit_seconds=3600,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO tasks_item (bundle_id, external_id, payload, is_gold, state, priority,
                                       slots_open, judgments_submitted, created_at)
               SELECT %s, 'e' || g, jsonb_build_object('text', 'item ' || g), false, 'open', 0,
                      1, 0, now() FROM generate_series(1, %s) g""",
            [bundle.pk, n_items],
        )
    return bundle.pk


_COUNTER = None  # the turn's shared claim counter, given to each pool process at its start


def raw_worker(bundle_id: int, worker_id: int, limit: int) -> list[float]:
    from django.db import connection

    done = []
    with connection.cursor() as cursor:
        while _COUNTER.value < limit:
            cursor.execute(RAW_CLAIM, [bundle_id, worker_id])
            if cursor.fetchone() is None:
                break
            done.append(time.perf_counter())
            with _COUNTER.get_lock():
                _COUNTER.value += 1
    return done


def service_worker(bundle_id: int, worker_id: int, limit: int) -> list[float]:

    from accounts.models import User
    from marketplace.errors import DomainError
    from tasks import services, work
    from tasks.models import Bundle

    worker = User.objects.select_related("worker_profile").get(pk=worker_id)
    bundle = Bundle.objects.get(pk=bundle_id)
    done = []
    while _COUNTER.value < limit:
        try:
            assignment = work.assignment_claim(bundle=bundle, worker=worker)
        except DomainError:
            break
        services.assignment_submit(
            assignment_id=assignment.pk, worker=worker, answer="a", bundle=bundle
        )
        done.append(time.perf_counter())
        with _COUNTER.get_lock():
            _COUNTER.value += 1
    return done


def loop_worker(bundle_id: int, worker_id: int, limit: int) -> list[float]:
    """A worker's loop as the task page and `submit/?next=1` run it: one call per task, which
    records the answer and hands out the next task."""

    from accounts.models import User
    from marketplace.errors import DomainError
    from tasks import services, work
    from tasks.models import Bundle

    worker = User.objects.select_related("worker_profile").get(pk=worker_id)
    bundle = Bundle.objects.get(pk=bundle_id)
    done = []
    try:
        task = work.assignment_claim(bundle=bundle, worker=worker)
    except DomainError:
        task = None
    while task is not None:
        step = services.assignment_submit_and_claim_next(
            assignment_id=task.pk, worker=worker, answer="a", bundle=bundle
        )
        done.append(time.perf_counter())
        with _COUNTER.get_lock():
            _COUNTER.value += 1
        task = step.next if _COUNTER.value < limit else None
    if task is not None:
        work.assignment_return(assignment_id=task.pk, worker=worker)
    return done


def _pool_start(counter) -> None:
    global _COUNTER
    _COUNTER = counter


class Crowd:
    """One pool of worker processes per path, alive for the whole run: like app servers,
    each keeps its database connection (and its prepared statements) from turn to turn."""

    def __init__(self, kinds: tuple[str, ...], size: int) -> None:
        from django.db import connections

        connections.close_all()  # children open their own connections after the fork
        ctx = mp.get_context("fork")
        self.counter = ctx.Value("l", 0)
        self.pools = {
            kind: ctx.Pool(size, initializer=_pool_start, initargs=(self.counter,))
            for kind in kinds
        }

    def turn(self, kind: str, bundle_id: int, worker_ids: list[int], limit: int) -> list[float]:
        """Let the path's workers claim `limit` tasks together; their completion times."""
        target = {"raw": raw_worker, "service": service_worker, "loop": loop_worker}[kind]
        self.counter.value = 0
        results = self.pools[kind].starmap(target, [(bundle_id, w, limit) for w in worker_ids])
        return sorted(t for times in results for t in times)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
            pool.join()


def slice_rate(times: list[float]) -> tuple[int, float]:
    """Claims and seconds between the first and the last completion of one turn."""
    return len(times) - 1, times[-1] - times[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply --items (quick runs)")
    args = parser.parse_args()
    n_items = max(2000, int(args.items * args.scale))
    django_setup_for_bench()

    from django.db import connection

    from accounts.services import user_create
    from tasks.models import Assignment, AssignmentStatus, Item

    stamp = int(time.time() * 1000)
    requester = user_create(email=f"bench-req-{stamp}@bench.local", password=None, requester=True)
    workers = [
        user_create(email=f"bench-w{n}-{stamp}@bench.local", password=None, worker=True).pk
        for n in range(args.workers)
    ]
    kinds = ("raw", "service", "loop")
    bundles = {kind: make_bundle(n_items, requester) for kind in kinds}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks_item")
    turn = n_items // 20
    windows = {"fresh": (0.05, 0.15), "half": (0.50, 0.60)}
    crowd = Crowd(kinds, args.workers)
    consumed = dict.fromkeys(kinds, 0)
    elapsed = dict.fromkeys(kinds, 0.0)
    counted = {(kind, w): [0, 0.0] for kind in kinds for w in windows}
    while min(consumed.values()) < int(n_items * 0.6):
        for kind in kinds:
            started = time.perf_counter()
            times = crowd.turn(kind, bundles[kind], workers, turn)
            elapsed[kind] += time.perf_counter() - started
            if len(times) < 2:
                raise SystemExit(f"{kind}: the bundle ran dry")
            at = consumed[kind] / n_items
            consumed[kind] += len(times)
            for name, (lo, hi) in windows.items():
                if lo <= at < hi:
                    claims, seconds = slice_rate(times)
                    counted[kind, name][0] += claims
                    counted[kind, name][1] += seconds
    crowd.close()
    rates = {(kind, name): claims / seconds for (kind, name), (claims, seconds) in counted.items()}
    rows = []
    for kind in kinds:
        if kind == "raw":  # each raw claim must have taken a distinct slot
            taken = Item.objects.filter(bundle_id=bundles[kind], slots_open=0).count()
            doubles = consumed[kind] - taken
        else:  # a worker's loop gives back the task it holds when its turn ends
            live = Assignment.objects.filter(bundle_id=bundles[kind]).exclude(
                status=AssignmentStatus.RETURNED
            )
            per_item = Counter(live.values_list("item_id", flat=True))
            doubles = sum(1 for n in per_item.values() if n > 1)
        rows.append([
            kind, consumed[kind], round(elapsed[kind], 1), round(rates[kind, "fresh"]),
            round(rates[kind, "half"]), doubles,
        ])  # fmt: skip
        if doubles:
            print(f"DOUBLE ASSIGNMENTS in {kind}: {doubles}", file=sys.stderr)
    print(f"\nclaim throughput, {n_items} items, {args.workers} concurrent processes, PostgreSQL")
    print_table(
        ["path", "claims", "seconds", "per s fresh", "per s half-consumed", "double assignments"],
        rows,
    )

    def ratio(kind: str) -> float:  # the worse of both windows
        return min(rates[kind, name] / rates["raw", name] for name in windows)

    print(
        "raw: one UPDATE ... SKIP LOCKED claim\n"
        "service: assignment_claim, then assignment_submit (two calls per task)\n"
        "loop: assignment_submit_and_claim_next, a worker's loop as the task page and\n"
        "      `submit/?next=1` run it (one call per task after the first claim)\n"
        f"(the three take turns of {turn} claims; ratios are the worse of both windows)"
    )
    print(f"claim_then_submit_vs_raw_sql {ratio('service'):.4f}")
    ok = report_target("claim_vs_raw_sql", ratio("loop"), ">=", 0.50)
    ok &= report_target("claim_double_assignments", float(sum(r[5] for r in rows)), "<=", 0)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    sys.exit(main())

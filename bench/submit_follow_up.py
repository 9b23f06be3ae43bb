"""What a submission pays after its write: `follow_up_after_commit` and the live update's
scheduling (`tasks.quality.live.live_update_schedule`), against the write alone (PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m bench.submit_follow_up

Bundles of --items items (overlap 1): without rules (the fixed-overlap bundle a requester
starts with), with a rule that needs more answers than the worker gives, and with rules the
follow-up evaluates on every submission (speed and distribution, never firing). A
worker claims and submits through `tasks.work.submission_record` (the hot path's one
statement: the baseline) and through `tasks.services.assignment_submit` (the write, then what
follows it), taking turns 50 submissions at a time so a drift of the machine weighs on both.
Only the submission is timed, not the claim. The live update itself runs in a Celery worker
in production: here its `apply_async` is recorded, not run (it is sent once per bundle and
debounce window). Prints per-submission time and queries of each and ends with
`TARGET submit_follow_up_ratio <plain bundle: service / write> <= 1.25`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import contextmanager
from typing import Any

from bench.common import print_table, report_target
from bench.setup_db import django_setup_for_bench

SLICE = 50


@contextmanager
def counting_queries(counter: list[int]) -> Any:
    from django.db import connection

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield


def make_bundle(requester: Any, n_items: int, rules: list[dict[str, Any]]) -> Any:
    from tasks.models import Bundle, BundleStatus, Item, PayFloorState
    from tasks.quality.rules_engine import quality_rules_validate

    bundle = Bundle.objects.create(
        requester=requester, title="bench submit follow-up",
        question={"type": "single_choice", "choices": [{"value": "a", "label": "A"},
                                                       {"value": "b", "label": "B"}]},
        reward_minor=5, min_overlap=1, max_overlap=1, status=BundleStatus.PUBLISHED,
        time_limit_seconds=3600, quality_rules=quality_rules_validate(rules),
        pay_floor_state=PayFloorState.OK,  # the pay floor's pilot is over (it is measured once)
    )  # fmt: skip
    Item.objects.bulk_create(
        Item(bundle=bundle, external_id=f"e{n}", payload={"text": f"item {n}"}, slots_open=1)
        for n in range(n_items)
    )
    return bundle


def run_slice(kind: str, bundle: Any, worker: Any, times: list[float], queries: list[int]) -> None:
    from tasks import services, work

    for _ in range(SLICE):
        task = work.assignment_claim(bundle=bundle, worker=worker)
        counter = [0]
        with counting_queries(counter):
            start = time.perf_counter()
            if kind == "write":
                work.submission_record(
                    assignment_id=task.pk, worker=worker, answer="a", bundle=bundle
                )
            else:
                services.assignment_submit(
                    assignment_id=task.pk, worker=worker, answer="a", bundle=bundle
                )
            times.append(time.perf_counter() - start)
        queries.append(counter[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply --items (quick runs)")
    args = parser.parse_args()
    args.items = max(SLICE, int(args.items * args.scale))
    django_setup_for_bench()

    from accounts.models import User
    from accounts.services import user_create
    from tasks.tasks import bundle_live_update_task

    sent: list[Any] = []
    bundle_live_update_task.apply_async = lambda *a, **k: sent.append(a)  # type: ignore[method-assign]
    stamp = int(time.time())
    requester = user_create(
        email=f"bench-fu-req-{stamp}@bench.local", password=None, requester=True
    )
    results = {}
    for variant, rules in (
        ("plain", []),
        # A rule that needs more answers than the worker has: nothing to evaluate yet.
        ("rules", [{"collector": "answer_speed", "action": "notify", "min_answers": 1000}]),
        # Rules evaluated on every submission from the fifth on (they never fire here).
        ("rules_evaluated", [
            {"collector": "answer_speed", "action": "notify", "min_answers": 5, "threshold": 1},
            {"collector": "answer_distribution", "action": "notify", "min_answers": 5,
             "threshold": 1},
        ]),
    ):  # fmt: skip
        bundles = {kind: make_bundle(requester, args.items, rules) for kind in ("write", "service")}
        email = f"bench-fu-w-{variant}-{stamp}@bench.local"
        made = user_create(email=email, password=None, worker=True)
        worker = User.objects.select_related("worker_profile").get(pk=made.pk)
        times: dict[str, list[float]] = {"write": [], "service": []}
        queries: dict[str, list[int]] = {"write": [], "service": []}
        for _ in range(args.items // SLICE):
            for kind in ("write", "service"):
                run_slice(kind, bundles[kind], worker, times[kind], queries[kind])
        results[variant] = {
            kind: (statistics.median(times[kind]) * 1000, statistics.mean(queries[kind]))
            for kind in ("write", "service")
        }
    rows = [
        [variant, kind, f"{ms:.3f}", f"{q:.2f}"]
        for variant, kinds in results.items()
        for kind, (ms, q) in kinds.items()
    ]
    print_table(["bundle", "submit", "median ms", "queries"], rows)
    print(f"live updates sent: {len(sent)}")
    ok = True
    for variant, kinds in results.items():
        ratio = kinds["service"][0] / kinds["write"][0]
        extra = kinds["service"][1] - kinds["write"][1]
        print(f"{variant}: service / write {ratio:.3f}, extra queries per submission {extra:.2f}")
        if variant == "plain":
            ok &= report_target("submit_follow_up_ratio", ratio, "<=", 1.25)
            ok &= report_target("submit_follow_up_extra_queries", extra, "<=", 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

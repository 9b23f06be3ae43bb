"""Quality against real cheaters (issue 13), through the product's own services.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cm_quality_rings_bench \\
        python -m bench.quality_rules [--items 400] [--scale 1.0] [--seed 0]

Three simulated crowds work a fixed-overlap-3 bundle (four classes, 20% of claims gold, on
n/5 gold items) through `tasks.work.assignment_claim` and `tasks.services.assignment_submit`,
Celery eager, so the
bundle's rules (the speed and answer-distribution collectors), the live update (labels,
incremental Dawid-Skene estimates, rings, calibration) and completion run as in production.
Time is simulated: each claim is backdated by the seconds the worker took.

Every crowd has a constant answerer (always the first class, 12 s a task) and a random clicker
(1 s a task) among honest workers (accuracy 0.70-0.95, about 20 s a task). On top:

* ``plain``: nothing else;
* ``ring``: 30% of the workers form colluding rings of three, perfect on gold, working in pairs
  (two members claim back to back, so they land on the same item) and giving one shared random
  answer per item elsewhere;
* ``correlated``: 25% of items are hard: half the honest workers fall for the same wrong answer.

TARGETs (worst crowd where a figure is per crowd):
spammer_blocked_median_tasks <= 10 (answers a spammer gave before a rule blocked them),
good_workers_blocked == 0, ring_members_flagged_share >= 0.9, ring_false_flags <= 0.02 (share
of honest workers flagged), live_decision_vs_mv >= 0 (pp: at 25/50/75/100% of the run, the live
labels of the items complete then against majority vote over the same judgments),
confidence_ece <= 0.02, high_confidence_accuracy >= 0.99 (items at confidence >= 0.99),
split_vote_confidence_gap <= 0.05 (items whose judgments disagreed: |mean confidence -
accuracy|). The live update runs after every submission here (debounce 0), so a run does not
depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import timedelta
from typing import Any

import numpy as np

from bench.common import print_table, report_target

K = 4
CROWDS = ("plain", "ring", "correlated")
RULES = [
    {"collector": "answer_speed", "threshold": 0.5, "min_answers": 5, "floor": 0.3},
    {"collector": "answer_distribution", "threshold": 0.5, "min_answers": 8},
]
CHECKPOINTS = (0.25, 0.5, 0.75)


def setup() -> None:
    os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cm_quality_rings_bench"
    )
    os.environ["QUALITY_LIVE_DEBOUNCE_SECONDS"] = "0"
    from bench.setup_db import django_setup_for_bench

    django_setup_for_bench()
    for name in ("celery", "tasks"):  # a line per task and per rule firing would drown the table
        logging.getLogger(name).setLevel(logging.WARNING)


class Crowd:
    """Who the workers are and how each answers."""

    def __init__(self, kind: str, n_honest: int, rng: np.random.Generator) -> None:
        self.kind = kind
        self.rng = rng
        self.accuracy: list[float] = []
        self.role: list[str] = []
        for _ in range(n_honest):
            self.accuracy.append(float(rng.uniform(0.70, 0.95)))
            self.role.append("honest")
        self.accuracy += [0.0, 0.0]
        self.role += ["constant", "clicker"]
        self.rings: list[list[int]] = []
        if kind == "ring":
            n_ring = int(round(0.3 * (n_honest + 2) / 0.7))
            n_ring -= n_ring % 3
            start = len(self.role)
            self.role += ["ring"] * n_ring
            self.accuracy += [0.0] * n_ring
            self.rings = [list(range(start + i, start + i + 3)) for i in range(0, n_ring, 3)]

    @property
    def n(self) -> int:
        return len(self.role)

    def arrivals(self) -> list[int]:
        """The next worker(s) to claim: a ring pair back to back, or one other worker."""
        others = [w for w, r in enumerate(self.role) if r != "ring"]
        if self.rings and self.rng.random() < 0.3:
            ring = self.rings[int(self.rng.integers(len(self.rings)))]
            return [int(w) for w in self.rng.choice(ring, 2, replace=False)]
        return [int(self.rng.choice(others))]

    def seconds(self, w: int) -> float:
        role = self.role[w]
        if role == "clicker":
            return 1.0
        base = {"honest": 20.0, "constant": 12.0, "ring": 10.0}[role]
        return float(base * self.rng.lognormal(0, 0.3))

    def answer(self, w: int, truth: int, *, gold: bool, hard: bool, shared: int) -> int:
        role = self.role[w]
        if role == "constant":
            return 0
        if role == "clicker":
            return int(self.rng.integers(K))
        if role == "ring":
            return truth if gold else shared
        if hard and self.rng.random() < 0.5:  # gold items are as hard as the others
            return (truth + 1) % K
        if self.rng.random() < self.accuracy[w]:
            return truth
        return int((truth + self.rng.integers(1, K)) % K)


def _index(value: str) -> int:
    return int(value[1:])


def _majority(labels: list[int]) -> int:
    counts = np.bincount(labels, minlength=K)
    return int(np.argmax(counts))  # ties to the lowest class, as the product's majority vote


def _checkpoint(bundle_id: int, ext: dict[int, int], truth: np.ndarray) -> float | None:
    """Live labels of the complete items against majority vote over their counted judgments,
    in percentage points (None before any item is complete)."""
    from tasks.models import Item, ItemResult
    from tasks.quality.selectors import counted_judgments

    done = set(
        Item.objects.filter(bundle_id=bundle_id, is_gold=False, state="complete").values_list(
            "id", flat=True
        )
    )
    if not done:
        return None
    live = dict(ItemResult.objects.filter(item_id__in=done).values_list("item_id", "label"))
    votes: dict[int, list[int]] = {}
    for item_id, answer in (
        counted_judgments(bundle_id=bundle_id)
        .filter(item_id__in=done)
        .values_list("item_id", "answer")
    ):
        votes.setdefault(item_id, []).append(_index(answer))
    ids = [i for i in done if i in live and i in votes]
    live_acc = np.mean([_index(live[i]) == truth[ext[i]] for i in ids])
    mv_acc = np.mean([_majority(votes[i]) == truth[ext[i]] for i in ids])
    return float((live_acc - mv_acc) * 100)


def run_crowd(kind: str, n_items: int, n_honest: int, seed: int) -> dict[str, Any]:
    from django.db.models import F

    from accounts.models import RequesterProfile, User, WorkerProfile
    from payments.services import balance_credit
    from tasks import services, work
    from tasks.models import Assignment, Bundle, Item, ItemResult, WorkerBundleStats, WorkerRing
    from tasks.quality.calibration import expected_calibration_error
    from tasks.quality.selectors import counted_judgments

    rng = np.random.default_rng(seed)
    crowd = Crowd(kind, n_honest, rng)
    tag = f"{kind}-{seed}-{time.monotonic_ns()}"
    requester = User.objects.create_user(email=f"req-{tag}@bench.test", password=None)
    RequesterProfile.objects.create(user=requester)
    balance_credit(requester=requester, amount_minor=10**10, currency="usd",
                   reference=f"bench-{tag}", by=None)  # fmt: skip
    users = []
    for w in range(crowd.n):
        user = User.objects.create_user(email=f"w{w}-{tag}@bench.test", password=None)
        WorkerProfile.objects.create(user=user, country="US")
        users.append(user)
    n_gold = max(20, n_items // 5)
    truth = rng.integers(0, K, n_items + n_gold)
    hard = rng.random(n_items + n_gold) < (0.25 if kind == "correlated" else 0.0)
    shared = rng.integers(0, K, n_items + n_gold)
    choices = [{"value": f"c{c}", "label": f"class {c}"} for c in range(K)]
    question = {"type": "single_choice", "choices": choices}
    bundle = services.bundle_create(requester=requester, data={
        "title": f"bench {kind}", "question": question, "reward_minor": 5, "overlap": 3,
        "gold_rate": 0.2, "quality_rules": RULES,
    })  # fmt: skip
    Item.objects.bulk_create(
        [Item(bundle=bundle, external_id=str(i), payload={"n": i}, slots_open=3)
         for i in range(n_items)]
        + [Item(bundle=bundle, external_id=str(i), payload={"n": i}, is_gold=True,
                gold=f"c{truth[i]}", slots_open=0) for i in range(n_items, n_items + n_gold)]
    )  # fmt: skip
    bundle = services.bundle_publish(bundle=bundle, by=requester)
    ext = {pk: int(e) for pk, e in bundle.items.values_list("id", "external_id")}
    answered_before_block: dict[int, int] = {}
    submitted = np.zeros(crowd.n, dtype=np.int64)
    blocked_seen: set[int] = set()
    deltas: list[float] = []
    marks = [int(c * n_items * 3) for c in CHECKPOINTS]
    misses, real_done, started = 0, 0, time.monotonic()
    while misses < 8 * crowd.n:
        progressed = False
        for w in crowd.arrivals():
            if w in blocked_seen:
                continue
            try:
                task = work.assignment_claim(bundle=bundle, worker=users[w])
            except Exception:  # noqa: BLE001 - nothing left, blocked, or the bundle completed
                if WorkerBundleStats.objects.filter(bundle=bundle, worker=users[w],
                                                    blocked=True).exists():  # fmt: skip
                    blocked_seen.add(w)
                continue
            progressed = True
            i = ext[task.item_id]
            seconds = crowd.seconds(w)
            Assignment.objects.filter(pk=task.pk).update(
                claimed_at=F("claimed_at") - timedelta(seconds=seconds)
            )
            label = crowd.answer(w, int(truth[i]), gold=task.is_gold, hard=bool(hard[i]),
                                 shared=int(shared[i]))  # fmt: skip
            services.assignment_submit(assignment_id=task.pk, worker=users[w], answer=f"c{label}")
            submitted[w] += 1
            real_done += 0 if task.is_gold else 1
            if marks and real_done >= marks[0]:
                marks.pop(0)
                delta = _checkpoint(bundle.pk, ext, truth)
                if delta is not None:
                    deltas.append(delta)
            if WorkerBundleStats.objects.filter(bundle=bundle, worker=users[w],
                                                blocked=True).exists():  # fmt: skip
                blocked_seen.add(w)
                answered_before_block.setdefault(w, int(submitted[w]))
        misses = 0 if progressed else misses + 1
        if Bundle.objects.filter(pk=bundle.pk, status="completed").exists():
            break
    elapsed = time.monotonic() - started
    status = Bundle.objects.get(pk=bundle.pk).status
    from tasks.quality.bundle_aggregation import bundle_aggregate

    if status != "completed":  # a run that ran dry: its final labels as the beat writes them
        bundle_aggregate(bundle_id=bundle.pk)
    final = _checkpoint(bundle.pk, ext, truth)
    if final is not None:
        deltas.append(final)
    results = {
        ext[item_id]: (_index(label), float(conf))
        for item_id, label, conf in ItemResult.objects.filter(
            item__bundle=bundle, item__is_gold=False, label__isnull=False
        ).values_list("item_id", "label", "confidence")
    }
    split: dict[int, bool] = {}
    for item_id, answer in (
        counted_judgments(bundle_id=bundle.pk)
        .filter(is_gold=False)
        .values_list("item_id", "answer")
    ):
        split.setdefault(ext[item_id], set()).add(_index(answer))  # type: ignore[attr-defined]
    is_split = {i: len(v) > 1 for i, v in split.items()}  # type: ignore[arg-type]
    ids = sorted(results)
    conf = np.array([results[i][1] for i in ids])
    right = np.array([results[i][0] == truth[i] for i in ids])
    sp = np.array([is_split.get(i, False) for i in ids])
    high = conf >= 0.99
    flagged = {m for r in WorkerRing.objects.filter(bundle=bundle, dismissed_at__isnull=True)
               for m in r.members}  # fmt: skip
    ring_ids = {u.pk for u, r in zip(users, crowd.role, strict=True) if r == "ring"}
    honest_ids = {u.pk for u, r in zip(users, crowd.role, strict=True) if r == "honest"}
    blocked = set(WorkerBundleStats.objects.filter(bundle=bundle, blocked=True)
                  .values_list("worker_id", flat=True))  # fmt: skip
    spam = [w for w, r in enumerate(crowd.role) if r in ("constant", "clicker")]
    return {
        "crowd": kind,
        "status": status,
        "seconds": elapsed,
        "accuracy": float(right.mean()),
        "spammer_tasks": [answered_before_block.get(w, int(submitted[w]) + 10**6) for w in spam],
        "good_blocked": len(blocked & honest_ids),
        "ring_flagged": len(flagged & ring_ids) / len(ring_ids) if ring_ids else None,
        "false_flags": len(flagged & honest_ids) / len(honest_ids),
        "live_vs_mv": min(deltas) if deltas else float("nan"),
        "checkpoints": [round(d, 2) for d in deltas],
        "ece": expected_calibration_error(conf, right),
        "high_n": int(high.sum()),
        "high_acc": float(right[high].mean()) if high.any() else 1.0,
        "split_n": int(sp.sum()),
        "split_gap": abs(float(conf[sp].mean()) - float(right[sp].mean())) if sp.any() else 0.0,
        "split_conf": float(conf[sp].mean()) if sp.any() else float("nan"),
        "split_acc": float(right[sp].mean()) if sp.any() else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--honest", type=int, default=28)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0)
    args, _ = parser.parse_known_args(argv)  # make bench passes every bench the same args
    setup()
    n_items = max(100, int(args.items * args.scale))
    runs = [run_crowd(kind, n_items, args.honest, args.seed + n) for n, kind in enumerate(CROWDS)]
    print(f"quality rules: {n_items} items per crowd, overlap 3, gold rate 0.2, {K} classes")
    print_table(
        ["crowd", "status", "s", "accuracy", "spam tasks", "good blocked", "ring flagged",
         "false flags", "live-MV pp (checkpoints)", "ECE", "conf>=.99 n/acc", "split n",
         "split conf/acc"],
        [[r["crowd"], r["status"], round(r["seconds"], 1), r["accuracy"],
          str(r["spammer_tasks"]), r["good_blocked"],
          "-" if r["ring_flagged"] is None else r["ring_flagged"], r["false_flags"],
          str(r["checkpoints"]), r["ece"], f"{r['high_n']}/{r['high_acc']:.4f}", r["split_n"],
          f"{r['split_conf']:.3f}/{r['split_acc']:.3f}"] for r in runs],
    )  # fmt: skip
    spam = [t for r in runs for t in r["spammer_tasks"]]
    ok = [
        report_target("spammer_blocked_median_tasks", float(np.median(spam)), "<=", 10),
        report_target("good_workers_blocked", sum(r["good_blocked"] for r in runs), "==", 0),
        report_target(
            "ring_members_flagged_share",
            min(r["ring_flagged"] for r in runs if r["ring_flagged"] is not None),
            ">=",
            0.9,
        ),
        report_target("ring_false_flags", max(r["false_flags"] for r in runs), "<=", 0.02),
        report_target("live_decision_vs_mv", min(r["live_vs_mv"] for r in runs), ">=", 0),
        report_target("confidence_ece", max(r["ece"] for r in runs), "<=", 0.02),
        report_target("high_confidence_accuracy", min(r["high_acc"] for r in runs), ">=", 0.99),
        report_target("split_vote_confidence_gap", max(r["split_gap"] for r in runs), "<=", 0.05),
    ]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())

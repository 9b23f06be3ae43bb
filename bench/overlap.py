"""Dynamic overlap vs fixed overlap on the simulated crowd of bench.aggregation.

    python -m bench.overlap [--scale 0.1] [--target 0.95]

Every item has a fixed queue of 5 distinct workers (drawn by activity) and their answers are
drawn once, so every strategy sees the same answers in the same order and differs only in how
many it buys:

* fixed overlap 3 and 5: majority vote over the first 3 / all 5 answers;
* dynamic overlap (min 2, max 5, DS confidence target): every item gets 2 answers; then, round
  after round, the whole crowd is re-aggregated with our default Dawid-Skene and each item that
  `item_needs_more_judgments` says is not done buys its next answer, until no item asks. This
  is the production loop (aggregate when an answer arrives, one more judgment while under the
  target, never beyond max), batched by rounds so it runs in seconds; the reported label is the
  final whole-bundle DS run, as the completed bundle gets.

Prints accuracy and judgments per item for each strategy (and for several targets), then
`TARGET dynamic_overlap_judgment_share` (dynamic's judgments / fixed-5's, <= 0.60) and
`TARGET dynamic_overlap_accuracy_delta` (dynamic's accuracy minus fixed-5 majority vote's, in
percentage points, >= 0) for --target.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench.aggregation import CLASS_PRIOR, N_CLASSES, _answer, worker_confusions
from bench.common import print_table, report_target
from tasks.quality.aggregation import dawid_skene, item_needs_more_judgments, majority_vote

MIN_OVERLAP, MAX_OVERLAP = 2, 5


def answer_queues(n_items: int, n_workers: int, seed: int):
    """(truth, queue workers (n_items, 5), queue answers (n_items, 5), worker kinds)."""
    rng = np.random.default_rng(seed)
    conf, kinds = worker_confusions(n_workers, rng)
    activity = rng.lognormal(0.0, 1.0, n_workers)
    activity /= activity.sum()
    truth = rng.choice(N_CLASSES, size=n_items, p=CLASS_PRIOR)
    # Distinct workers per item, activity-weighted: Gumbel top-k (weighted sampling without
    # replacement), vectorised over items.
    keys = np.log(activity)[None, :] + rng.gumbel(size=(n_items, n_workers))
    queue = np.argpartition(-keys, MAX_OVERLAP, axis=1)[:, :MAX_OVERLAP]
    queue = np.take_along_axis(queue, np.argsort(-np.take_along_axis(keys, queue, 1), 1), 1)
    answers = _answer(conf, queue.ravel(), np.repeat(truth, MAX_OVERLAP), rng)
    return truth, queue, answers.reshape(n_items, MAX_OVERLAP), kinds


def _flat(queue: np.ndarray, answers: np.ndarray, bought: np.ndarray):
    """Judgment arrays for the first bought[i] answers of each item."""
    mask = np.arange(MAX_OVERLAP)[None, :] < bought[:, None]
    items = np.nonzero(mask)[0]
    return items, queue[mask], answers[mask]


def fixed(queue, answers, overlap: int, n_workers: int):
    n_items = queue.shape[0]
    items, workers, labels = _flat(queue, answers, np.full(n_items, overlap))
    kwargs = {"n_items": n_items, "n_workers": n_workers, "n_classes": N_CLASSES}
    return majority_vote(items, workers, labels, **kwargs), dawid_skene(
        items, workers, labels, **kwargs
    )


def dynamic(queue, answers, n_workers: int, target: float):
    """Returns (final result, judgments bought per item, rounds). An item that reaches the
    target (or max) is complete and buys nothing more, even if a later re-aggregation lowers
    its confidence: that is what production does with a completed item."""
    n_items = queue.shape[0]
    bought = np.full(n_items, MIN_OVERLAP)
    complete = np.zeros(n_items, dtype=bool)
    kwargs = {"n_items": n_items, "n_workers": n_workers, "n_classes": N_CLASSES}
    rounds = 0
    while True:
        res = dawid_skene(*_flat(queue, answers, bought), **kwargs)
        needs = item_needs_more_judgments(
            res.confidence, bought, min_overlap=MIN_OVERLAP, max_overlap=MAX_OVERLAP, target=target
        )
        complete |= ~needs
        if complete.all():
            return res, bought, rounds
        bought = bought + ~complete
        rounds += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the 20,000 items")
    parser.add_argument("--target", type=float, default=0.95, help="DS confidence target")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    n_items = max(int(20_000 * args.scale), 500)
    n_workers = max(n_items // 50, 30)
    truth, queue, answers, _ = answer_queues(n_items, n_workers, args.seed)
    print(f"{n_items} items, {n_workers} workers (70% good, 20% mediocre, 10% spammers), "
          f"{N_CLASSES} classes; dynamic = min {MIN_OVERLAP}, max {MAX_OVERLAP}")  # fmt: skip

    rows = []
    mv5_acc = 0.0
    for overlap in (3, 5):
        mv, ds = fixed(queue, answers, overlap, n_workers)
        acc = float(np.mean(mv.labels == truth))
        ds_acc = float(np.mean(ds.labels == truth))
        mv5_acc = acc if overlap == 5 else mv5_acc
        rows.append([f"fixed {overlap}, majority vote", acc, float(overlap), 1.0 * overlap / 5, ""])
        rows.append([f"fixed {overlap}, Dawid-Skene (info)", ds_acc, float(overlap),
                     overlap / 5, ""])  # fmt: skip
    chosen = None
    for target in sorted({0.9, 0.95, 0.99, args.target}):
        start = time.perf_counter()
        res, bought, rounds = dynamic(queue, answers, n_workers, target)
        seconds = time.perf_counter() - start
        acc = float(np.mean(res.labels == truth))
        per_item = float(bought.mean())
        spread = np.bincount(bought, minlength=MAX_OVERLAP + 1)[MIN_OVERLAP:] / n_items
        rows.append([f"dynamic, target {target:g}", acc, per_item, per_item / MAX_OVERLAP,
                     f"{rounds} rounds, {seconds:.1f}s; items with 2..5: "
                     + " ".join(f"{x:.0%}" for x in spread)])  # fmt: skip
        if bought.min() < MIN_OVERLAP or bought.max() > MAX_OVERLAP:
            raise RuntimeError("dynamic overlap left the [min, max] judgments range")
        if target == args.target:
            chosen = (acc, per_item)
    print_table(["strategy", "accuracy", "judgments/item", "share of fixed 5", "note"], rows)

    acc, per_item = chosen
    print(f"\nTargets for dynamic overlap at confidence target {args.target:g}:")
    ok = report_target("dynamic_overlap_judgment_share", per_item / 5, "<=", 0.60)
    ok &= report_target("dynamic_overlap_accuracy_delta", 100 * (acc - mv5_acc), ">=", 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The whole-bundle Dawid-Skene run for single choice and rating questions, with rings and honest
confidence (issue 13, items 3 and 4). Pure numpy over the integer-coded judgments; the ORM layer
(`tasks.quality.bundle_aggregation`) reads the judgments and writes what this returns.

1. Rings (`tasks.quality.rings`) are detected on the non-gold judgments. A ring's members weigh
   1/m each on an item where m of them answered (the ring counts as one voter), and their gold
   answers are left out of the fit: a ring that is perfect on gold and agrees on something else
   elsewhere has shown that its gold record says nothing about its other answers.
2. Dawid-Skene runs on that, gold clamped as before.
3. Each gold item is replayed as a real item (`tasks.quality.calibration`), decided both by the
   Dawid-Skene posterior and by the per-item one-coin posterior with the new estimates; isotonic
   maps per stratum (unanimous, split) turn raw confidence into the accuracy it had on gold.
   The reliability diagram is cross-fitted: each half of the gold items is scored with the map
   fitted on the other half, so it shows what the map does on gold it never saw.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aggregation import aggregate
from .base import AggregationResult
from .calibration import (
    Replays,
    calibrate,
    calibration_fit,
    gold_replays,
    reliability,
)
from .dawid_skene import DEFAULT_POOL_STRENGTH, DEFAULT_PRIOR_STRENGTH
from .posterior import one_coin_posterior
from .rings import Ring, ring_judgment_weights, rings_detect


@dataclass
class ChoiceRun:
    """What the run found: the aggregation, the rings in force (dense worker indices), the
    calibration maps by method and the cross-fitted reliability diagram on gold."""

    result: AggregationResult
    confidence: np.ndarray  # calibrated, per item
    rings: list[Ring]
    calibration: dict[str, Any] = field(default_factory=dict)
    reliability: list[dict[str, Any]] = field(default_factory=list)


def split_items(items: np.ndarray, labels: np.ndarray, n_items: int) -> np.ndarray:
    """Per item: whether its judgments disagree (more than one distinct label)."""
    if not len(items):
        return np.zeros(n_items, dtype=bool)
    pairs = np.unique(np.stack([items, labels], axis=1), axis=0)
    return np.bincount(pairs[:, 0], minlength=n_items) > 1


def choice_run(
    items: np.ndarray,
    workers: np.ndarray,
    labels: np.ndarray,
    *,
    n_items: int,
    n_workers: int,
    n_classes: int,
    gold: dict[int, int],
    dismissed: Collection[frozenset[int]] = (),
    seed: int = 0,
    worker_weights: np.ndarray | None = None,
) -> ChoiceRun:
    """Rings, Dawid-Skene and calibration over one bundle's coded judgments. `dismissed` are
    member sets (dense indices) a requester or admin dismissed: not applied again.
    `worker_weights` (per dense worker, in [0, 1]) are the weights quality rules left workers'
    votes (`lower_weight`): they scale every judgment of that worker, on top of a ring's 1/m."""
    is_gold_item = np.zeros(n_items, dtype=bool)
    if gold:
        is_gold_item[np.fromiter(gold, dtype=np.int64, count=len(gold))] = True
    on_gold = is_gold_item[items] if len(items) else np.zeros(0, dtype=bool)
    real = ~on_gold
    found = rings_detect(items[real], workers[real], labels[real], n_workers=n_workers)
    rings = [r for r in found if frozenset(r.members) not in dismissed]
    ring_of = np.full(n_workers, -1, dtype=np.int64)
    for n, ring in enumerate(rings):
        ring_of[list(ring.members)] = n
    keep = ~(on_gold & (ring_of[workers] >= 0)) if len(items) else real
    weights = ring_judgment_weights(items[keep], workers[keep], ring_of)
    if worker_weights is not None:
        weights = weights * np.asarray(worker_weights, dtype=np.float64)[workers[keep]]
    weighted = bool(len(rings)) or worker_weights is not None
    res = aggregate(
        items[keep], workers[keep], labels[keep], "dawid_skene",
        n_items=n_items, n_workers=n_workers, n_classes=n_classes, gold=gold,
        judgment_weights=weights if weighted else None,
        fixed_accuracy={m: a for r in rings for m, a in zip(r.members, r.accuracy, strict=True)},
    )  # fmt: skip
    run = ChoiceRun(result=res, confidence=res.confidence.copy(), rings=rings)
    _calibrate(
        run, items, workers, labels, on_gold, ring_of, weights, gold, n_items, n_classes, seed
    )
    return run


def _calibrate(
    run: ChoiceRun,
    items: np.ndarray,
    workers: np.ndarray,
    labels: np.ndarray,
    on_gold: np.ndarray,
    ring_of: np.ndarray,
    weights: np.ndarray,
    gold: dict[int, int],
    n_items: int,
    n_classes: int,
    seed: int,
) -> None:
    res = run.result
    if res.confusion is None or not gold:
        return
    usable = on_gold & (ring_of[workers] < 0)
    by_item: dict[int, list[int]] = {}
    for j in np.flatnonzero(usable).tolist():
        by_item.setdefault(int(items[j]), []).append(j)
    gold_answers = [
        (workers[js], labels[js], gold[i]) for i, js in sorted(by_item.items()) if len(js) >= 2
    ]
    if not gold_answers:
        return
    sizes = np.bincount(items[~on_gold], minlength=n_items)
    sizes = sizes[sizes > 0]
    real_items = np.bincount(items, minlength=n_items) > 0
    prior = res.posteriors[real_items].mean(axis=0) if real_items.any() else None
    log_prior = np.log(np.maximum(prior if prior is not None else np.ones(n_classes), 1e-10))
    pi = res.confusion
    log_pi = np.log(np.maximum(pi, 1e-10))
    accuracy = np.nan_to_num(res.worker_quality, nan=1.0 / n_classes)
    # Leave-one-out: each confusion row pi[w, k] is (soft counts + S x prior mean) / (row
    # total + S); the clamped gold item put exactly 1 into counts[w, truth, its label].
    kept = ~(on_gold & (ring_of[workers] >= 0))
    row_total = np.zeros((len(accuracy), n_classes))
    np.add.at(row_total, workers[kept], res.posteriors[items[kept]] * weights[:, None])
    row_total += DEFAULT_PRIOR_STRENGTH
    answers = np.bincount(workers[kept], minlength=len(accuracy)) + DEFAULT_POOL_STRENGTH

    def ds_posterior(w: np.ndarray, lab: np.ndarray, truth: int) -> np.ndarray:
        scores = log_prior + log_pi[w, :, lab].sum(axis=0)
        total = row_total[w, truth]
        own = (pi[w, truth, lab] * total - 1.0) / np.maximum(total - 1.0, 1e-9)
        scores[truth] += np.sum(np.log(np.maximum(own, 1e-10)) - log_pi[w, truth, lab])
        post = np.exp(scores - scores.max())
        return post / post.sum()

    def one_coin(w: np.ndarray, lab: np.ndarray, truth: int) -> np.ndarray:
        n = answers[w]
        own = (accuracy[w] * n - (lab == truth)) / np.maximum(n - 1.0, 1e-9)
        return one_coin_posterior(lab, np.clip(own, 1e-3, 1 - 1e-3), n_classes)

    posteriors = {"dawid_skene": ds_posterior, "one_coin": one_coin}
    folds = [gold_answers[0::2], gold_answers[1::2]]
    for method, fn in posteriors.items():
        replays = [gold_replays(f, sizes, fn, seed=seed + n) for n, f in enumerate(folds)]
        run.calibration[method] = calibration_fit(_joined(replays), n_classes)
        if method != "dawid_skene":
            continue
        # Cross-fitted reliability: each fold scored with the map fitted on the other.
        held: list[tuple[np.ndarray, np.ndarray]] = []
        for n, replay in enumerate(replays):
            other = calibration_fit(replays[1 - n], n_classes)
            held.append((calibrate(replay.confidence, replay.split, other), replay.correct))
        conf = np.concatenate([h[0] for h in held])
        right = np.concatenate([h[1] for h in held])
        run.reliability = reliability(conf, right)
    split = split_items(items[~on_gold], labels[~on_gold], n_items)
    raw = _leave_one_out_confidence(
        res, items[kept], workers[kept], labels[kept], weights, ring_of, row_total, log_prior
    )
    real = (res.labels >= 0) & ~np.isin(np.arange(n_items), list(gold))
    calibrated = calibrate(raw, split, run.calibration["dawid_skene"])
    run.confidence = np.where(real, calibrated, res.confidence)


def _leave_one_out_confidence(
    res: AggregationResult,
    it: np.ndarray,
    wk: np.ndarray,
    lb: np.ndarray,
    weights: np.ndarray,
    ring_of: np.ndarray,
    row_total: np.ndarray,
    log_prior: np.ndarray,
) -> np.ndarray:
    """Each item's confidence in its label with its own answers left out of the confusion
    rows that score it, as the gold replays are scored: an item's answers put its posterior
    into the rows (counts[w, k, l] += post[k]), which makes every item look surer than it is.
    Ring members' rows are fixed, not fitted (nothing to leave out); every judgment weighs as
    in the fit (a ring's m members 1/m each). Vectorised over judgments; returns the posterior
    of the item's label (0 without one)."""
    pi = res.confusion
    assert pi is not None
    w = weights[:, None]
    post = res.posteriors[it] * w  # (J, K): what each judgment put into its worker's rows
    total = row_total[wk]  # (J, K)
    own = np.take_along_axis(pi[wk], lb[:, None, None], axis=2)[:, :, 0]  # pi[w, k, l]
    loo = (own * total - post) / np.maximum(total - post, 1e-9)
    loo = np.where((ring_of[wk] >= 0)[:, None], own, loo)
    scores = np.zeros_like(res.posteriors)
    np.add.at(scores, it, w * np.log(np.maximum(loo, 1e-10)))
    scores += log_prior
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    label = np.maximum(res.labels, 0)
    return np.where(res.labels >= 0, probs[np.arange(len(label)), label], 0.0)


def _joined(replays: list[Replays]) -> Replays:
    offset, items = 0, []
    for r in replays:  # item numbers are per fold: keep them apart
        items.append((r.item if r.item is not None else np.zeros(0, np.int64)) + offset)
        offset += len(r.confidence)
    return Replays(
        np.concatenate([r.confidence for r in replays]),
        np.concatenate([r.correct for r in replays]),
        np.concatenate([r.split for r in replays]),
        np.concatenate(items),
    )


__all__ = ["ChoiceRun", "choice_run", "split_items"]

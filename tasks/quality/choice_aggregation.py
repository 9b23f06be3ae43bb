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
from .decisions import one_coin_posterior
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
) -> ChoiceRun:
    """Rings, Dawid-Skene and calibration over one bundle's coded judgments. `dismissed` are
    member sets (dense indices) a requester or admin dismissed: not applied again."""
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
    res = aggregate(
        items[keep], workers[keep], labels[keep], "dawid_skene",
        n_items=n_items, n_workers=n_workers, n_classes=n_classes, gold=gold,
        judgment_weights=weights if len(rings) else None,
    )  # fmt: skip
    run = ChoiceRun(result=res, confidence=res.confidence.copy(), rings=rings)
    _calibrate(run, items, workers, labels, on_gold, ring_of, gold, n_items, n_classes, seed)
    return run


def _calibrate(
    run: ChoiceRun,
    items: np.ndarray,
    workers: np.ndarray,
    labels: np.ndarray,
    on_gold: np.ndarray,
    ring_of: np.ndarray,
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
    log_pi = np.log(np.maximum(res.confusion, 1e-10))
    accuracy = np.nan_to_num(res.worker_quality, nan=1.0 / n_classes)

    def ds_posterior(w: np.ndarray, lab: np.ndarray) -> np.ndarray:
        scores = log_prior + log_pi[w, :, lab].sum(axis=0)
        post = np.exp(scores - scores.max())
        return post / post.sum()

    def one_coin(w: np.ndarray, lab: np.ndarray) -> np.ndarray:
        return one_coin_posterior(lab, accuracy[w], n_classes)

    posteriors = {"dawid_skene": ds_posterior, "one_coin": one_coin}
    folds = [gold_answers[0::2], gold_answers[1::2]]
    for method, fn in posteriors.items():
        replays = [gold_replays(f, sizes, fn, seed=seed + n) for n, f in enumerate(folds)]
        run.calibration[method] = calibration_fit(_joined(replays))
        if method != "dawid_skene":
            continue
        # Cross-fitted reliability: each fold scored with the map fitted on the other.
        held: list[tuple[np.ndarray, np.ndarray]] = []
        for n, replay in enumerate(replays):
            other = calibration_fit(replays[1 - n])
            held.append((calibrate(replay.confidence, replay.split, other), replay.correct))
        conf = np.concatenate([h[0] for h in held])
        right = np.concatenate([h[1] for h in held])
        run.reliability = reliability(conf, right)
    split = split_items(items[~on_gold], labels[~on_gold], n_items)
    raw = res.confidence
    real = (res.labels >= 0) & ~np.isin(np.arange(n_items), list(gold))
    run.confidence = np.where(real, calibrate(raw, split, run.calibration["dawid_skene"]), raw)


def _joined(replays: list[Replays]) -> Replays:
    return Replays(
        np.concatenate([r.confidence for r in replays]),
        np.concatenate([r.correct for r in replays]),
        np.concatenate([r.split for r in replays]),
    )


__all__ = ["ChoiceRun", "choice_run", "split_items"]

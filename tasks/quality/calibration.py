"""Honest confidence: calibrate an aggregation's confidence on held-out gold, and measure it.

Why: the models treat workers as independent, so two agreeing votes from workers rated 0.97
come out at 0.999, and a 2-to-1 split at 0.95, while in real crowds errors are correlated (hard
items fool several people the same way) and estimates rest on few answers. Gold items tell us
how often a confidence is right, but a gold item is answered by many workers while a real item
gets a few; so each gold item is replayed as real items are judged: random subsets of its
answers, of the sizes real items have, each decided by the very function that decides real
items (the bundle's Dawid-Skene posterior, or the per-item one-coin posterior). An isotonic
regression of "the label was right" on the confidence, fitted separately for unanimous and
split votes (they differ most), maps raw confidence to the accuracy it had on gold.

Pure numpy and scikit-learn; the whole-bundle run (`tasks.quality.bundle_aggregation`) stores
the maps (`BundleQuality.calibration`) and the reliability diagram.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Subsets drawn per gold item.
SUBSETS_PER_GOLD = 24
#: A stratum (unanimous or split) is calibrated only with at least this many gold replays.
MIN_SAMPLES = 40
#: Reliability diagram bins over [0, 1] (the last includes 1).
BINS = 10
STRATA = ("unanimous", "split")

#: posterior(workers, labels, truth): the truth lets it leave the item out of the estimates.
Posterior = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class Replays:
    """Gold replays: the confidence of each subset's decision, whether it was right, and
    whether the subset's answers split."""

    confidence: np.ndarray
    correct: np.ndarray
    split: np.ndarray
    item: np.ndarray | None = None  # which gold item each replay came from


def gold_replays(
    gold_answers: Sequence[tuple[np.ndarray, np.ndarray, int]],
    sizes: np.ndarray,
    posterior: Posterior,
    *,
    seed: int = 0,
    per_item: int = SUBSETS_PER_GOLD,
) -> Replays:
    """Replay each gold item `(workers, labels, truth)` as `per_item` random subsets of its
    answers, each of a size drawn from `sizes` (the judgment counts of real items), decided by
    `posterior(workers, labels, truth)` (a probability per class), which must leave this
    item's own answers out of the worker estimates it uses: the estimates were fitted with the
    gold item clamped, and a worker's rare error on it weighs a lot in their error rates (left
    in, the replays of hard gold items look easier than real items, by 5 pp in the tests)."""
    rng = np.random.default_rng(seed)
    conf, correct, split, item = [], [], [], []
    sizes = np.asarray(sizes, np.int64)
    sizes = sizes[sizes > 0]
    if not len(sizes):
        return Replays(np.zeros(0), np.zeros(0, bool), np.zeros(0, bool))
    for index, (workers, labels, truth) in enumerate(gold_answers):
        n = len(workers)
        if n == 0:
            continue
        for _ in range(per_item):
            size = int(min(rng.choice(sizes), n))
            pick = rng.choice(n, size=size, replace=False)
            post = posterior(workers[pick], labels[pick], truth)
            best = int(np.argmax(post))
            conf.append(float(post[best]))
            correct.append(best == truth)
            split.append(len(np.unique(labels[pick])) > 1)
            item.append(index)
    return Replays(
        np.asarray(conf), np.asarray(correct, bool), np.asarray(split, bool), np.asarray(item)
    )


def calibration_fit(replays: Replays, n_classes: int | None = None) -> dict[str, Any]:
    """Isotonic maps per stratum, as JSON: {"unanimous": [xs, ys], "split": [xs, ys],
    "samples": {stratum: n}}. A stratum with too few replays is left out (identity).

    With `n_classes` K each map starts at (1/K, 1/K): a posterior at chance is a guess among
    K classes. Gold replays rarely reach that low (gold is answered by honest workers), but a
    real item can: all its votes from a ring whose accuracy is near chance agree, raw
    confidence 0.3. Clipped to the stratum's lowest fitted point such an item would borrow
    the confidence of a unanimous honest vote (0.97, when it is right a quarter of the time);
    between chance and the first fitted point the map is linear."""
    out: dict[str, Any] = {"samples": {}}
    for stratum in STRATA:
        mask = replays.split if stratum == "split" else ~replays.split
        n = int(mask.sum())
        out["samples"][stratum] = n
        if n < MIN_SAMPLES:
            continue
        # Never surer than the gold behind the stratum allows: with N distinct gold items all
        # right, the rule of succession says (N + 1) / (N + 2), not 1.
        distinct = len(np.unique(replays.item[mask])) if replays.item is not None else n
        top = 1.0 - 1.0 / (distinct + 2)
        # scikit-learn on first use: importing it costs every web and Celery process seconds
        # at start-up, and most never calibrate.
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=top, out_of_bounds="clip")
        iso.fit(replays.confidence[mask], replays.correct[mask].astype(np.float64))
        xs, ys = iso.X_thresholds_.tolist(), iso.y_thresholds_.tolist()
        if n_classes and xs and xs[0] > 1.0 / n_classes:
            chance = 1.0 / n_classes
            xs, ys = [chance, *xs], [min(chance, ys[0]), *ys]
        out[stratum] = [xs, ys]
    return out


def calibrate(confidence: Any, split: Any, calibration: Mapping[str, Any] | None) -> np.ndarray:
    """Calibrated confidence (array): each value through its stratum's map; unchanged where
    the stratum has no map."""
    conf = np.asarray(confidence, dtype=np.float64)
    out = conf.copy()
    if not calibration:
        return out
    split = np.broadcast_to(np.asarray(split, bool), conf.shape)
    for stratum in STRATA:
        curve = calibration.get(stratum)
        if not curve or not len(curve[0]):
            continue
        mask = split if stratum == "split" else ~split
        out[mask] = np.interp(conf[mask], curve[0], curve[1])
    return out


def reliability(confidence: Any, correct: Any, bins: int = BINS) -> list[dict[str, Any]]:
    """The reliability diagram: per confidence bin, how many, mean confidence, accuracy."""
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=np.float64)
    index = np.minimum((conf * bins).astype(np.int64), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        n = int(mask.sum())
        rows.append(
            {
                "low": b / bins,
                "high": (b + 1) / bins,
                "n": n,
                "confidence": round(float(conf[mask].mean()), 4) if n else None,
                "accuracy": round(float(right[mask].mean()), 4) if n else None,
            }
        )
    return rows


def expected_calibration_error(confidence: Any, correct: Any, bins: int = BINS) -> float:
    """ECE: the bins' |accuracy - confidence| weighted by their share of items."""
    rows = reliability(confidence, correct, bins)
    total = sum(r["n"] for r in rows)
    if not total:
        return 0.0
    return float(sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in rows if r["n"]) / total)


__all__ = [
    "Replays",
    "calibrate",
    "calibration_fit",
    "expected_calibration_error",
    "gold_replays",
    "reliability",
]

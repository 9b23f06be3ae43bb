"""Consensus over crowd judgments: voting, Dawid-Skene, and the per-answer-type helpers.

Pure numpy over integer-coded arrays (item index, worker index, label index), so the ORM layer,
the Celery whole-bundle run, the tests and the benchmarks all call the same code. Nothing here
loops over judgments in Python: counts are `np.bincount` over flat `item * K + label` indices.

Tie rule, everywhere: among equally supported classes the lowest class index wins, so results
are reproducible and do not depend on judgment order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict, Unpack

import numpy as np

from tasks.quality.base import NO_LABEL, AggregationResult, argmax_labels, prepare
from tasks.quality.dawid_skene import dawid_skene

Method = Literal["dawid_skene", "majority_vote", "weighted_vote"]


class DawidSkeneOptions(TypedDict, total=False):
    """The tuning options only Dawid-Skene takes (see `dawid_skene`)."""

    max_iter: int
    tol: float
    prior_strength: float
    pool_strength: float
    class_prior: Literal["final", "em"]
    judgment_weights: object | None
    fixed_accuracy: dict[int, float] | None


class AggregateOptions(DawidSkeneOptions, total=False):
    """What `aggregate` takes besides the arrays, the sizes and the method."""

    weights: object | None
    gold: dict[int, int] | np.ndarray | None


def _agreement(
    items: np.ndarray,
    workers: np.ndarray,
    labels: np.ndarray,
    consensus: np.ndarray,
    n_workers: int,
) -> np.ndarray:
    """Share of each worker's answers equal to the consensus label (NaN without answers).

    The worker's own vote is part of the consensus, so this flatters workers on items with few
    judgments; it is the cheap "agreement with consensus" score, not an accuracy estimate."""
    agree = np.bincount(workers, weights=consensus[items] == labels, minlength=n_workers)
    total = np.bincount(workers, minlength=n_workers)
    return np.divide(agree, total, out=np.full(n_workers, np.nan), where=total > 0)


def _vote_result(
    scores: np.ndarray,
    n_judgments: np.ndarray,
    j_items: np.ndarray,
    j_workers: np.ndarray,
    j_labels: np.ndarray,
    n_workers: int,
    method: str,
) -> AggregationResult:
    n_items, k = scores.shape
    totals = scores.sum(axis=1, keepdims=True)
    posteriors = np.divide(scores, totals, out=np.full(scores.shape, 1.0 / k), where=totals > 0)
    labels = argmax_labels(scores, n_judgments > 0)
    confidence = np.where(labels >= 0, posteriors[np.arange(n_items), np.maximum(labels, 0)], 0.0)
    return AggregationResult(
        labels=labels,
        confidence=confidence,
        posteriors=posteriors,
        worker_quality=_agreement(j_items, j_workers, j_labels, labels, n_workers),
        method=method,
        n_judgments=n_judgments,
    )


def majority_vote(
    items: object,
    workers: object,
    labels: object,
    n_items: int | None = None,
    n_workers: int | None = None,
    n_classes: int | None = None,
) -> AggregationResult:
    """Most frequent answer per item (ties to the lowest class index).

    `confidence` is the winning vote share, which is *not* a calibrated probability (3 of 3
    agreeing gives 1.0); items without judgments get a uniform posterior, label -1 and
    confidence 0. `worker_quality` is agreement with the majority label."""
    j = prepare(items, workers, labels, n_items, n_workers, n_classes)
    return _vote_result(
        j.vote_counts().astype(np.float64),
        j.item_counts(),
        j.items,
        j.workers,
        j.labels,
        j.n_workers,
        "majority_vote",
    )


def weighted_vote(
    items: object,
    workers: object,
    labels: object,
    weights: object,
    n_items: int | None = None,
    n_workers: int | None = None,
    n_classes: int | None = None,
) -> AggregationResult:
    """Skill-weighted vote: each answer counts `weights[worker]` (e.g. `accuracy_weights` of
    gold accuracies). Posteriors are weighted vote shares (uniform when an item's voters all
    weigh 0); ties go to the lowest class index."""
    j = prepare(items, workers, labels, n_items, n_workers, n_classes)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (j.n_workers,):
        raise ValueError(f"weights must have shape ({j.n_workers},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    scores = j.vote_counts(weights=w[j.workers])
    return _vote_result(
        scores, j.item_counts(), j.items, j.workers, j.labels, j.n_workers, "weighted_vote"
    )


def accuracy_weights(accuracy: object, n_classes: int, cap: float = 0.99) -> np.ndarray:
    """Vote weights from worker accuracies: the log-odds `log((K-1) a / (1-a))`, which is the
    optimal weight when each worker errs uniformly over the other classes. Accuracy is capped so
    a perfect gold record does not give an infinite weight, and workers at or below chance get
    weight 0 rather than a negative one (a vote against a class is not evidence here)."""
    a = np.clip(np.asarray(accuracy, dtype=np.float64), 1e-9, cap)
    a = np.where(np.isnan(a), 1.0 / n_classes, a)
    return np.maximum(np.log((n_classes - 1) * a / (1 - a)), 0.0)


def aggregate(
    items: object,
    workers: object,
    labels: object,
    method: Method = "dawid_skene",
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    n_classes: int | None = None,
    weights: object | None = None,
    gold: dict[int, int] | np.ndarray | None = None,
    **ds_options: Unpack[DawidSkeneOptions],
) -> AggregationResult:
    """One entry point for the ORM layer. The default is the regularised Dawid-Skene, the method
    whose confidence is a calibrated probability (the voting methods report vote shares)."""
    if method == "dawid_skene":
        return dawid_skene(
            items,
            workers,
            labels,
            n_items=n_items,
            n_workers=n_workers,
            n_classes=n_classes,
            gold=gold,
            **ds_options,
        )
    if ds_options:
        raise TypeError(f"options {sorted(ds_options)} only apply to dawid_skene")
    if method == "majority_vote":
        return majority_vote(items, workers, labels, n_items, n_workers, n_classes)
    if method == "weighted_vote":
        if weights is None:
            raise ValueError("weighted_vote needs weights")
        return weighted_vote(items, workers, labels, weights, n_items, n_workers, n_classes)
    raise ValueError(f"unknown aggregation method {method!r}")


@dataclass(frozen=True)
class MultipleChoiceResult:
    """Per item and option: whether the option is selected in the consensus, with confidence.
    `per_option[o]` is the binary aggregation of option `o` (class 1 = selected)."""

    selected: np.ndarray  # (n_items, n_options) bool; False for items without judgments
    confidence: np.ndarray  # (n_items, n_options) posterior of the reported decision
    per_option: tuple[AggregationResult, ...]


def aggregate_multiple_choice(
    items: object,
    workers: object,
    selections: object,
    method: Method = "dawid_skene",
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    **options: Unpack[AggregateOptions],
) -> MultipleChoiceResult:
    """Multiple choice ("select all that apply") as one independent binary question per option:
    `selections` is (n_judgments, n_options) booleans. A worker who ticks an option and one who
    does not both give evidence on it, which a vote over whole answer sets would waste. The loop
    is over options (a handful), never over judgments."""
    sel = np.asarray(selections)
    if sel.ndim != 2:
        raise ValueError("selections must be (n_judgments, n_options)")
    it = np.asarray(items)
    n = int(it.max()) + 1 if it.size else 0
    n_items = n if n_items is None else n_items
    per_option = tuple(
        aggregate(
            items,
            workers,
            sel[:, o].astype(np.int64),
            method,
            n_items=n_items,
            n_workers=n_workers,
            n_classes=2,
            **options,
        )
        for o in range(sel.shape[1])
    )
    if per_option:
        selected = np.stack([r.labels == 1 for r in per_option], axis=1)
        confidence = np.stack([r.confidence for r in per_option], axis=1)
    else:
        selected = np.zeros((n_items, 0), dtype=bool)
        confidence = np.zeros((n_items, 0))
    return MultipleChoiceResult(selected=selected, confidence=confidence, per_option=per_option)


_WHITESPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The matching rule for free text (consensus and gold alike): casefold, strip, and collapse
    runs of whitespace to one space, so "New  York " and "new york" are the same answer."""
    return _WHITESPACE.sub(" ", text.casefold().strip())


@dataclass(frozen=True)
class TextResult:
    """Winning normalised answer per item (None without judgments), its vote share, and how
    many judgments each item had."""

    texts: list[str | None]
    confidence: np.ndarray
    n_judgments: np.ndarray


def aggregate_text(items: object, texts: Sequence[str], n_items: int | None = None) -> TextResult:
    """Exact vote over normalised text. Normalising is per string (Python); the vote is numpy.
    Distinct answers are coded in sorted order, so a tie goes to the alphabetically first
    normalised answer."""
    it = np.asarray(items, dtype=np.int64)
    if it.shape != (len(texts),):
        raise ValueError("items and texts must have the same length")
    vocab, codes = np.unique(
        np.array([normalize_text(t) for t in texts], dtype=object), return_inverse=True
    )
    res = majority_vote(
        it,
        np.zeros(len(it), dtype=np.int64),
        codes.astype(np.int64),
        n_items=n_items,
        n_classes=max(len(vocab), 1),
    )
    winners = [None if lab == NO_LABEL else str(vocab[lab]) for lab in res.labels.tolist()]
    return TextResult(texts=winners, confidence=res.confidence, n_judgments=res.n_judgments)


@dataclass(frozen=True)
class NumberResult:
    """Median per item (NaN without judgments) and the number of values it was taken over."""

    values: np.ndarray
    n_judgments: np.ndarray


def aggregate_numbers(items: object, values: object, n_items: int | None = None) -> NumberResult:
    """Median per item: robust to the odd typo or spammer without any model. Vectorised: one
    lexsort by (item, value), then the middle one or two values of each item's run."""
    it = np.asarray(items, dtype=np.int64)
    val = np.asarray(values, dtype=np.float64)
    if it.shape != val.shape or it.ndim != 1:
        raise ValueError("items and values must be 1-D and the same length")
    if np.any(np.isnan(val)):
        raise ValueError("values must not be NaN")
    n = (int(it.max()) + 1 if it.size else 0) if n_items is None else n_items
    counts = np.bincount(it, minlength=n)
    order = np.lexsort((val, it))
    sorted_vals = val[order]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])) if n else np.zeros(0, np.int64)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    medians = np.full(n, np.nan)
    medians[has] = (sorted_vals[lo] + sorted_vals[hi]) / 2
    return NumberResult(values=medians, n_judgments=counts)


def wilson_interval(
    successes: object, n: object, z: float = 1.96
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Wilson score interval for a binomial proportion (scalars or arrays).

    Used for gold accuracy: unlike the normal approximation it stays inside [0, 1] and is honest
    for small n, so "block when the upper bound is under the minimum" does not block a good
    worker after three unlucky answers. n = 0 gives (0, 1): nothing is known."""
    s = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    if np.any(s < 0) or np.any(s > m):
        raise ValueError("need 0 <= successes <= n")
    safe = np.maximum(m, 1.0)
    p = s / safe
    z2 = z * z
    denom = 1 + z2 / safe
    centre = (p + z2 / (2 * safe)) / denom
    half = z * np.sqrt(p * (1 - p) / safe + z2 / (4 * safe * safe)) / denom
    low = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    high = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def item_needs_more_judgments(
    confidence: object,
    n_judgments: object,
    *,
    min_overlap: int,
    max_overlap: int,
    target: float,
) -> np.ndarray | bool:
    """Dynamic overlap's decision: does this item need one more judgment? (scalar or array)

    Yes while it has fewer than `min_overlap`; no once it has `max_overlap` (never exceed it);
    in between, yes until the aggregated confidence reaches `target`. An item therefore never
    completes below min and never asks beyond max, whatever the confidence says."""
    if not 1 <= min_overlap <= max_overlap:
        raise ValueError("need 1 <= min_overlap <= max_overlap")
    conf = np.asarray(confidence, dtype=np.float64)
    n = np.asarray(n_judgments)
    needs = (n < min_overlap) | ((n < max_overlap) & ~(conf >= target))
    return bool(needs) if needs.ndim == 0 else needs


__all__ = [
    "AggregationResult",
    "Method",
    "MultipleChoiceResult",
    "NO_LABEL",
    "NumberResult",
    "TextResult",
    "accuracy_weights",
    "aggregate",
    "aggregate_multiple_choice",
    "aggregate_numbers",
    "aggregate_text",
    "dawid_skene",
    "item_needs_more_judgments",
    "majority_vote",
    "normalize_text",
    "weighted_vote",
    "wilson_interval",
]

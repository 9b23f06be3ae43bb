"""Shared types and input checks for the aggregation engine.

Everything here is pure numpy: the ORM layer turns judgments into three integer arrays
(item index, worker index, label index) and gets an `AggregationResult` back, so the engine can
be tested, benchmarked and re-run offline without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Label reported for an item that has no judgments (and no gold answer).
NO_LABEL = -1


@dataclass(frozen=True)
class AggregationResult:
    """What every aggregation method returns, indexed by item and worker index.

    `labels[i]` is the aggregated class of item `i` (ties go to the lowest class index; `-1` when
    the item has no judgments and no gold answer), `confidence[i]` the posterior of that class
    (0.0 when there is no label), `posteriors[i]` the full distribution over classes (rows sum to
    1), `worker_quality[w]` the method's estimate of worker `w`'s accuracy (NaN for a worker with
    no judgments), and `n_judgments[i]` how many judgments the item had.
    """

    labels: np.ndarray
    confidence: np.ndarray
    posteriors: np.ndarray
    worker_quality: np.ndarray
    method: str
    n_judgments: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: EM iterations run (0 for the voting methods).
    n_iter: int = 0
    #: Whether EM met its tolerance before `max_iter` (always True for voting methods).
    converged: bool = True
    #: Per-worker confusion matrices P(observed label | true class), shape (W, K, K); DS only.
    confusion: np.ndarray | None = None


@dataclass(frozen=True)
class Judgments:
    """Validated, integer-coded judgments: judgment `j` is worker `workers[j]` answering class
    `labels[j]` on item `items[j]`. Sizes are explicit so that items, workers and classes with no
    judgments still get a row in the result."""

    items: np.ndarray
    workers: np.ndarray
    labels: np.ndarray
    n_items: int
    n_workers: int
    n_classes: int

    @property
    def n(self) -> int:
        return int(self.items.shape[0])

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    def worker_counts(self) -> np.ndarray:
        return np.bincount(self.workers, minlength=self.n_workers)

    def vote_counts(self, weights: np.ndarray | None = None) -> np.ndarray:
        """(n_items, n_classes) votes per item and class, one bincount over flat indices."""
        flat = self.items * self.n_classes + self.labels
        counts = np.bincount(flat, weights=weights, minlength=self.n_items * self.n_classes)
        return counts.reshape(self.n_items, self.n_classes)


def as_index_array(values: object, name: str) -> np.ndarray:
    """A 1-D, non-negative int64 array, or ValueError: indices come from the ORM layer and a
    float or negative index is a bug there that must not be silently truncated here."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integer-coded, got dtype {arr.dtype}")
    if arr.min() < 0:
        raise ValueError(f"{name} must be non-negative")
    return arr.astype(np.int64, copy=False)


def _size(arr: np.ndarray, given: int | None, name: str, minimum: int = 0) -> int:
    found = int(arr.max()) + 1 if arr.size else 0
    if given is None:
        return max(found, minimum)
    if given < found:
        raise ValueError(f"{name}={given} but an index {found - 1} occurs")
    return int(given)


def prepare(
    items: object,
    workers: object,
    labels: object,
    n_items: int | None = None,
    n_workers: int | None = None,
    n_classes: int | None = None,
) -> Judgments:
    """Check and integer-code the three parallel arrays; sizes default to max index + 1 (at
    least one class, so a posterior row always exists)."""
    it = as_index_array(items, "items")
    wk = as_index_array(workers, "workers")
    lb = as_index_array(labels, "labels")
    if not (it.shape == wk.shape == lb.shape):
        raise ValueError(
            f"items, workers and labels must have the same length, got "
            f"{it.shape[0]}, {wk.shape[0]}, {lb.shape[0]}"
        )
    return Judgments(
        items=it,
        workers=wk,
        labels=lb,
        n_items=_size(it, n_items, "n_items"),
        n_workers=_size(wk, n_workers, "n_workers"),
        n_classes=_size(lb, n_classes, "n_classes", minimum=1),
    )


def argmax_labels(scores: np.ndarray, has_votes: np.ndarray) -> np.ndarray:
    """Row argmax with the documented tie rule (np.argmax returns the first, i.e. lowest, class
    index among equal maxima), and NO_LABEL for rows without votes."""
    labels = np.argmax(scores, axis=1) if scores.shape[1] else np.zeros(len(scores), np.int64)
    return np.where(has_votes, labels, NO_LABEL).astype(np.int64)


def gold_array(
    gold: dict[int, int] | np.ndarray | None, n_items: int, n_classes: int
) -> np.ndarray:
    """Gold as an int64 array over items, NO_LABEL where there is none.

    Accepts `{item index: class}` or an array of length n_items with -1 for "no gold"."""
    out = np.full(n_items, NO_LABEL, dtype=np.int64)
    if gold is None:
        return out
    if isinstance(gold, dict):
        if gold:
            idx = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
            val = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))
            if idx.min() < 0 or idx.max() >= n_items:
                raise ValueError("gold item index out of range")
            out[idx] = val
    else:
        arr = np.asarray(gold)
        if arr.shape != (n_items,) or arr.dtype.kind not in "iu":
            raise ValueError(f"gold array must be integer with shape ({n_items},)")
        out[:] = arr
    if np.any((out < NO_LABEL) | (out >= n_classes)):
        raise ValueError("gold class out of range")
    return out

"""The one-coin posterior of one item's votes and the rules the live decision applies to it:
how a lowered weight reads as an accuracy, and the strict majority the live decision keeps.
Pure numpy: `tasks.quality.decisions` (the live decision) and `choice_aggregation` use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .aggregation import accuracy_weights

#: Annotation types take skills in (0, 1]: a worker's estimate is kept inside this range.
SKILL_RANGE = (0.05, 1.0)


def weighed_accuracy(accuracy: float, weight: float, n_classes: int) -> float:
    """The accuracy whose vote weight (`accuracy_weights`, the log-odds) is `weight` times that
    of `accuracy`: weight 0 is a vote at chance (no weight at all), 1 leaves it as it is."""
    k = max(n_classes, 2)
    full = float(accuracy_weights([accuracy], k)[0])
    odds = float(np.exp(weight * full))
    return odds / (k - 1 + odds)


def one_coin_posterior(
    labels: Any, accuracies: Any, n_classes: int, scale: Any = None
) -> np.ndarray:
    """Posterior over classes of one item under the one-coin model (each worker right with
    their accuracy, wrong uniformly otherwise) and a flat prior: the softmax of log-odds
    weighted votes (`accuracy_weights`), which is exactly that posterior. `scale` multiplies
    each vote's weight (a ring's m members on the item: 1/m each)."""
    weights = accuracy_weights(accuracies, n_classes) if len(labels) else np.zeros(0)
    if scale is not None and len(labels):
        weights = weights * np.asarray(scale, dtype=np.float64)
    scores = np.bincount(np.asarray(labels, np.int64), weights=weights, minlength=n_classes)
    scores = scores - scores.max()
    post = np.exp(scores)
    return post / post.sum()


def majority_kept(coded: np.ndarray, best: int, n_classes: int, scale: Any = None) -> int:
    """The live decision keeps a strict majority of the votes (a ring's members on the item
    counting as one voter, `scale`): worker weights break ties and
    pluralities, but only the whole-bundle run, with every worker's full record (and its rings
    found), may overturn a majority. A gold record or an estimate not yet corrected (a ring
    perfect on gold, before it is found) must never make a live label worse than the vote;
    overruled, the majority's label comes with its (low) posterior, so dynamic overlap asks
    for more judgments."""
    votes = np.ones(len(coded)) if scale is None else np.asarray(scale, dtype=np.float64)
    counts = np.bincount(coded, weights=votes, minlength=n_classes)
    top = int(np.argmax(counts))
    return top if counts[top] * 2 > votes.sum() + 1e-9 else best


def skills_of(accuracies: Sequence[float]) -> list[float]:
    """Worker accuracies as the skills an annotation type weighs answers by, in (0, 1]."""
    return np.clip(np.asarray(accuracies, dtype=np.float64), *SKILL_RANGE).tolist()

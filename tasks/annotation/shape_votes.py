"""Skill-weighted decisions about shapes: binary one-coin decisions (is this a box, is this
pixel the lane, is this character part of a PER span), the label of a shape, the weighted
median that places it.

Every decision is `voting`'s one-coin vote: a worker counts with the log-odds of their skill,
so "skill-weighted support passes half the total weight" is exactly "the posterior of the
decision passes one half", and the confidence reported is that posterior. The choice types
decide the same way (tasks/quality/decisions.py), so a confidence means the same thing for a box
as for a choice and dynamic overlap treats every type alike. A spammer at chance weighs
(almost) nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .voting import posterior, vote_weights, winner


def binary_weights(skills: Sequence[float] | np.ndarray) -> np.ndarray:
    """Vote weights of workers on a yes/no decision."""
    return vote_weights(skills, 2)


def posterior_yes(yes_weight: np.ndarray | float, total_weight: float) -> np.ndarray:
    """P(yes) of a binary decision from the summed weights of the workers saying yes and of all
    workers (the others said no): sigmoid(yes - no) under a flat prior."""
    margin = 2.0 * np.asarray(yes_weight, dtype=np.float64) - total_weight
    return 1.0 / (1.0 + np.exp(-np.clip(margin, -700.0, 700.0)))


def decision_confidence(yes_weight: np.ndarray | float, total_weight: float) -> np.ndarray:
    """The posterior of whichever way the decision went: yes when the support passes half."""
    p = posterior_yes(yes_weight, total_weight)
    return np.where(2.0 * np.asarray(yes_weight) > total_weight, p, 1.0 - p)


def label_vote(
    labels: Sequence[str], skills: Sequence[float] | np.ndarray, order: Sequence[str]
) -> tuple[str, float]:
    """One-coin vote among `order`'s labels: (winner, its posterior). Ties go to the label
    listed first in `order` (the question's), so the result does not depend on answer order."""
    if len(order) == 1:
        return order[0], 1.0
    index = {value: i for i, value in enumerate(order)}
    post = posterior([index[label] for label in labels], np.asarray(skills).tolist(), len(order))
    best = winner(post)
    return order[best], float(post[best])


def weighted_median(values: Sequence[float] | np.ndarray, weights: np.ndarray) -> float:
    """The smallest value whose cumulative weight passes half the total; when it lands exactly
    on half, the midpoint of that value and the next. Members of weight 0 take no part; zero
    weights everywhere count as equal weights."""
    column = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return float(weighted_medians(column, weights)[0])


def weighted_medians(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`weighted_median` of each column of a (k, d) array, the rows weighted by `weights`."""
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.shape[0] == 0:
        raise ValueError("weighted_median of nothing")
    if np.any(w > 0):
        v, w = v[w > 0], w[w > 0]
    else:
        w = np.ones(v.shape[0])
    k, d = v.shape
    order = np.argsort(v, axis=0, kind="stable")
    ordered = np.take_along_axis(v, order, axis=0)
    cumulative = np.cumsum(w[order], axis=0)
    half = cumulative[-1] / 2.0
    first = np.argmax(cumulative >= half * (1 - 1e-12), axis=0)
    columns = np.arange(d)
    result = ordered[first, columns]
    # Exactly half the weight on each side: the midpoint with the next value.
    exact = (np.abs(cumulative[first, columns] - half) <= 1e-9 * half) & (first + 1 < k)
    following = ordered[np.minimum(first + 1, k - 1), columns]
    return np.where(exact, (result + following) / 2.0, result)

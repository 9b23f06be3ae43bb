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
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if v.size == 0:
        raise ValueError("weighted_median of nothing")
    if np.any(w > 0):
        v, w = v[w > 0], w[w > 0]
    else:
        w = np.ones_like(v)
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cumulative = np.cumsum(w)
    half = cumulative[-1] / 2.0
    i = int(np.searchsorted(cumulative, half * (1 - 1e-12), side="left"))
    if np.isclose(cumulative[i], half, rtol=1e-9, atol=0.0) and i + 1 < v.size:
        return float((v[i] + v[i + 1]) / 2.0)
    return float(v[i])

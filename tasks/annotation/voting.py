"""Skill-weighted voting over a few classes: the one-coin model with workers' skills as their
accuracies. Shared by the types whose aggregation is a vote (image classification, and the
whole texts and word slots of transcription).

The weight of a vote is the log-odds `log((K-1) s / (1-s))` of its worker's skill `s`: the optimal
weight when a worker is right with probability `s` and wrong uniformly over the other K-1
classes, so the softmax of the weighted votes is that model's posterior under a flat prior. A
skill is capped below 1 (one perfect gold record does not make an oracle); a worker at or below
chance gets a vote of almost nothing, never a negative one, yet still breaks a tie between
classes nobody else voted for."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SKILL_CAP = 0.99
#: Weight every vote has on top of its log-odds, so votes decide when all skills are at chance.
VOTE_FLOOR = 1e-6


def vote_weights(skills: Sequence[float] | np.ndarray, n_classes: int) -> np.ndarray:
    """Log-odds weight of each vote among `n_classes` (at least 2) classes."""
    k = max(int(n_classes), 2)
    s = np.clip(np.asarray(skills, dtype=np.float64), 1e-9, SKILL_CAP)
    s = np.where(np.isnan(s), 1.0 / k, s)
    return np.maximum(np.log((k - 1) * s / (1 - s)), 0.0) + VOTE_FLOOR


def posterior(
    codes: Sequence[int] | np.ndarray, skills: Sequence[float] | np.ndarray, n_classes: int
) -> np.ndarray:
    """Posterior over `n_classes` classes (length n_classes) given one vote per worker
    (`codes[j]` is the class worker j chose, `skills[j]` their skill). Uniform without votes."""
    k = max(int(n_classes), 1)
    codes = np.asarray(codes, dtype=np.int64)
    if not codes.size:
        return np.full(k, 1.0 / k)
    scores = np.bincount(codes, weights=vote_weights(skills, max(k, 2)), minlength=k)
    scores = scores - scores.max()
    post = np.exp(scores)
    return post / post.sum()


def winner(post: np.ndarray) -> int:
    """The most probable class; ties go to the lowest index (reproducible, order-free)."""
    return int(np.argmax(post))

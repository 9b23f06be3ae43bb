"""Routing (issue 14, item 3): claims of an assisted bundle prefer the items whose next judgment
is worth most, with a random share mixed in so the model's blind spots are sampled too.

The claim hot path stays one cheap statement: it already serves open items by
`(Item.priority, Item.id)` from the partial index `item_claim_open`. The per-item decision
(`tasks.quality.decisions.item_decide`) writes the priority here each time the item's
posterior changes, so the claim reads a stored column and computes nothing.

Worth of the next judgment: the expected reduction of the item's uncertainty (entropy of the
posterior over classes) from one more answer by a worker of the crowd's accuracy, under the
one-coin model. An item near a coin flip gains most; one the model and people already agree on
gains little and waits (often until the model, retrained, settles it alone).
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Priorities span 0 (served first) .. 2 * PRIORITY_SCALE (last): one span per tier.
PRIORITY_SCALE = 10_000
#: Share of decisions that give the item a random priority instead of its worth.
RANDOM_SHARE = 0.10


def expected_gain(confidence: float, n_classes: int, accuracy: float) -> float:
    """Expected entropy reduction (nats) of an item whose posterior puts `confidence` on its
    best class (the rest spread evenly) from one answer right with probability `accuracy`."""
    k = max(int(n_classes), 2)
    c = float(np.clip(confidence, 1.0 / k, 1.0 - 1e-12)) if np.isfinite(confidence) else 1.0 / k
    post = np.full(k, (1.0 - c) / (k - 1))
    post[0] = c
    a = float(np.clip(accuracy, 1.0 / k, 0.999))
    likelihood = np.full((k, k), (1.0 - a) / (k - 1))  # [answer, truth]
    np.fill_diagonal(likelihood, a)
    joint = likelihood * post[None, :]
    p_answer = joint.sum(axis=1)
    after = joint / p_answer[:, None]
    return float(_entropy(post) - float(np.sum(p_answer * _entropy(after))))


def claim_priority(
    *, item_id: int, judgments: int, confidence: float, n_classes: int, accuracy: float
) -> int:
    """The item's stored claim priority (lower is served first). Items people already started
    come first (their judgments so far are spent only once the item completes, and each
    completion is a label the model learns from), then the untouched ones, each tier by the
    worth of its next judgment: among untouched items the model is unsure of go first, and the
    ones it is sure of wait for a better model that may settle them alone. A stable
    pseudo-random `RANDOM_SHARE` of (item, judgment count) pairs gets a random place instead."""
    digest = hashlib.blake2b(f"{item_id}:{judgments}".encode(), digest_size=8).digest()
    draw = int.from_bytes(digest[:4], "big") / 2.0**32
    if draw < RANDOM_SHARE:
        return int(int.from_bytes(digest[4:], "big") / 2.0**32 * 2 * PRIORITY_SCALE)
    k = max(int(n_classes), 2)
    most = expected_gain(1.0 / k, k, accuracy)  # an item nobody knows anything about
    worth = expected_gain(confidence, k, accuracy) / most if most > 0 else 1.0
    tier = 0 if judgments > 0 else PRIORITY_SCALE
    return tier + int(round(PRIORITY_SCALE * (1.0 - float(np.clip(worth, 0.0, 1.0)))))


def _entropy(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-300, 1.0)
    return -np.sum(p * np.log(q), axis=-1)

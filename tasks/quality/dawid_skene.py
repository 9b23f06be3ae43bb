"""Dawid-Skene EM, vectorised, with the regularisation real (sparse) crowds need.

Model: item `i` has a hidden class `z_i ~ prior`; worker `w` answers class `l` with probability
`pi_w[z_i, l]` (a confusion matrix per worker), independently given `z_i`. EM alternates the
posterior over `z` (E-step) and the parameters (M-step).

Why not textbook EM: on sparse crowds (a few dozen labels per worker, disconnected groups of
items that are mostly one class) the per-worker maximum-likelihood confusion rows are fitted to
one or two soft counts, feed back into the posteriors that produced them and drift, and DS falls
far below majority vote. Here each confusion row gets a Dirichlet prior whose mean is the
worker's own *one-coin* model (accuracy `a_w` on the diagonal, the crowd's pooled error pattern
off it), and `a_w` itself is shrunk toward the crowd's pooled accuracy. A worker with hundreds of
labels is fitted on their own data; a worker with ten labels is, in effect, a one-coin worker
whose accuracy is partly borrowed from the crowd. The class prior is held flat during EM and
applied once at the end (see `dawid_skene`), which stops whole groups from flipping to the common
class. EM starts from majority vote and gold items are clamped to their known class.

Defaults were chosen on simulated crowds (bench/aggregation.py and harsher variants: 95%
one-class groups, groups of 4 workers, strong shared class confusions): 30 pseudo-labels per row
was the smallest strength at which no sparse scenario fell below majority vote; weaker priors
(10-20) let some disconnected groups drift to wrong labels as a block.

Speed: judgments are integer-coded and sorted once each way (by item, by (worker, label)); each
iteration is then one row gather plus one `np.add.reduceat` per step, in float32, in log space,
with no per-judgment Python and no one-hot matrices. Iteration stops on a per-judgment
log-likelihood change below `tol` rather than after a fixed count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from tasks.quality.base import (
    NO_LABEL,
    AggregationResult,
    Judgments,
    argmax_labels,
    gold_array,
    prepare,
)

#: Dirichlet pseudo-labels per confusion row, toward the worker's one-coin model.
DEFAULT_PRIOR_STRENGTH = 30.0
#: Pseudo-labels pulling each worker's one-coin accuracy toward the crowd's pooled accuracy.
DEFAULT_POOL_STRENGTH = 4.0
#: Floor on probabilities before taking logs (the value crowd-kit uses), so log(0) never occurs.
_EPS = 1e-10


def _sorted_segments(keys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Permutation that sorts `keys` (None when already sorted, the common case for judgments read
    in item order) and the start of each run of equal keys in sorted order."""
    if keys.size and np.any(keys[1:] < keys[:-1]):
        # Introsort, not a stable sort: ~4x faster on int32 keys, equally deterministic, and the
        # order inside a run of equal keys does not matter for a sum.
        order: np.ndarray | None = np.argsort(keys)
        sorted_keys = keys[order]
    else:
        order, sorted_keys = None, keys
    if not sorted_keys.size:
        return order, np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    return order, starts


@dataclass(frozen=True)
class _EMIndex:
    """Index structures built once per fit, so that each EM step is a gather and a reduceat.

    Items without judgments are dropped ("compact" item ids); their posterior is the class prior.
    """

    compact_of_item: np.ndarray  # item -> compact id, -1 when it has no judgments
    n_compact: int
    wl_by_item: np.ndarray  # (worker * K + label) of each judgment, sorted by item
    item_starts: np.ndarray  # segment starts in the item-sorted order (one per compact item)
    compact_by_wl: np.ndarray  # compact item of each judgment, sorted by (worker, label)
    wl_starts: np.ndarray  # segment starts in the (worker, label)-sorted order
    wl_keys: np.ndarray  # the (worker * K + label) key of each such segment
    # Per-judgment weights in each order (None: every judgment weighs 1), e.g. a ring's
    # members 1/m each on an item where m of them answered (`tasks.quality.rings`).
    w_by_item: np.ndarray | None = None
    w_by_wl: np.ndarray | None = None

    @classmethod
    def build(cls, j: Judgments, weights: np.ndarray | None = None) -> _EMIndex:
        k = j.n_classes
        has = j.item_counts() > 0
        compact_of_item = np.cumsum(has) - 1
        compact_of_item[~has] = -1
        # Gathers use np.take with intp indices (several times faster than fancy indexing,
        # which converts and bounds-checks on every call); sort keys are int32 when they fit,
        # which is what makes argsort fast.
        key_dtype = np.int32 if j.n_workers * k < 2**31 else np.int64
        wl = (j.workers * k + j.labels).astype(key_dtype)
        compact = compact_of_item[j.items].astype(np.intp)
        order, item_starts = _sorted_segments(j.items)
        wl_by_item = (wl if order is None else wl[order]).astype(np.intp)
        wl_order, wl_starts = _sorted_segments(wl)
        compact_by_wl = compact if wl_order is None else compact[wl_order]
        wl_sorted = wl if wl_order is None else wl[wl_order]
        w_by_item = w_by_wl = None
        if weights is not None:
            w = weights.astype(np.float32)
            w_by_item = (w if order is None else w[order])[:, None]
            w_by_wl = (w if wl_order is None else w[wl_order])[:, None].astype(np.float64)
        return cls(
            compact_of_item=compact_of_item,
            n_compact=int(has.sum()),
            wl_by_item=wl_by_item,
            item_starts=item_starts,
            compact_by_wl=compact_by_wl,
            wl_starts=wl_starts,
            wl_keys=wl_sorted[wl_starts] if wl_sorted.size else wl_sorted,
            w_by_item=w_by_item,
            w_by_wl=w_by_wl,
        )


def _soft_counts(ix: _EMIndex, post: np.ndarray, n_workers: int, k: int) -> np.ndarray:
    """counts[w, true k, observed l] = sum of P(z_i = k) over worker w's answers l."""
    flat = np.zeros((n_workers * k, k), dtype=np.float64)
    if ix.wl_keys.size:
        rows = np.take(post, ix.compact_by_wl, axis=0)
        if ix.w_by_wl is not None:
            rows = rows * ix.w_by_wl
        flat[ix.wl_keys] = np.add.reduceat(rows, ix.wl_starts, axis=0)
    # flat is indexed (w, observed l) x true k; confusion matrices are read true x observed.
    return flat.reshape(n_workers, k, k).transpose(0, 2, 1)


def _confusions(counts: np.ndarray, prior_strength: float, pool_strength: float) -> np.ndarray:
    """M-step for the confusion matrices: posterior-mean estimates under the shrinkage prior.

    Returns pi[w, k, l] = P(worker w answers l | true class k). With `prior_strength` 0 this is
    plain maximum likelihood with the 1e-10 floor crowd-kit uses (the tests check its output is
    reproduced)."""
    n_workers, k, _ = counts.shape
    row_totals = counts.sum(axis=2)
    if prior_strength <= 0:
        floored = np.maximum(counts, _EPS)
        return floored / floored.sum(axis=2, keepdims=True)
    if k == 1:
        return np.ones_like(counts)
    pooled = counts.sum(axis=0)
    eye = np.eye(k)
    # The crowd's error pattern: where mistakes on class k go, from everyone's soft counts, with
    # add-one smoothing so a class nobody saw still gets a proper (uniform) error distribution.
    off = pooled * (1 - eye) + (1 - eye)
    error_pattern = off / off.sum(axis=1, keepdims=True)
    # One-coin accuracy per worker, shrunk toward the crowd's pooled accuracy.
    pooled_acc = (np.trace(pooled) + 1.0) / (pooled.sum() + 2.0)
    correct = np.einsum("wkk->w", counts)
    acc = (correct + pool_strength * pooled_acc) / (row_totals.sum(axis=1) + pool_strength)
    acc = np.clip(acc, _EPS, 1 - _EPS)
    # Prior mean: the worker's one-coin model (accuracy on the diagonal, the crowd's error
    # pattern off it). Rows with many labels follow the data; sparse rows follow the prior.
    mean = acc[:, None, None] * eye + (1 - acc)[:, None, None] * error_pattern
    pi = (counts + prior_strength * mean) / (row_totals + prior_strength)[:, :, None]
    return np.maximum(pi, _EPS)


def _class_prior(post: np.ndarray, smoothing: float) -> np.ndarray:
    k = post.shape[1]
    prior = (post.sum(axis=0, dtype=np.float64) + smoothing) / (post.shape[0] + k * smoothing)
    return np.maximum(prior, _EPS)


def _normalise(scores: np.ndarray, log_prior: np.ndarray) -> tuple[np.ndarray, float]:
    """Softmax of (log prior + log-likelihood) per item, and the total log-likelihood.

    Works on the transposed (K, items) copy: reductions across K long rows are several times
    faster than numpy's axis=1 reductions over many rows of K."""
    s = np.ascontiguousarray(scores.T)
    s += log_prior.astype(np.float32)[:, None]
    top = s.max(axis=0)
    s -= top
    np.exp(s, out=s)
    norm = s.sum(axis=0)
    s /= norm
    ll = float(np.sum(top, dtype=np.float64) + np.sum(np.log(norm), dtype=np.float64))
    return np.ascontiguousarray(s.T), ll


def dawid_skene(
    items: object,
    workers: object,
    labels: object,
    *,
    n_items: int | None = None,
    n_workers: int | None = None,
    n_classes: int | None = None,
    gold: dict[int, int] | np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-5,
    prior_strength: float = DEFAULT_PRIOR_STRENGTH,
    pool_strength: float = DEFAULT_POOL_STRENGTH,
    class_prior: Literal["final", "em"] = "final",
    judgment_weights: object | None = None,
    fixed_accuracy: dict[int, float] | None = None,
) -> AggregationResult:
    """Regularised Dawid-Skene over integer-coded judgments.

    `judgment_weights` (one per judgment, in (0, 1]) scale each judgment's evidence in both
    steps: a ring of m members answering one item weighs as one voter at 1/m each.
    `fixed_accuracy` {worker: accuracy} holds those workers to a one-coin model of that
    accuracy instead of fitting them (a ring agreeing with itself would otherwise fit itself
    as the truth; its accuracy comes from its agreement with the rest of the crowd).

    `gold` maps item index -> known class (or is an array with -1 for "no gold"); gold items are
    clamped to that class in every E-step, so they teach the worker models, and come back with
    confidence 1. `prior_strength` is the Dirichlet pseudo-label count per confusion row (toward
    the worker's one-coin model) and `pool_strength` the pseudo-label count pulling a worker's
    accuracy toward the crowd's.

    `class_prior="final"` (default) runs EM under a flat class prior and applies the estimated
    prior once, in a final E-step: re-estimating it inside the loop lets a disconnected group of
    items that is mostly a rare class be re-explained, as a block, as the common class (worker
    rows then follow the flipped labels), which is how DS collapses on sparse crowds. `"em"`
    re-estimates it every iteration, as textbook DS does; `prior_strength=0,
    class_prior="em"` is plain maximum-likelihood DS, i.e. what crowd-kit's `DawidSkene` computes.

    EM starts from majority-vote shares and stops when the log-likelihood per judgment moves
    less than `tol`, or after `max_iter` iterations. Guarantees: posterior rows sum to 1; labels
    are the posterior argmax with ties to the lowest class index; items without judgments get
    label -1, confidence 0 and the class prior as posterior; `worker_quality` is the
    prior-weighted expected accuracy (NaN for a worker without judgments); same input, same
    output.
    """
    if class_prior not in ("final", "em"):
        raise ValueError(f"class_prior must be 'final' or 'em', got {class_prior!r}")
    j = prepare(items, workers, labels, n_items, n_workers, n_classes)
    k = j.n_classes
    gold_full = gold_array(gold, j.n_items, k)
    weights = None
    if judgment_weights is not None:
        weights = np.asarray(judgment_weights, dtype=np.float64)
        if weights.shape != (j.n,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("judgment_weights must be finite, non-negative, one per judgment")
    ix = _EMIndex.build(j, weights)
    # Add-one smoothing of the class prior, except in the textbook (crowd-kit) configuration.
    smoothing = 1.0 if prior_strength > 0 else 0.0

    # Gold items in compact ids (gold on an item without judgments only affects its output).
    has_gold = gold_full >= 0
    gold_compact = ix.compact_of_item[has_gold]
    gold_values = gold_full[has_gold][gold_compact >= 0]
    gold_compact = gold_compact[gold_compact >= 0]

    def clamp(post: np.ndarray) -> np.ndarray:
        post[gold_compact] = 0.0
        post[gold_compact, gold_values] = 1.0
        return post

    def e_step(pi: np.ndarray, log_prior: np.ndarray) -> tuple[np.ndarray, float]:
        # log P(z_i = k | answers) = log prior_k + sum over i's answers of log pi_w[k, l]:
        # one gather of a (worker, label) -> log-likelihood-over-k table, one segmented sum.
        table = np.log(pi).transpose(0, 2, 1).reshape(j.n_workers * k, k).astype(np.float32)
        rows = np.take(table, ix.wl_by_item, axis=0)
        if ix.w_by_item is not None:
            rows *= ix.w_by_item
        scores = np.add.reduceat(rows, ix.item_starts, axis=0)
        post, ll = _normalise(scores, log_prior)
        return clamp(post), ll

    votes = j.vote_counts(weights)[ix.compact_of_item >= 0]
    post = clamp((votes / votes.sum(axis=1, keepdims=True)).astype(np.float32))
    flat_prior = np.full(k, -np.log(k))
    log_prior = flat_prior
    pi = np.full((j.n_workers, k, k), 1.0 / k)
    prev_ll, n_iter, converged = -np.inf, 0, False
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported after the loop
        pi = _confusions(_soft_counts(ix, post, j.n_workers, k), prior_strength, pool_strength)
        if fixed_accuracy:
            for w, a in fixed_accuracy.items():
                pi[w] = np.maximum(a * np.eye(k) + (1 - a) * (1 - np.eye(k)) / max(k - 1, 1), _EPS)
        if class_prior == "em":
            log_prior = np.log(_class_prior(post, smoothing))
        post, ll = e_step(pi, log_prior)
        if abs(ll - prev_ll) <= tol * max(j.n, 1):
            converged = True
            break
        prev_ll = ll
    if class_prior == "final" and post.shape[0]:
        log_prior = np.log(_class_prior(post, smoothing))
        post, _ = e_step(pi, log_prior)
    return _result(j, ix, post, log_prior, pi, gold_full, n_iter, converged)


def _result(
    j: Judgments,
    ix: _EMIndex,
    post: np.ndarray,
    log_prior: np.ndarray,
    pi: np.ndarray,
    gold_full: np.ndarray,
    n_iter: int,
    converged: bool,
) -> AggregationResult:
    prior = np.exp(log_prior)
    prior /= prior.sum()
    posteriors = np.tile(prior, (j.n_items, 1))
    has = ix.compact_of_item >= 0
    # float32 during EM is ample for a posterior; renormalise in float64 for clean row sums.
    posteriors[has] = post
    posteriors[has] /= posteriors[has].sum(axis=1, keepdims=True)
    is_gold = gold_full >= 0
    posteriors[is_gold] = 0.0
    posteriors[is_gold, gold_full[is_gold]] = 1.0
    labels = argmax_labels(posteriors, has | is_gold)
    confidence = np.where(labels >= 0, posteriors[np.arange(j.n_items), np.maximum(labels, 0)], 0.0)
    quality = np.einsum("wkk,k->w", pi, prior)
    quality[j.worker_counts() == 0] = np.nan
    return AggregationResult(
        labels=labels,
        confidence=confidence,
        posteriors=posteriors,
        worker_quality=quality,
        method="dawid_skene",
        n_judgments=j.item_counts(),
        n_iter=n_iter,
        converged=converged,
        confusion=pi,
    )


__all__ = ["DEFAULT_POOL_STRENGTH", "DEFAULT_PRIOR_STRENGTH", "NO_LABEL", "dawid_skene"]

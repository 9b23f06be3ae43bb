"""Rings: groups of workers whose mutual agreement on non-gold items is far above what their
agreement with the rest of the crowd predicts. Pure numpy (plus scipy's binomial tail), over the
same integer-coded judgments as the aggregation engine.

The null model. If workers answer independently given the true class, each right with accuracy
`a_w` and wrong uniformly otherwise, the chance that two of them agree on an item is
`1/K + K/(K-1) u_i u_j` with `u = a - 1/K`: chance agreement plus a rank-one term. With real
label marginals the chance term is `b = sum_l p_l^2`. So the excess agreement of every pair,
`D_ij = A_ij - b`, is about `v_i v_j`, one skill per worker. The skills are fitted to all pairs
(least squares weighted by shared items, shrunk toward the crowd's typical skill), and the pairs
that agree far more than `b + v_i v_j` predicts (binomial upper tail, Bonferroni over the pairs
tested, at least `min_shared` shared items and a clear excess) are set aside and the skills
refitted without them, until nothing changes. A ring member's skill is then what their
agreement with the *rest* of the crowd says; the ring's mutual agreement is the anomaly.
Correlated honest errors (hard items everyone gets wrong the same way) raise every pair's
agreement alike and are absorbed by the skills; they do not single out a group.

Rings are the connected groups of flagged pairs. In aggregation a ring counts as about one
independent voter: each member's judgment on an item weighs 1/m when m members of the ring
judged it (`ring_judgment_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: A pair is tested only with at least this many shared non-gold items.
MIN_SHARED = 4
#: A pair is a candidate edge of a ring under this (uncorrected) binomial tail; the group
#: its edges connect must then pass `ALPHA` as a whole.
CANDIDATE_P = 0.01
#: Family-wise false-alarm rate over all pairs tested (Bonferroni).
ALPHA = 1e-3
#: ... and the observed agreement must exceed the expected one by at least this much.
MIN_EXCESS = 0.2
#: Pseudo-pairs of shrinkage of each worker's skill toward the crowd's typical skill.
SKILL_PRIOR = 3.0
_ROUNDS = 8
#: Pairs agreeing this many standard deviations above the null are left out of the skill fit.
TRIM_Z = 2.0
_FIT_ITERATIONS = 30


@dataclass(frozen=True)
class PairEvidence:
    """One flagged pair (dense worker indices): shared items, agreements, the agreement the
    null model expects, and the binomial tail probability of agreeing that often."""

    a: int
    b: int
    shared: int
    agreed: int
    expected: float
    p: float


@dataclass(frozen=True)
class Ring:
    members: tuple[int, ...]
    pairs: tuple[PairEvidence, ...]
    #: Per member, the accuracy their agreement with the rest of the crowd implies (the
    #: fitted skill v as a one-coin accuracy: 1/K + v sqrt((K-1)/K)), what aggregation
    #: should believe about them instead of what their agreement with each other says.
    accuracy: tuple[float, ...] = ()

    @property
    def shared(self) -> int:
        return sum(p.shared for p in self.pairs)

    @property
    def observed(self) -> float:
        return sum(p.agreed for p in self.pairs) / max(self.shared, 1)

    @property
    def expected(self) -> float:
        return sum(p.expected * p.shared for p in self.pairs) / max(self.shared, 1)


@dataclass(frozen=True)
class PairCounts:
    """Per co-judging pair (a < b): items shared and items agreed on."""

    a: np.ndarray
    b: np.ndarray
    shared: np.ndarray
    agreed: np.ndarray
    chance: float  # sum of squared label shares: agreement of two random answers
    extra: dict[str, float] = field(default_factory=dict)


def pair_counts(items: np.ndarray, workers: np.ndarray, labels: np.ndarray) -> PairCounts:
    """Every pair of judgments on the same item, counted per worker pair, vectorised: sort by
    item, then pair each judgment with the ones `d` places after it in the same item."""
    items = np.asarray(items, np.int64)
    workers = np.asarray(workers, np.int64)
    labels = np.asarray(labels, np.int64)
    order = np.lexsort((workers, items))
    it, wk, lb = items[order], workers[order], labels[order]
    pa, pb, ag = [], [], []
    n = len(it)
    for d in range(1, n):
        same = it[d:] == it[:-d]
        if not same.any():
            break
        pa.append(wk[:-d][same])
        pb.append(wk[d:][same])
        ag.append(lb[:-d][same] == lb[d:][same])
    shares = np.bincount(lb, minlength=1) / max(n, 1)
    chance = float(np.sum(shares**2))
    if not pa:
        empty = np.zeros(0, np.int64)
        return PairCounts(empty, empty, empty, empty, chance)
    a, b, agree = np.concatenate(pa), np.concatenate(pb), np.concatenate(ag)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    lo, hi, agree = lo[keep], hi[keep], agree[keep]
    n_workers = int(max(workers.max(initial=0), 0)) + 1
    keys, inverse = np.unique(lo * n_workers + hi, return_inverse=True)
    shared = np.bincount(inverse, minlength=len(keys))
    agreed = np.bincount(inverse, weights=agree, minlength=len(keys)).astype(np.int64)
    return PairCounts(keys // n_workers, keys % n_workers, shared, agreed, chance)


def _median_skills(pairs: PairCounts, n_workers: int, prior: float) -> np.ndarray:
    """A robust start: under the rank-one model the median of a worker's excess agreement over
    their partners is v_i times a typical skill, whatever a minority of partners (a ring) does.
    Each partner counts once: a ring shares many items with itself, so weighting by shared
    items would hand the median to the ring."""
    d = pairs.agreed / np.maximum(pairs.shared, 1) - pairs.chance
    owner = np.concatenate((pairs.a, pairs.b))
    excess = np.concatenate((d, d))
    order = np.lexsort((excess, owner))
    owner, excess = owner[order], excess[order]
    medians = np.full(n_workers, np.nan)
    if len(owner):
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        ends = np.r_[starts[1:], len(owner)]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            medians[owner[s]] = float(np.median(excess[s:e]))
    typical = float(np.nanmedian(medians)) if np.isfinite(medians).any() else prior**2
    scale = np.sqrt(max(typical, 1e-4))
    return np.clip(np.where(np.isfinite(medians), medians / scale, prior), 0.0, 1.0)


def _fit_skills(pairs: PairCounts, use: np.ndarray, start: np.ndarray, prior: float) -> np.ndarray:
    """Skills v minimising sum n_ij (D_ij - v_i v_j)^2 + SKILL_PRIOR sum (v_i - prior)^2 over
    the pairs in `use` (alternating closed-form updates from `start`)."""
    a, b = pairs.a[use], pairs.b[use]
    n = pairs.shared[use].astype(np.float64)
    d = pairs.agreed[use] / np.maximum(n, 1) - pairs.chance
    n_workers = len(start)
    v = start.copy()
    for _ in range(_FIT_ITERATIONS):
        num = np.bincount(a, weights=n * d * v[b], minlength=n_workers)
        num += np.bincount(b, weights=n * d * v[a], minlength=n_workers)
        den = np.bincount(a, weights=n * v[b] ** 2, minlength=n_workers)
        den += np.bincount(b, weights=n * v[a] ** 2, minlength=n_workers)
        v = np.clip((num + SKILL_PRIOR * prior) / (den + SKILL_PRIOR), 0.0, 1.0)
    return v


def rings_detect(
    items: np.ndarray,
    workers: np.ndarray,
    labels: np.ndarray,
    *,
    n_workers: int,
    min_shared: int = MIN_SHARED,
    alpha: float = ALPHA,
    min_excess: float = MIN_EXCESS,
) -> list[Ring]:
    """The rings among non-gold judgments (dense worker indices), largest first."""
    pairs = pair_counts(items, workers, labels)
    tested = pairs.shared >= min_shared
    if not tested.any():
        return []
    n_tests = int(tested.sum())
    rate = pairs.agreed / np.maximum(pairs.shared, 1)
    typical = float(np.sum(pairs.agreed)) / max(float(np.sum(pairs.shared)), 1.0)
    prior = float(np.sqrt(max(typical - pairs.chance, 1e-4)))
    v = _median_skills(pairs, n_workers, prior)
    fit = np.zeros(len(pairs.a), dtype=bool)
    for round_ in range(_ROUNDS):
        if round_:
            v = _fit_skills(pairs, fit, v, prior)
        expected = np.clip(pairs.chance + v[pairs.a] * v[pairs.b], 1e-3, 1 - 1e-3)
        # The skills are refitted without the pairs that agree suspiciously often (a loose,
        # one-sided trim): a ring member's skill must come from the rest of the crowd.
        z = (pairs.agreed - pairs.shared * expected) / np.sqrt(
            pairs.shared * expected * (1 - expected)
        )
        trimmed = z <= TRIM_Z
        if np.array_equal(trimmed, fit):
            break
        fit = trimmed
    # P(X >= agreed) under Binomial(shared, expected), per pair. scipy on first use: importing
    # scipy.stats costs every web and Celery process seconds at start-up.
    from scipy.stats import binom

    p = binom.sf(pairs.agreed - 1, pairs.shared, expected)
    candidate = tested & (p < CANDIDATE_P) & (rate - expected >= min_excess)
    rings = []
    n_members = len(np.unique(np.concatenate((pairs.a[tested], pairs.b[tested]))))
    for ring in _groups(pairs, candidate, expected, p, n_workers):
        # Each member must stand on its own edges (Bonferroni over the workers tested), so
        # one lucky pair does not hang an honest worker onto a real ring; then the group as a
        # whole (Bonferroni over the pairs tested).
        edges = list(ring.pairs)
        while edges:
            members = {e.a for e in edges} | {e.b for e in edges}
            weak = [
                m for m in members
                if _tail([e for e in edges if m in (e.a, e.b)]) * n_members >= alpha
            ]  # fmt: skip
            if not weak:
                break
            edges = [e for e in edges if e.a not in weak and e.b not in weak]
        if edges and _tail(edges) * n_tests < alpha:
            group = tuple(sorted({e.a for e in edges} | {e.b for e in edges}))
            accuracy = tuple(_skill_accuracy(float(v[m]), labels) for m in group)
            rings.append(Ring(group, tuple(edges), accuracy))
    return rings


def _skill_accuracy(skill: float, labels: np.ndarray) -> float:
    k = max(int(np.max(labels, initial=0)) + 1, 2)
    return float(np.clip(1.0 / k + skill * np.sqrt((k - 1) / k), 1.0 / k, 0.99))


def _tail(edges: list[PairEvidence]) -> float:
    """One-sided tail of these pairs' agreements together against the null (normal approx)."""
    mean = sum(e.shared * e.expected for e in edges)
    var = sum(e.shared * e.expected * (1 - e.expected) for e in edges)
    agreed = sum(e.agreed for e in edges)
    from scipy.stats import norm

    return float(norm.sf((agreed - mean) / np.sqrt(max(var, 1e-9))))


def _groups(
    pairs: PairCounts, flagged: np.ndarray, expected: np.ndarray, p: np.ndarray, n_workers: int
) -> list[Ring]:
    parent = np.arange(n_workers)

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    idx = np.flatnonzero(flagged)
    for i in idx:
        ra, rb = root(int(pairs.a[i])), root(int(pairs.b[i]))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    by_root: dict[int, list[PairEvidence]] = {}
    for i in idx:
        pair = PairEvidence(
            a=int(pairs.a[i]), b=int(pairs.b[i]), shared=int(pairs.shared[i]),
            agreed=int(pairs.agreed[i]), expected=float(expected[i]), p=float(p[i]),
        )  # fmt: skip
        by_root.setdefault(root(pair.a), []).append(pair)
    rings = []
    for group in by_root.values():
        members = sorted({e.a for e in group} | {e.b for e in group})
        rings.append(Ring(tuple(members), tuple(group)))
    return sorted(rings, key=lambda r: (-len(r.members), r.members))


def ring_judgment_weights(
    items: np.ndarray, workers: np.ndarray, ring_of_worker: np.ndarray
) -> np.ndarray:
    """Per judgment: 1/m when its worker is one of m members of the same ring on that item,
    else 1. `ring_of_worker[w]` is a ring number or -1."""
    items = np.asarray(items, np.int64)
    ring = np.asarray(ring_of_worker, np.int64)[np.asarray(workers, np.int64)]
    weights = np.ones(len(items))
    member = ring >= 0
    if not member.any():
        return weights
    n_rings = int(ring.max()) + 1
    keys = items[member] * n_rings + ring[member]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    weights[member] = 1.0 / counts[inverse]
    return weights


__all__ = ["PairEvidence", "Ring", "pair_counts", "ring_judgment_weights", "rings_detect"]

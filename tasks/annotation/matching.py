"""Matching shapes: an optimal assignment (Hungarian, in numpy), F1 at an IoU threshold, and
clustering one item's shapes across workers.

scipy is not a dependency of the platform, so the assignment is the classic O(n^2 m)
shortest-augmenting-path Hungarian algorithm with its inner loop vectorised over columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a minimum-cost assignment of a (n, m) cost matrix: min(n, m) pairs,
    each row and column used at most once (like scipy's linear_sum_assignment)."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError("cost must be a matrix")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost must be finite")
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n > m:
        cols, rows = assignment(cost.T)
        order = np.argsort(rows)
        return rows[order], cols[order]
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: 1-based row assigned to column j
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used[1:]
            reduced = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            candidates = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(candidates)) + 1
            delta = candidates[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.flatnonzero(owner[1:])
    rows = owner[1:][cols] - 1
    order = np.argsort(rows)
    return rows[order], cols[order]


def max_matching(eligible: np.ndarray, score: np.ndarray) -> list[tuple[int, int]]:
    """The largest set of (row, column) pairs among `eligible` ones, each row and column used
    once, breaking ties in size by the largest total `score` (scores in [0, 1])."""
    eligible = np.asarray(eligible, dtype=bool)
    n, m = eligible.shape
    if not eligible.any():
        return []
    if eligible.sum(axis=0).max() == 1 and eligible.sum(axis=1).max() == 1:
        # No row or column has a choice (the usual case at IoU >= 0.5): nothing to optimise.
        rows, cols = np.nonzero(eligible)
        return list(zip(rows.tolist(), cols.tolist(), strict=True))
    # Lexicographic: one more pair is always worth more than any gain in total score.
    big = float(min(n, m) + 1)
    gain = np.where(eligible, big + np.clip(score, 0.0, 1.0), 0.0)
    rows, cols = assignment(-gain)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if eligible[r, c]]


def f1_at_iou(
    iou: np.ndarray,
    labels_a: Sequence[str],
    labels_b: Sequence[str],
    threshold: float,
) -> float:
    """F1 of shapes `a` against shapes `b` (gold): a true positive is a matched pair with the
    same label and IoU >= threshold. Nothing against nothing is a perfect 1.0."""
    n, m = len(labels_a), len(labels_b)
    if n == 0 and m == 0:
        return 1.0
    if n == 0 or m == 0:
        return 0.0
    same = np.array(labels_a, dtype=object)[:, None] == np.array(labels_b, dtype=object)[None, :]
    eligible = same & (np.asarray(iou) >= threshold)
    matched = len(max_matching(eligible, iou))
    return 2.0 * matched / (n + m)


def cluster_across_workers(
    iou: np.ndarray, owners: Sequence[int], threshold: float
) -> list[list[int]]:
    """Group one item's shapes (from several workers) into clusters of the same object.

    Average-linkage agglomeration with a cannot-link rule: two clusters merge, best pair first,
    while their members' mean IoU is >= threshold and no worker is in both (a cluster holds at
    most one shape per worker, so a worker's two overlapping boxes stay two candidates). Only
    shapes linked by a chain of IoU >= threshold can ever merge, so the work is done per such
    group, which keeps it small however many shapes the item has. Deterministic: ties merge
    the lowest indices first; clusters come back ordered by their first member."""
    n = len(owners)
    if n == 0:
        return []
    iou = np.asarray(iou, dtype=np.float64)
    owner = np.asarray(owners)
    linked = (iou >= threshold) & (owner[:, None] != owner[None, :])
    clusters: list[list[int]] = []
    for group in _linked_groups(linked):
        clusters.extend(_average_linkage(iou[np.ix_(group, group)], owner[group], threshold,
                                         group))  # fmt: skip
    clusters.sort(key=lambda members: members[0])
    return clusters


def _linked_groups(linked: np.ndarray) -> list[list[int]]:
    n = linked.shape[0]
    seen = np.zeros(n, dtype=bool)
    groups = []
    for start in range(n):
        if seen[start]:
            continue
        seen[start] = True
        stack, group = [start], []
        while stack:
            k = stack.pop()
            group.append(k)
            for j in np.flatnonzero(linked[k] & ~seen):
                seen[j] = True
                stack.append(int(j))
        groups.append(sorted(group))
    return groups


def _average_linkage(
    iou: np.ndarray, owner: np.ndarray, threshold: float, index: Sequence[int]
) -> list[list[int]]:
    k = len(index)
    if k == 1:
        return [[index[0]]]
    if len(set(owner.tolist())) == k and bool(np.all(iou >= threshold)):
        # One shape per worker, all overlapping enough: every merge would pass, so one cluster.
        return [sorted(index)]
    members = [[i] for i in range(k)]
    workers = [{int(owner[i])} for i in range(k)]
    sums = iou.copy()  # sums[a, b]: total IoU between clusters a and b
    sizes = np.ones(k)
    alive = np.ones(k, dtype=bool)
    while True:
        mean = sums / np.outer(sizes, sizes)
        ok = alive[:, None] & alive[None, :] & ~np.eye(k, dtype=bool) & (mean >= threshold)
        if not ok.any():
            break
        candidates = np.where(ok, mean, -1.0)
        order = np.argsort(-candidates, axis=None, kind="stable")
        merged = False
        for flat in order:
            if candidates.flat[flat] < threshold:
                break
            a, b = divmod(int(flat), k)
            if workers[a] & workers[b]:
                continue
            a, b = min(a, b), max(a, b)
            members[a] += members[b]
            workers[a] |= workers[b]
            sums[a, :] += sums[b, :]
            sums[:, a] += sums[:, b]
            sizes[a] += sizes[b]
            alive[b] = False
            merged = True
            break
        if not merged:
            break
    return [sorted(index[i] for i in members[c]) for c in np.flatnonzero(alive)]

"""A ranking of candidates from a crowd's pairwise judgments: a noise-aware Bradley-Terry fit.

Model: candidate j has a strength s_j; a judgment of (a, b) by worker k is, with probability
1 - e_k, a Bradley-Terry draw (a wins with sigmoid(s_a - s_b)) and, with probability e_k, a
lapse (a coin flip: a spammer, a misclick, a worker always picking the left one when sides are
shuffled). Fitted by EM: the E-step gives each judgment the posterior that it was not a lapse,
the M-step updates every worker's lapse rate (shrunk toward the crowd's, so a worker with three
judgments is not declared perfect or useless) and the strengths by one Newton step (one
minorise-maximise step, Hunter 2004, beyond MAX_DENSE candidates) on the judgments weighted by
that posterior and by the caller's weight (e.g. the worker's skill). A tie counts half a win
each way.

Every candidate also plays one virtual game against a virtual candidate of strength 0, won half
and lost half (`prior_strength`): a small prior that makes the fit unique when the comparison
graph is disconnected and finite for a candidate that never lost. The interval is the 95% Wald
interval from the observed model's Fisher information at the fit (inverse of the full matrix up
to MAX_DENSE candidates, its diagonal beyond) of the scores centred on the mean candidate.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Outcomes from the first candidate's point of view.
OUTCOMES = {"left": 1.0, "right": 0.0, "tie": 0.5}
#: Up to this many candidates the interval uses the inverse of the full information matrix.
MAX_DENSE = 2000
#: Up to this many candidates the strengths take Newton steps (a dense solve each iteration).
MAX_NEWTON = 400
#: A lapse rate that moves less than this between iterations has settled (EM creeps toward a
#: rate of 0 slowly, while the strengths no longer move).
LAPSE_TOL = 1e-5
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Fit:
    """A Bradley-Terry fit: per candidate (in `ids` order) the log-strength, its standard
    error and number of judgments; per worker (in `workers` order) the lapse rate."""

    ids: list[Hashable]
    scores: np.ndarray
    stderr: np.ndarray
    counts: np.ndarray
    workers: list[Hashable]
    lapse: np.ndarray
    n_iter: int
    converged: bool


def rank(
    comparisons: Iterable[Sequence[Any]],
    *,
    per_worker_noise: bool = True,
    prior_strength: float = 1.0,
    max_iter: int = 1000,
    tol: float = 1e-6,
) -> list[dict[str, Any]]:
    """Candidates best first: [{"id", "score", "interval": [low, high], "comparisons"}].

    `comparisons` are (a_id, b_id, outcome, weight) or (a_id, b_id, outcome, weight, worker):
    outcome "left"/1.0 when a won, "right"/0.0 when b won, "tie"/0.5; weight > 0 (a worker's
    skill, or 1). Without a worker, or with `per_worker_noise` off, one lapse rate is shared.
    The score is the log-strength relative to the mean candidate (a gap of 1 between two
    candidates: the first wins e/(1+e) = 73% of the time)."""
    fit = bradley_terry(comparisons, per_worker_noise=per_worker_noise,
                        prior_strength=prior_strength, max_iter=max_iter, tol=tol)  # fmt: skip
    order = np.lexsort((np.arange(len(fit.ids)), -fit.scores))
    return [
        {
            "id": fit.ids[j],
            "score": round(float(fit.scores[j]), 4),
            "interval": [
                round(float(fit.scores[j] - Z95 * fit.stderr[j]), 4),
                round(float(fit.scores[j] + Z95 * fit.stderr[j]), 4),
            ],  # fmt: skip
            "comparisons": int(fit.counts[j]),
        }
        for j in order
    ]


def bradley_terry(
    comparisons: Iterable[Sequence[Any]],
    *,
    per_worker_noise: bool = True,
    prior_strength: float = 1.0,
    lapse_prior: float = 5.0,
    max_iter: int = 1000,
    tol: float = 1e-6,
) -> Fit:
    """The fit behind `rank` (see the module docstring); `lapse_prior` is how many judgments'
    worth a worker's lapse rate is shrunk toward the crowd's."""
    a, b, outcome, weight, worker, ids, workers = _encode(comparisons, per_worker_noise)
    n = len(ids)
    if prior_strength <= 0:
        raise ValueError("prior_strength must be positive")
    # Each judgment as two weighted games: the first candidate's win and loss shares.
    winner = np.concatenate([a, b])
    loser = np.concatenate([b, a])
    games = np.concatenate([outcome, 1.0 - outcome]) * np.tile(weight, 2)
    game_worker = np.tile(worker, 2)
    played = games > 0
    winner, loser, games, game_worker = (
        winner[played],
        loser[played],
        games[played],
        game_worker[played],
    )
    n_workers = len(workers)
    per_worker = np.bincount(game_worker, weights=games, minlength=n_workers)
    scores = np.zeros(n)
    lapse = np.full(n_workers, 0.1)
    converged, it = False, 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        before = lapse
        e = lapse[game_worker]
        bt = _sigmoid(scores[winner] - scores[loser])
        keep = (1.0 - e) * bt / ((1.0 - e) * bt + e / 2.0)
        lapsed = np.bincount(game_worker, weights=games * (1.0 - keep), minlength=n_workers)
        crowd = lapsed.sum() / max(games.sum(), 1e-12)
        if n_workers > 1:
            lapse = (lapsed + lapse_prior * crowd) / (per_worker + lapse_prior)
        else:
            lapse = np.array([crowd])
        lapse = np.clip(lapse, 1e-4, 1.0 - 1e-4)
        if n <= MAX_NEWTON:
            new = _newton_step(scores, winner, loser, games * keep, prior_strength, n)
        else:
            new = _mm_step(scores, winner, loser, games * keep, prior_strength, n)
        change = float(np.max(np.abs(new - scores), initial=0.0))
        scores = new
        if change < tol and float(np.max(np.abs(lapse - before))) < LAPSE_TOL:
            converged = True
            break
    counts = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    stderr = _stderr(scores, a, b, weight, lapse[worker], prior_strength)
    scores = scores - scores.mean() if n else scores
    return Fit(ids=ids, scores=scores, stderr=stderr, counts=counts, workers=workers,
               lapse=lapse, n_iter=it, converged=converged)  # fmt: skip


def _encode(
    comparisons: Iterable[Sequence[Any]], per_worker_noise: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list, list]:
    ids: dict[Hashable, int] = {}
    workers: dict[Hashable, int] = {}
    a, b, outcome, weight, worker = [], [], [], [], []
    for i, row in enumerate(comparisons):
        if len(row) not in (4, 5):
            raise ValueError(f"comparison {i} must be (a_id, b_id, outcome, weight[, worker])")
        left, right, result, w = row[0], row[1], row[2], row[3]
        if left == right:
            raise ValueError(f"comparison {i} compares {left!r} with itself")
        value = OUTCOMES.get(result) if isinstance(result, str) else result
        if value not in (0.0, 0.5, 1.0) or isinstance(value, bool):
            raise ValueError(f"comparison {i}: outcome must be left/right/tie or 1/0/0.5")
        if not isinstance(w, int | float) or not np.isfinite(w) or w <= 0:
            raise ValueError(f"comparison {i}: weight must be a positive number")
        who = row[4] if len(row) == 5 and per_worker_noise else None
        a.append(ids.setdefault(left, len(ids)))
        b.append(ids.setdefault(right, len(ids)))
        outcome.append(float(value))
        weight.append(float(w))
        worker.append(workers.setdefault(who, len(workers)))
    return (np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(outcome),
            np.array(weight), np.array(worker, dtype=np.int64), list(ids),
            list(workers) or [None])  # fmt: skip


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -700.0, 700.0)))


def _newton_step(
    scores: np.ndarray,
    winner: np.ndarray,
    loser: np.ndarray,
    games: np.ndarray,
    prior: float,
    n: int,
) -> np.ndarray:
    """One Newton step on the weighted Bradley-Terry log-likelihood plus the prior's virtual
    games (concave, with a positive-definite curvature thanks to the prior), its length capped
    so an early step cannot overshoot wildly."""
    p = _sigmoid(scores[winner] - scores[loser])
    own = _sigmoid(scores)
    surprise = games * (1.0 - p)
    gradient = (np.bincount(winner, weights=surprise, minlength=n)
                - np.bincount(loser, weights=surprise, minlength=n)
                + prior / 2.0 * (1.0 - 2.0 * own))  # fmt: skip
    curvature = games * p * (1.0 - p)
    information = np.diag(np.bincount(winner, weights=curvature, minlength=n)
                          + np.bincount(loser, weights=curvature, minlength=n)
                          + prior * own * (1.0 - own))  # fmt: skip
    information -= _pair_matrix(winner, loser, curvature, n)
    step = np.linalg.solve(information, gradient)
    longest = float(np.max(np.abs(step), initial=0.0))
    if longest > 2.0:
        step *= 2.0 / longest
    return scores + step


def _pair_matrix(a: np.ndarray, b: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Symmetric (n, n) matrix with each value added at (a, b) and at (b, a)."""
    flat = np.bincount(a * n + b, weights=values, minlength=n * n).reshape(n, n)
    return flat + flat.T


def _mm_step(
    scores: np.ndarray,
    winner: np.ndarray,
    loser: np.ndarray,
    games: np.ndarray,
    prior: float,
    n: int,
) -> np.ndarray:
    """One minorise-maximise update of the strengths pi = exp(s) (Hunter 2004), the prior's
    virtual games against strength 1 included: pi_j = wins_j / sum(games_j / (pi_j + pi_opp))."""
    pi = np.exp(scores - scores.max()) if n else scores
    anchor = np.exp(-scores.max()) if n else 1.0
    wins = np.bincount(winner, weights=games, minlength=n) + prior / 2.0
    pair = games / (pi[winner] + pi[loser])
    denominator = (np.bincount(winner, weights=pair, minlength=n)
                   + np.bincount(loser, weights=pair, minlength=n)
                   + prior / (pi + anchor))  # fmt: skip
    new_pi = wins / denominator
    # Back to log-strengths relative to the virtual candidate (strength `anchor` here).
    return np.log(new_pi) - np.log(anchor)


def _stderr(
    scores: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    weight: np.ndarray,
    lapse: np.ndarray,
    prior: float,
) -> np.ndarray:
    """Standard errors of the centred scores (each minus the mean) from the Fisher information
    of the lapse model at the fit: a judgment of (a, b) tells (dP/dd)^2 / (P (1 - P)) about
    d = s_a - s_b, with P = e/2 + (1-e) sig(d). Centred, so the interval says where a candidate
    stands among the others, not how far the whole scale might shift."""
    n = scores.size
    if n == 0:
        return np.zeros(0)
    sig = _sigmoid(scores[a] - scores[b])
    p = lapse / 2.0 + (1.0 - lapse) * sig
    slope = (1.0 - lapse) * sig * (1.0 - sig)
    info = weight * slope**2 / np.maximum(p * (1.0 - p), 1e-12)
    own = _sigmoid(scores)
    diagonal = (np.bincount(a, weights=info, minlength=n)
                + np.bincount(b, weights=info, minlength=n)
                + prior * own * (1.0 - own))  # fmt: skip
    if n > MAX_DENSE:
        return 1.0 / np.sqrt(diagonal)
    matrix = np.diag(diagonal) - _pair_matrix(a, b, info, n)
    covariance = np.linalg.inv(matrix)
    centring = np.eye(n) - 1.0 / n
    centred = centring @ covariance @ centring
    return np.sqrt(np.clip(np.diag(centred), 0.0, None))

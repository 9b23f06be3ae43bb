"""Edit distance and ROVER-style word alignment (numpy).

`edit_distance` is Levenshtein's over any sequences of integers (characters as code points, or
words as vocabulary codes). Each row of the dynamic programme is computed in a handful of numpy
operations: the substitution and deletion candidates are elementwise, and the insertion chain
`row[j] = min(row[j], row[j-1] + 1)` is `minimum.accumulate(cand - j) + j`.

`rover` combines several word sequences as ROVER does (Fiscus, 1997): every hypothesis is aligned
to one backbone (the medoid: the hypothesis closest, by skill-weighted similarity, to all the
others), which turns them into a network of slots (each backbone word, and the gap before each
backbone word and at the end, where hypotheses insert words); each slot is then decided by a
skill-weighted vote (`voting.posterior`), an empty slot value meaning "no word here"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .voting import posterior, winner


def codes_of(text: str) -> np.ndarray:
    """A string as an array of its code points."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _row(prev: np.ndarray, x: int, b: np.ndarray, idx: np.ndarray) -> np.ndarray:
    cand = np.empty_like(prev)
    cand[0] = prev[0] + 1
    cand[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (b != x))
    return np.minimum.accumulate(cand - idx) + idx


def edit_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Levenshtein distance between two integer sequences (unit insert, delete, substitute)."""
    if len(a) < len(b):
        a, b = b, a
    if not len(b):
        return len(a)
    idx = np.arange(len(b) + 1, dtype=np.int64)
    row = idx.copy()
    for x in a.tolist():
        row = _row(row, x, b, idx)
    return int(row[-1])


def text_similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / length of the longer text, in [0, 1]; two empty texts are 1."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    return 1.0 - edit_distance(codes_of(a), codes_of(b)) / longest


def align(hyp: Sequence[int], ref: Sequence[int]) -> tuple[list[int | None], list[list[int]]]:
    """Align `hyp` to `ref` by minimum edit distance. Returns (per reference position, the hyp
    token aligned to it or None when deleted; per gap 0..len(ref), the hyp tokens inserted
    before reference position `gap`, in order). Ties prefer a match or substitution, then an
    insertion, then a deletion."""
    h = np.asarray(hyp, dtype=np.int64)
    r = np.asarray(ref, dtype=np.int64)
    idx = np.arange(len(r) + 1, dtype=np.int64)
    table = np.empty((len(h) + 1, len(r) + 1), dtype=np.int32)
    table[0] = idx
    for i, x in enumerate(h.tolist(), start=1):
        table[i] = _row(table[i - 1], x, r, idx)
    at: list[int | None] = [None] * len(r)
    gaps: list[list[int]] = [[] for _ in range(len(r) + 1)]
    i, j = len(h), len(r)
    while i > 0 or j > 0:
        if i > 0 and j > 0 and table[i, j] == table[i - 1, j - 1] + int(h[i - 1] != r[j - 1]):
            at[j - 1] = int(h[i - 1])
            i, j = i - 1, j - 1
        elif i > 0 and table[i, j] == table[i - 1, j] + 1:
            gaps[j].append(int(h[i - 1]))
            i -= 1
        else:
            j -= 1  # the reference token is deleted in the hypothesis
    for gap in gaps:
        gap.reverse()
    return at, gaps


@dataclass(frozen=True)
class Rover:
    """The combined sequence, its confidence (the product of the winning posteriors of the
    contested slots; 1.0 when no slot is contested) and the backbone's index."""

    tokens: list[int]
    confidence: float
    backbone: int


def rover(sequences: Sequence[Sequence[int]], skills: Sequence[float]) -> Rover:
    """Combine token sequences weighted by their workers' skills (at least one sequence)."""
    n = len(sequences)
    similarity = np.ones((n, n))
    for a in range(n):
        for b in range(a + 1, n):
            longest = max(len(sequences[a]), len(sequences[b]), 1)
            d = edit_distance(np.asarray(sequences[a]), np.asarray(sequences[b]))
            similarity[a, b] = similarity[b, a] = 1.0 - d / longest
    backbone = int(np.argmax(similarity @ np.asarray(skills, dtype=np.float64)))
    ref = list(sequences[backbone])
    # Slot 2k is the gap before reference word k (2 * len(ref) the end), slot 2k + 1 the word.
    slots: list[list[tuple[int, ...]]] = [[] for _ in range(2 * len(ref) + 1)]
    for seq in sequences:
        at, gaps = align(seq, ref)
        for k, gap in enumerate(gaps):
            slots[2 * k].append(tuple(gap))
        for k, token in enumerate(at):
            slots[2 * k + 1].append(() if token is None else (token,))
    out: list[int] = []
    confidence = 1.0
    for votes in slots:
        # The backbone's own value comes first, so it wins ties.
        classes = list(dict.fromkeys([votes[backbone], *votes]))
        post = posterior([classes.index(v) for v in votes], skills, len(classes))
        best = winner(post)
        if len(classes) > 1:
            confidence *= float(post[best])
        out.extend(classes[best])
    return Rover(out, confidence, backbone)

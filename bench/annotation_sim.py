"""Simulated scenes and crowds for bench/annotation.py: generated truth (boxes on an image,
polygons, entity spans in a text, candidates of known strength) and workers of mixed skill
answering in the platform's answer formats (DESIGN.md, "Annotation answers").

A crowd is 55% good workers, 30% mediocre and 15% spammers (`KIND_SHARES`; `--mix` in the
bench changes it); each item is answered by `per_item` distinct workers drawn uniformly. Every
worker has their own rates, drawn from their kind's ranges: jitter (a fraction of the object's
size per edge, or pixels per vertex), missed objects, extra objects, mislabels and boundary
slips; a spammer draws one big box (or polygon) or random spans, or clicks one side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GOOD, MEDIOCRE, SPAMMER = 0, 1, 2
KIND_NAMES = ("good", "mediocre", "spammer")
KIND_SHARES = (0.55, 0.30, 0.15)
BOX_LABELS = ("car", "person", "bicycle", "sign")
SPAN_LABELS = ("PER", "ORG", "LOC", "MISC")


@dataclass(frozen=True)
class Behaviour:
    jitter: float  # boxes: std of each edge as a fraction of the side; polygons: pixels
    miss: float  # probability to leave out a true object
    extra: float  # expected number of made-up objects per item
    mislabel: float  # probability to pick another label
    slip: float = 0.0  # spans: probability to move one boundary by a word


#: Per kind, the (low, high) range each worker's rate is drawn from: jitter, miss, extra,
#: mislabel, slip (the fields of Behaviour, in order).
Ranges = dict[int, tuple[tuple[float, float], ...]]
BOX_RANGES: Ranges = {
    GOOD: ((0.03, 0.07), (0.05, 0.15), (0.05, 0.3), (0.02, 0.08), (0, 0)),
    MEDIOCRE: ((0.08, 0.15), (0.2, 0.4), (0.3, 1.0), (0.1, 0.2), (0, 0)),
}
POLYGON_RANGES: Ranges = {
    GOOD: ((1.0, 2.0), (0.02, 0.08), (0.0, 0.1), (0, 0), (0, 0)),
    MEDIOCRE: ((3.0, 5.0), (0.15, 0.35), (0.1, 0.5), (0, 0), (0, 0)),
}
SPAN_RANGES: Ranges = {
    GOOD: ((0, 0), (0.05, 0.15), (0.05, 0.3), (0.02, 0.08), (0.05, 0.15)),
    MEDIOCRE: ((0, 0), (0.2, 0.4), (0.3, 1.0), (0.1, 0.2), (0.2, 0.4)),
}


def behaviours(kinds: np.ndarray, ranges: Ranges, rng) -> list[Behaviour | None]:
    """Each worker's own rates (None for a spammer)."""
    out: list[Behaviour | None] = []
    for kind in kinds:
        if kind == SPAMMER:
            out.append(None)
            continue
        out.append(Behaviour(*(float(rng.uniform(lo, hi)) for lo, hi in ranges[int(kind)])))
    return out


@dataclass
class Crowd:
    """Per item: the truth and the answers with the id of the worker who gave each."""

    truth: list
    answers: list[list]
    workers: list[list[int]]
    kinds: np.ndarray  # per worker: GOOD, MEDIOCRE or SPAMMER
    contexts: list  # per item: what the type's `context` needs (payload)


def worker_kinds(n_workers: int, rng: np.random.Generator, shares=KIND_SHARES) -> np.ndarray:
    return rng.choice(3, size=n_workers, p=shares)


def draw_workers(n_items: int, n_workers: int, per_item: int, rng) -> np.ndarray:
    """(n_items, per_item) distinct workers per item, uniformly."""
    keys = rng.random((n_items, n_workers))
    return np.argpartition(keys, per_item, axis=1)[:, :per_item]


# --- boxes --------------------------------------------------------------------------------


def box_scene(rng: np.random.Generator, width: int, height: int) -> list[dict]:
    """0-10 objects (Poisson mean 4) of 16-160 px, overlapping each other at most a little."""
    boxes: list[dict] = []
    for _ in range(min(int(rng.poisson(4)), 10)):
        for _attempt in range(20):
            w, h = rng.uniform(16, 160, 2)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            if all(_iou((x, y, w, h), (b["x"], b["y"], b["w"], b["h"])) < 0.2 for b in boxes):
                label = BOX_LABELS[int(rng.integers(len(BOX_LABELS)))]
                boxes.append({"label": label, "x": x, "y": y, "w": w, "h": h})
                break
    return boxes


def _iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _clip_box(x1, y1, x2, y2, width, height) -> tuple[float, float, float, float] | None:
    x1, x2 = sorted((min(max(x1, 0.0), width), min(max(x2, 0.0), width)))
    y1, y2 = sorted((min(max(y1, 0.0), height), min(max(y2, 0.0), height)))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return round(x1, 1), round(y1, 1), round(x2 - x1, 1), round(y2 - y1, 1)


def box_answer(truth, b: Behaviour | None, rng, width: int, height: int) -> dict:
    if b is None:  # a spammer
        w, h = rng.uniform(0.6, 1.0) * width, rng.uniform(0.6, 1.0) * height
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        label = BOX_LABELS[int(rng.integers(len(BOX_LABELS)))]
        return {"boxes": [{"label": label, "x": round(x, 1), "y": round(y, 1),
                           "w": round(w, 1), "h": round(h, 1)}]}  # fmt: skip
    out = []
    for box in truth:
        if rng.random() < b.miss:
            continue
        sx, sy = b.jitter * box["w"], b.jitter * box["h"]
        x1, y1 = box["x"] + rng.normal(0, sx), box["y"] + rng.normal(0, sy)
        x2, y2 = box["x"] + box["w"] + rng.normal(0, sx), box["y"] + box["h"] + rng.normal(0, sy)
        edges = (x1, y1, x2, y2)
        clipped = _clip_box(*edges, width, height)
        if clipped is None:
            continue
        label = box["label"]
        if rng.random() < b.mislabel:
            label = BOX_LABELS[int(rng.integers(len(BOX_LABELS)))]
        out.append(dict(zip(("label", "x", "y", "w", "h"), (label, *clipped), strict=True)))
    for _ in range(int(rng.poisson(b.extra))):
        w, h = rng.uniform(16, 120, 2)
        x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
        label = BOX_LABELS[int(rng.integers(len(BOX_LABELS)))]
        out.append({"label": label, "x": round(x, 1), "y": round(y, 1),
                    "w": round(w, 1), "h": round(h, 1)})  # fmt: skip
    rng.shuffle(out)
    return {"boxes": out}


def box_crowd(n_items: int, seed: int, per_item: int = 5, n_workers: int = 60,
              width: int = 640, height: int = 480, shares=KIND_SHARES) -> Crowd:  # fmt: skip
    rng = np.random.default_rng(seed)
    kinds = worker_kinds(n_workers, rng, shares)
    rates = behaviours(kinds, BOX_RANGES, rng)
    chosen = draw_workers(n_items, n_workers, per_item, rng)
    truth, answers = [], []
    for i in range(n_items):
        scene = box_scene(rng, width, height)
        truth.append({"boxes": scene})
        answers.append([box_answer(scene, rates[w], rng, width, height) for w in chosen[i]])
    payload = {"image": "scene.png", "image_width": width, "image_height": height}
    return Crowd(truth, answers, chosen.tolist(), kinds, [payload] * n_items)


# --- polygons -----------------------------------------------------------------------------


def blob(rng, cx: float, cy: float, radius: float) -> list[list[float]]:
    """A star-shaped polygon of 7-12 vertices around (cx, cy)."""
    k = int(rng.integers(7, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = radius * rng.uniform(0.6, 1.0, k)
    return np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)]).tolist()


def _inside(points, width, height) -> list[list[float]]:
    xy = np.clip(np.asarray(points), 0, [width, height])
    return np.round(xy, 1).tolist()


def polygon_answer(truth, b: Behaviour | None, rng, width: int, height: int) -> dict:
    if b is None:  # a spammer
        x0, y0 = rng.uniform(0, 0.2) * width, rng.uniform(0, 0.2) * height
        x1, y1 = rng.uniform(0.8, 1.0) * width, rng.uniform(0.8, 1.0) * height
        quad = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        return {"polygons": [{"label": "region", "points": _inside(quad, width, height)}]}
    out = []
    for poly in truth:
        if rng.random() < b.miss:
            continue
        pts = np.asarray(poly["points"]) + rng.normal(0, b.jitter, (len(poly["points"]), 2))
        out.append({"label": "region", "points": _inside(pts, width, height)})
    for _ in range(int(rng.poisson(b.extra))):
        r = rng.uniform(6, 18)
        pts = blob(rng, rng.uniform(r, width - r), rng.uniform(r, height - r), r)
        out.append({"label": "region", "points": _inside(pts, width, height)})
    return {"polygons": out}


def polygon_crowd(n_items: int, seed: int, per_item: int = 5, n_workers: int = 60,
                  width: int = 160, height: int = 120, shares=KIND_SHARES) -> Crowd:  # fmt: skip
    rng = np.random.default_rng(seed)
    kinds = worker_kinds(n_workers, rng, shares)
    rates = behaviours(kinds, POLYGON_RANGES, rng)
    chosen = draw_workers(n_items, n_workers, per_item, rng)
    truth, answers = [], []
    for i in range(n_items):
        scene = []
        for _ in range(int(rng.integers(1, 4))):
            r = rng.uniform(12, 35)
            points = blob(rng, rng.uniform(r, width - r), rng.uniform(r, height - r), r)
            scene.append({"label": "region", "points": _inside(points, width, height)})
        truth.append({"polygons": scene})
        answers.append([polygon_answer(scene, rates[w], rng, width, height) for w in chosen[i]])
    payload = {"image": "scene.png", "image_width": width, "image_height": height}
    return Crowd(truth, answers, chosen.tolist(), kinds, [payload] * n_items)


# --- spans --------------------------------------------------------------------------------


def span_text(rng) -> tuple[str, list[tuple[int, int]], list[dict]]:
    """A text of 25-60 words, its word offsets, and entities of 1-3 words (about one per 8)."""
    n = int(rng.integers(25, 61))
    words = ["".join(chr(97 + c) for c in rng.integers(0, 26, int(rng.integers(2, 9))))
             for _ in range(n)]  # fmt: skip
    offsets, pos = [], 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + 1
    spans, t = [], int(rng.integers(0, 6))
    while t < n:
        k = min(int(rng.integers(1, 4)), n - t)
        label = SPAN_LABELS[int(rng.integers(len(SPAN_LABELS)))]
        spans.append({"start": offsets[t][0], "end": offsets[t + k - 1][1], "label": label,
                      "words": (t, t + k)})  # fmt: skip
        t += k + 1 + int(rng.geometric(1 / 7))
    return " ".join(words), offsets, spans


def span_answer(offsets, truth, b: Behaviour | None, rng) -> dict:
    n = len(offsets)
    chosen: list[tuple[int, int, str]] = []  # word ranges
    if b is None:  # a spammer
        for _ in range(int(rng.integers(2, 7))):
            t = int(rng.integers(0, n))
            chosen.append((t, min(n, t + int(rng.integers(1, 4))),
                           SPAN_LABELS[int(rng.integers(len(SPAN_LABELS)))]))  # fmt: skip
    else:
        for span in truth:
            if rng.random() < b.miss:
                continue
            t0, t1 = span["words"]
            if rng.random() < b.slip:
                if rng.random() < 0.5:
                    t0 = min(max(t0 + int(rng.choice([-1, 1])), 0), t1 - 1)
                else:
                    t1 = max(min(t1 + int(rng.choice([-1, 1])), n), t0 + 1)
            label = span["label"]
            if rng.random() < b.mislabel:
                label = SPAN_LABELS[int(rng.integers(len(SPAN_LABELS)))]
            chosen.append((t0, t1, label))
        for _ in range(int(rng.poisson(b.extra))):
            t = int(rng.integers(0, n))
            chosen.append((t, min(n, t + int(rng.integers(1, 3))),
                           SPAN_LABELS[int(rng.integers(len(SPAN_LABELS)))]))  # fmt: skip
    # A worker's tool refuses overlaps: keep the first of overlapping word ranges.
    kept: list[tuple[int, int, str]] = []
    for t0, t1, label in chosen:
        if all(t1 <= k0 or t0 >= k1 for k0, k1, _ in kept):
            kept.append((t0, t1, label))
    return {"spans": [{"start": offsets[t0][0], "end": offsets[t1 - 1][1], "label": label}
                      for t0, t1, label in kept]}  # fmt: skip


def span_crowd(n_items: int, seed: int, per_item: int = 5, n_workers: int = 60,
               shares=KIND_SHARES) -> Crowd:  # fmt: skip
    rng = np.random.default_rng(seed)
    kinds = worker_kinds(n_workers, rng, shares)
    rates = behaviours(kinds, SPAN_RANGES, rng)
    chosen = draw_workers(n_items, n_workers, per_item, rng)
    truth, answers, payloads = [], [], []
    for i in range(n_items):
        text, offsets, spans = span_text(rng)
        truth.append({"spans": [{k: s[k] for k in ("start", "end", "label")} for s in spans]})
        answers.append([span_answer(offsets, spans, rates[w], rng) for w in chosen[i]])
        payloads.append({"text": text})
    return Crowd(truth, answers, chosen.tolist(), kinds, payloads)


# --- pairs --------------------------------------------------------------------------------


@dataclass
class PairCrowd:
    strengths: np.ndarray  # true log-strength per candidate
    left: np.ndarray
    right: np.ndarray
    worker: np.ndarray
    left_won: np.ndarray  # bool per judgment
    kinds: np.ndarray


def pair_crowd(n_candidates: int, n_pairs: int, seed: int, per_pair: int = 3,
               n_workers: int = 60, shares=KIND_SHARES) -> PairCrowd:  # fmt: skip
    """Random pairs of candidates (true strengths N(0, 1)), each judged by `per_pair` workers:
    good workers follow Bradley-Terry on the true strengths with a 5% lapse, mediocre ones on
    halved strengths with a 25% lapse; spammers pick a side at random or always the left one."""
    rng = np.random.default_rng(seed)
    strengths = rng.normal(0.0, 1.0, n_candidates)
    kinds = worker_kinds(n_workers, rng, shares)
    always_left = rng.random(n_workers) < 0.5
    a = rng.integers(0, n_candidates, n_pairs)
    b = (a + rng.integers(1, n_candidates, n_pairs)) % n_candidates
    chosen = draw_workers(n_pairs, n_workers, per_pair, rng)
    left, right = np.repeat(a, per_pair), np.repeat(b, per_pair)
    worker = chosen.ravel()
    kind = kinds[worker]
    scale = np.where(kind == GOOD, 1.0, 0.5)
    lapse = np.where(kind == GOOD, 0.05, 0.25)
    p_left = 1.0 / (1.0 + np.exp(-scale * (strengths[left] - strengths[right])))
    p_left = lapse / 2 + (1 - lapse) * p_left
    spam = kind == SPAMMER
    p_left = np.where(spam, np.where(always_left[worker], 1.0, 0.5), p_left)
    left_won = rng.random(worker.size) < p_left
    return PairCrowd(strengths, left, right, worker, left_won, kinds)


def kendall_tau(scores: np.ndarray, truth: np.ndarray) -> float:
    """Kendall's tau-a between two score vectors over the same candidates."""
    s, t = np.asarray(scores, dtype=float), np.asarray(truth, dtype=float)
    i, j = np.triu_indices(s.size, k=1)
    agree = np.sign(s[i] - s[j]) * np.sign(t[i] - t[j])
    return float(agree.sum() / i.size)

"""From a voted pixel mask back to shapes: connected parts, their outlines as polygons, and
COCO run-length encoding.

Pixels follow geometry.py's convention (pixel (i, j) is [j, j+1) x [i, i+1)), so outlines run
along pixel edges and have integer vertices; a part's outline rasterised again gives the part
back (holes aside: COCO polygons cannot carry holes, the part's RLE does). Parts are 4-connected:
two pixels touching only at a corner belong to different parts, and the outline tracing turns
the same way at such a corner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: Outline simplification tolerance in pixels: collapses the one-pixel staircases of slanted
#: edges into straight segments while keeping every real corner.
SIMPLIFY_TOLERANCE = 1.0


def connected_parts(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected parts of a boolean mask: (labels, n) with labels 1..n, 0 for background.

    Union-find over horizontal runs of each row, so the Python loop is over runs, not pixels."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    labels = np.zeros(mask.shape, dtype=np.int32)
    if not mask.any():
        return labels, 0
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    step = np.diff(padded, axis=1)
    rows, starts = np.nonzero(step == 1)
    _, ends = np.nonzero(step == -1)  # same row-major order as the starts
    n_runs = rows.size
    parent = list(range(n_runs))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    row_first = np.searchsorted(rows, np.arange(height + 1))
    for r in range(1, height):
        above = range(row_first[r - 1], row_first[r])
        here = range(row_first[r], row_first[r + 1])
        if not above or not here:
            continue
        a = above.start
        for b in here:
            # Runs [s, e) overlap in columns (4-connectivity: a shared column, not a corner).
            while a < above.stop and ends[a] <= starts[b]:
                a += 1
            k = a
            while k < above.stop and starts[k] < ends[b]:
                ra, rb = find(k), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
                k += 1
    roots = np.array([find(i) for i in range(n_runs)])
    _, part = np.unique(roots, return_inverse=True)
    for i in range(n_runs):
        labels[rows[i], starts[i] : ends[i]] = part[i] + 1
    return labels, int(part.max()) + 1


_DIRECTIONS = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])  # east, south, west, north (y down)


def outline_loops(mask: np.ndarray) -> list[np.ndarray]:
    """Every closed outline of a mask's parts, as (k, 2) integer vertex arrays (x, y) with only
    the corners kept. Outer outlines run clockwise on screen (positive `polygon_area`), hole
    outlines counter-clockwise (negative)."""
    mask = np.asarray(mask, dtype=bool)
    height, width = mask.shape
    padded = np.zeros((height + 2, width + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    inside = padded[1:-1, 1:-1]
    # Each edge keeps the pixel on its right when walked: top edges go east, right edges
    # south, bottom edges west, left edges north.
    sides = (
        (inside & ~padded[:-2, 1:-1], (0, 0), 0),
        (inside & ~padded[1:-1, 2:], (1, 0), 1),
        (inside & ~padded[2:, 1:-1], (1, 1), 2),
        (inside & ~padded[1:-1, :-2], (0, 1), 3),
    )
    starts_x, starts_y, directions = [], [], []
    for present, (dx, dy), direction in sides:
        ys, xs = np.nonzero(present)
        starts_x.append(xs + dx)
        starts_y.append(ys + dy)
        directions.append(np.full(xs.size, direction))
    sx, sy = np.concatenate(starts_x), np.concatenate(starts_y)
    dirs = np.concatenate(directions)
    if sx.size == 0:
        return []
    stride = width + 1
    start_key = sy * stride + sx
    end_key = (sy + _DIRECTIONS[dirs, 1]) * stride + (sx + _DIRECTIONS[dirs, 0])
    outgoing: dict[int, list[int]] = {}
    for edge, key in enumerate(start_key.tolist()):
        outgoing.setdefault(key, []).append(edge)
    used = np.zeros(sx.size, dtype=bool)
    loops = []
    for first in range(sx.size):
        if used[first]:
            continue
        vertices = []
        edge = first
        while not used[edge]:
            used[edge] = True
            vertices.append(edge)
            options = outgoing[int(end_key[edge])]
            if len(options) > 1:
                # Two parts (or a part and itself) meet at a corner: turn right, keeping to
                # the pixel on the right, so corner-touching pixels stay apart.
                right = (dirs[edge] + 1) % 4
                options = [e for e in options if dirs[e] == right]
            edge = options[0]
        chain = np.array(vertices)
        turns = dirs[chain] != dirs[np.roll(chain, 1)]
        corners = chain[turns]
        loops.append(np.stack([sx[corners], sy[corners]], axis=1))
    return loops


def simplify_ring(points: np.ndarray, tolerance: float = SIMPLIFY_TOLERANCE) -> np.ndarray:
    """Douglas-Peucker on a closed ring: split at the vertex farthest from the first one and
    simplify both halves, so the result keeps at least three vertices."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) <= 4 or tolerance <= 0:
        return pts
    far = int(np.argmax(np.hypot(*(pts - pts[0]).T)))
    first = _douglas_peucker(pts[: far + 1], tolerance)
    second = _douglas_peucker(np.vstack([pts[far:], pts[:1]]), tolerance)
    ring = np.vstack([first[:-1], second[:-1]])
    return ring if len(ring) >= 3 else pts


def _douglas_peucker(pts: np.ndarray, tolerance: float) -> np.ndarray:
    keep = np.zeros(len(pts), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        lo, hi = stack.pop()
        if hi - lo < 2:
            continue
        a, b = pts[lo], pts[hi]
        seg = b - a
        length = np.hypot(*seg)
        rel = pts[lo + 1 : hi] - a
        if length == 0:
            dist = np.hypot(rel[:, 0], rel[:, 1])
        else:
            dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / length
        k = int(np.argmax(dist))
        if dist[k] > tolerance:
            keep[lo + 1 + k] = True
            stack += [(lo, lo + 1 + k), (lo + 1 + k, hi)]
    return pts[keep]


# --- COCO run-length encoding ---------------------------------------------------------------


def rle_encode(
    mask: np.ndarray,
    offset: tuple[int, int] = (0, 0),
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """COCO RLE ({"size": [height, width], "counts": str}, pycocotools' compressed form) of a
    mask placed at `offset` (x0, y0) in an image of `size` (height, width; the mask's own when
    None). Runs go down the columns (Fortran order) and start with a run of zeros."""
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    x0, y0 = offset
    height, width = size if size is not None else (h, w)
    if x0 < 0 or y0 < 0 or x0 + w > width or y0 + h > height:
        raise ValueError("the mask does not fit in the image at that offset")
    block = np.zeros((height, w), dtype=bool)
    block[y0 : y0 + h, :] = mask
    flat = block.ravel(order="F")
    counts: list[int] = []
    if flat.size:
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
        if flat[0]:
            counts.insert(0, 0)
    if not counts:
        counts = [0]
    counts[0] += x0 * height
    tail = (width - x0 - w) * height
    if len(counts) % 2 == 1:
        counts[-1] += tail
    elif tail:
        counts.append(tail)
    return {"size": [height, width], "counts": _counts_to_string(counts)}


def rle_decode(rle: dict[str, Any]) -> np.ndarray:
    """The (height, width) boolean mask of a COCO RLE (compressed string or list counts)."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        counts = _counts_from_string(counts if isinstance(counts, str) else counts.decode())
    values = np.zeros(len(counts), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, np.asarray(counts, dtype=np.int64))
    if flat.size != height * width:
        raise ValueError(f"RLE counts cover {flat.size} pixels, not {height} x {width}")
    return flat.reshape((height, width), order="F")


def rle_area(rle: dict[str, Any]) -> int:
    counts = rle["counts"]
    if isinstance(counts, str | bytes):
        counts = _counts_from_string(counts if isinstance(counts, str) else counts.decode())
    return int(sum(counts[1::2]))


def _counts_to_string(counts: Sequence[int]) -> str:
    """pycocotools' rleToString: each count as a difference to the count two back (from the
    third on), in 5-bit groups with a continuation bit, offset into printable ASCII."""
    out = []
    for i, count in enumerate(counts):
        x = int(count) - (int(counts[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def _counts_from_string(text: str) -> list[int]:
    counts: list[int] = []
    p = 0
    while p < len(text):
        x, k, more = 0, 0, True
        while more:
            c = ord(text[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts

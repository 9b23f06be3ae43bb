"""Geometry shared by boxes and polygons: box IoU, rasterising polygons, mask IoU.

Pixel convention, everywhere: pixel (row i, column j) is the unit square [j, j+1) x [i, i+1)
of image coordinates (origin top-left), and a polygon covers a pixel when it covers the
pixel's centre (j + 0.5, i + 0.5). So the box x=0..10, y=0..10 covers exactly 10 x 10 pixels,
and tracing the outline of those pixels (masks.py) gives the box back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Point = Sequence[float]


def boxes_xyxy(boxes: Sequence[dict]) -> np.ndarray:
    """(n, 4) array of x1, y1, x2, y2 from answer boxes ({"x", "y", "w", "h"})."""
    if not boxes:
        return np.zeros((0, 4))
    xywh = np.array([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], dtype=np.float64)
    xywh[:, 2:] += xywh[:, :2]
    return xywh


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (n, m) of boxes given as x1, y1, x2, y2 rows; 0 where a union is empty."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 2], b[None, :, 2])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def polygon_area(points: Sequence[Point]) -> float:
    """Signed area (shoelace); positive when the points run clockwise on screen (y down)."""
    xy = np.asarray(points, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def polygon_bounds(points: Sequence[Point]) -> tuple[float, float, float, float]:
    xy = np.asarray(points, dtype=np.float64)
    return (float(xy[:, 0].min()), float(xy[:, 1].min()),
            float(xy[:, 0].max()), float(xy[:, 1].max()))  # fmt: skip


class Canvas:
    """A pixel window [x0, x0 + width) x [y0, y0 + height) of an image, where polygons are
    rasterised. Working in a window (the polygons' union box, clipped to the image) keeps the
    cost proportional to what was drawn, not to the image."""

    def __init__(self, x0: int, y0: int, width: int, height: int) -> None:
        self.x0, self.y0 = x0, y0
        self.width, self.height = max(width, 0), max(height, 0)

    @classmethod
    def around(
        cls, polygons: Sequence[Sequence[Point]], image_size: tuple[int, int] | None
    ) -> Canvas:
        """The pixels any of `polygons` can touch, clipped to the image when its size is known."""
        if not polygons:
            return cls(0, 0, 0, 0)
        bounds = np.array([polygon_bounds(p) for p in polygons])
        x0, y0 = math.floor(bounds[:, 0].min()), math.floor(bounds[:, 1].min())
        x1, y1 = math.ceil(bounds[:, 2].max()), math.ceil(bounds[:, 3].max())
        x0, y0 = max(x0, 0), max(y0, 0)
        if image_size is not None:
            x1, y1 = min(x1, image_size[0]), min(y1, image_size[1])
        return cls(x0, y0, x1 - x0, y1 - y0)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def rasterise(self, polygons: Sequence[Sequence[Point]]) -> np.ndarray:
        """Boolean mask (height, width) of the pixels whose centre lies inside any of
        `polygons` (even-odd rule within one polygon, union across them).

        A scanline fill in numpy rather than Pillow's ImageDraw: Pillow fills both end pixels of
        every span (a 10-pixel box covers 11), so a traced outline would never give the drawn
        shape back and IoUs would carry a one-pixel bias; this rule is exact and vectorised."""
        height, width = self.shape
        mask = np.zeros(self.shape, dtype=bool)
        if width == 0 or height == 0:
            return mask
        spans = np.zeros((height, width + 1), dtype=np.int32)
        for points in polygons:
            p = np.asarray(points, dtype=np.float64) - (self.x0, self.y0)
            q = np.roll(p, -1, axis=0)
            low, high = np.minimum(p[:, 1], q[:, 1]), np.maximum(p[:, 1], q[:, 1])
            # Edge e crosses the centres y = i + 0.5 of rows i in [first, stop): half-open, so
            # a vertex counts once and every row crosses an even number of edges.
            first = np.clip(np.ceil(low - 0.5), 0, height).astype(np.int64)
            stop = np.clip(np.ceil(high - 0.5), 0, height).astype(np.int64)
            count = stop - first
            if not count.any():
                continue
            edge = np.repeat(np.arange(len(p)), count)
            offset = np.arange(edge.size) - np.repeat(np.cumsum(count) - count, count)
            row = first[edge] + offset
            t = (row + 0.5 - p[edge, 1]) / (q[edge, 1] - p[edge, 1])
            x = p[edge, 0] + t * (q[edge, 0] - p[edge, 0])
            order = np.lexsort((x, row))
            row, x = row[order], x[order]
            start = np.clip(np.ceil(x[0::2] - 0.5), 0, width).astype(np.int64)
            end = np.clip(np.ceil(x[1::2] - 0.5), 0, width).astype(np.int64)
            filled = end > start
            np.add.at(spans, (row[0::2][filled], start[filled]), 1)
            np.add.at(spans, (row[0::2][filled], end[filled]), -1)
            mask |= np.cumsum(spans, axis=1)[:, :width] > 0
            spans[:] = 0
        return mask


def polygon_iou(a: Sequence[Point], b: Sequence[Point]) -> float:
    """IoU of two polygons' rasterised masks (pixel-centre rule)."""
    canvas = Canvas.around([a, b], None)
    mask_a, mask_b = canvas.rasterise([a]), canvas.rasterise([b])
    union = np.count_nonzero(mask_a | mask_b)
    return np.count_nonzero(mask_a & mask_b) / union if union else 0.0


def polygon_iou_matrix(a: Sequence[Sequence[Point]], b: Sequence[Sequence[Point]]) -> np.ndarray:
    """IoU of every polygon of `a` with every polygon of `b` (only pairs whose bounding boxes
    meet are rasterised)."""
    out = np.zeros((len(a), len(b)))
    if not a or not b:
        return out
    bounds_a = np.array([polygon_bounds(p) for p in a])
    bounds_b = np.array([polygon_bounds(p) for p in b])
    meet = box_iou(bounds_a, bounds_b) > 0
    for i, j in zip(*np.nonzero(meet), strict=True):
        out[i, j] = polygon_iou(a[i], b[j])
    return out

"""`polygon` (segmentation): outline regions of an image with labelled polygons.

question: {"type": "polygon", "image_field": "image", "labels": [...],
           "allow_empty": true, "iou_threshold": 0.5, "gold_threshold": 0.8}
  answer: {"polygons": [{"label": "lane", "points": [[x, y], [x, y], [x, y], ...]}]}

A polygon has a known label and 3 to MAX_POINTS finite points (a repeated closing point is
dropped) inside the image when its size is known, and encloses some area.

Gold: F1 at `iou_threshold` like boxes, the IoU of two polygons being that of their rasterised
masks (`geometry`: a polygon covers the pixels whose centre it covers).

Aggregation (`pixel_vote`): per label, each worker's polygons are rasterised
(`geometry.Canvas`) into one mask on the image (only over the window the polygons touch); a
pixel is the label's when the skill-weighted support of the workers who covered it passes half
the total weight. Each 4-connected part of the voted mask becomes a polygon (its outline traced
along pixel edges and simplified, `masks`) with its exact mask as COCO RLE (`rle`: {"size":
[height, width], "counts"}, holes included; the size is the image's, or the drawn window's far
corner when the image size is unknown), its `area` in pixels, and a `confidence`: the mean
posterior of its pixels; parts under MIN_PART_PIXELS pixels are dropped. The item's confidence
is the mean posterior of the decisions on every pixel any worker covered (for an item nobody
marked: the posterior that there is nothing). A judgment's agreement is the pixel IoU of its
masks with the aggregate's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import Aggregate, ItemContext
from .errors import InvalidAnswer, InvalidQuestion
from .fields import field_name, flag, gold_threshold_passes, image_size
from .geometry import Canvas, polygon_area, polygon_iou_matrix
from .masks import connected_parts, outline_loops, rle_encode, simplify_ring
from .matching import f1_at_iou
from .shape_fields import (
    DEFAULT_GOLD_THRESHOLD,
    MAX_COORDINATE,
    answer_list,
    entry_object,
    fraction,
    is_number,
    known_label,
    label_values,
    labels_parse,
    plain_number,
    skills_check,
)
from .shape_votes import binary_weights, decision_confidence, posterior_yes

NAME = "polygon"
METHOD = "pixel_vote"
MAX_POLYGONS = 200
MAX_POINTS = 2000
#: Voted parts smaller than this many pixels are dropped.
MIN_PART_PIXELS = 4


class PolygonType:
    name = NAME

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise InvalidQuestion("question must be an object with a type.")
        return {
            "type": NAME,
            "image_field": field_name(raw, "image_field", "image"),
            "labels": labels_parse(raw),
            "allow_empty": flag(raw, "allow_empty", True),
            "iou_threshold": fraction(raw, "iou_threshold", 0.5),
            "gold_threshold": fraction(raw, "gold_threshold", DEFAULT_GOLD_THRESHOLD),
        }

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        return ItemContext(payload=payload, image_size=image_size(payload, question["image_field"]))

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        polygons = answer_list(raw, "polygons", MAX_POLYGONS)
        if not polygons and not question["allow_empty"]:
            raise InvalidAnswer(
                "polygons: draw at least one polygon (this question has no empty answer)."
            )
        allowed = label_values(question)
        width, height = context.image_size or (MAX_COORDINATE, MAX_COORDINATE)
        outside = f"the {width}x{height} image" if context.image_size else "the largest canvas"
        out = []
        for i, entry in enumerate(polygons):
            where = f"polygons[{i}]"
            entry = entry_object(entry, where)
            label = known_label(entry.get("label"), where, allowed)
            points = entry.get("points")
            if not isinstance(points, list) or len(points) > MAX_POINTS + 1:
                raise InvalidAnswer(f"{where}.points must be a list of at most {MAX_POINTS} "
                                    "[x, y] points.")  # fmt: skip
            clean = []
            for k, point in enumerate(points):
                if (not isinstance(point, list | tuple) or len(point) != 2
                        or not all(is_number(c) for c in point)):  # fmt: skip
                    raise InvalidAnswer(f"{where}.points[{k}] must be [x, y] with finite numbers.")
                x, y = float(point[0]), float(point[1])
                if not (0 <= x <= width and 0 <= y <= height):
                    raise InvalidAnswer(
                        f"{where}.points[{k}] ({x:g}, {y:g}) lies outside {outside}."
                    )
                clean.append([plain_number(x), plain_number(y)])
            if len(clean) > 1 and clean[0] == clean[-1]:
                clean.pop()
            if len(clean) < 3:
                raise InvalidAnswer(f"{where} needs at least 3 distinct points.")
            if abs(polygon_area(clean)) <= 0:
                raise InvalidAnswer(f"{where} encloses no area (its points are on one line).")
            out.append({"label": label, "points": clean})
        return {"polygons": out}

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        mine, truth = answer["polygons"], gold["polygons"]
        iou = polygon_iou_matrix([p["points"] for p in mine], [p["points"] for p in truth])
        return f1_at_iou(iou, [p["label"] for p in mine], [p["label"] for p in truth],
                         question["iou_threshold"])  # fmt: skip

    def gold_passes(self, question: Mapping[str, Any], score: float) -> bool:
        return gold_threshold_passes(question, score)

    def aggregate(
        self,
        question: Mapping[str, Any],
        answers: Sequence[Any],
        weights: Sequence[float],
        context: ItemContext,
    ) -> Aggregate:
        skills = np.array(skills_check(answers, weights))
        if not answers:
            return Aggregate(label={"polygons": []}, confidence=0.0, method=METHOD)
        weight = binary_weights(skills)
        total = float(weight.sum())
        every = [p["points"] for a in answers for p in a["polygons"]]
        canvas = Canvas.around(every, context.image_size)
        if context.image_size is not None:
            full = (context.image_size[1], context.image_size[0])
        else:
            full = (canvas.y0 + canvas.height, canvas.x0 + canvas.width)
        kept: list[dict[str, Any]] = []
        certainty_sum, contested = 0.0, 0
        overlap, union = np.zeros(len(answers)), np.zeros(len(answers))
        for label in label_values(question):
            drawn = {w: [p["points"] for p in a["polygons"] if p["label"] == label]
                     for w, a in enumerate(answers)}  # fmt: skip
            drawn = {w: shapes for w, shapes in drawn.items() if shapes}
            votes = np.zeros(canvas.shape, dtype=np.float32)
            for w, shapes in drawn.items():
                votes += np.float32(weight[w]) * canvas.rasterise(shapes)
            covered = votes > 0
            if not covered.any():
                continue
            certainty_sum += float(decision_confidence(votes[covered], total).sum())
            contested += int(covered.sum())
            parts, voted = _parts(label, 2.0 * votes > total, votes, total, canvas, full)
            kept += parts
            area = int(voted.sum())
            for w in range(len(answers)):
                if w in drawn:  # rasterised again rather than kept: one mask at a time in memory
                    mask = canvas.rasterise(drawn[w])
                    overlap[w] += np.count_nonzero(mask & voted)
                    union[w] += np.count_nonzero(mask | voted)
                else:
                    union[w] += area
        if contested:
            confidence = certainty_sum / contested
        else:
            confidence = float(1.0 - posterior_yes(0.0, total))
        kept.sort(key=lambda p: (p["points"][0][1], p["points"][0][0]))
        # Agreement: pixel IoU (over all labels) of each answer with the aggregate, a graded
        # measure that tells a careful outline from a sloppy one, not only a hit from a miss.
        agreement = np.divide(overlap, union, out=np.ones(len(answers)), where=union > 0)
        return Aggregate(label={"polygons": kept}, confidence=confidence, method=METHOD,
                         agreement=tuple(agreement.tolist()))  # fmt: skip


def _parts(
    label: str,
    on: np.ndarray,
    votes: np.ndarray,
    total: float,
    canvas: Canvas,
    full: tuple[int, int],
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """One polygon per 4-connected part of a label's voted mask (parts under MIN_PART_PIXELS
    are dropped: specks where jittered outlines happen to agree), and the mask they cover."""
    parts, n = connected_parts(on)
    rows, cols = np.nonzero(parts)
    which = parts[rows, cols]
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(1, n + 2))
    out = []
    voted = np.zeros(on.shape, dtype=bool)
    for k in range(1, n + 1):
        pixels = order[bounds[k - 1] : bounds[k]]
        if pixels.size < MIN_PART_PIXELS:
            continue
        r0, r1 = int(rows[pixels].min()), int(rows[pixels].max()) + 1
        c0, c1 = int(cols[pixels].min()), int(cols[pixels].max()) + 1
        mask = parts[r0:r1, c0:c1] == k
        voted[r0:r1, c0:c1] |= mask
        loops = outline_loops(mask)
        outer = max(loops, key=lambda loop: polygon_area(loop.tolist()))
        ring = simplify_ring(outer) + np.array([canvas.x0 + c0, canvas.y0 + r0])
        points = [[plain_number(x), plain_number(y)] for x, y in ring.tolist()]
        confidence = float(posterior_yes(votes[r0:r1, c0:c1][mask], total).mean())
        rle = rle_encode(mask, offset=(canvas.x0 + c0, canvas.y0 + r0), size=full)
        out.append({"label": label, "points": points, "confidence": round(confidence, 4),
                    "area": int(pixels.size), "rle": rle})  # fmt: skip
    return out, voted


TYPE = PolygonType()

"""`bounding_box`: draw labelled boxes on an image (or say there is nothing to mark).

question: {"type": "bounding_box", "image_field": "image",
           "labels": [{"value": "car", "label": "Car"}, ...],   # optional "hotkey", "color"
           "min_size": 1, "allow_empty": true, "iou_threshold": 0.5, "gold_threshold": 0.8}
  answer: {"boxes": [{"label": "car", "x": 10, "y": 20, "w": 30, "h": 40}]}   # [] = nothing

Coordinates are the image's own pixels, origin top-left. A box must have known label, finite
numbers, width and height of at least `min_size` (and above 0), start at x, y >= 0 and end
inside the image when its size is known (`fields.image_size`), at most MAX_BOXES of them.

Gold: F1 of the answer's boxes against gold's, a true positive being a pair matched one to one
(`matching.max_matching`) with the same label and IoU >= `iou_threshold`; it passes at
`gold_threshold`.

Aggregation (`box_vote`): every worker's boxes are clustered across workers by IoU
(`matching.cluster_across_workers`: at most one box per worker in a cluster); a cluster is kept
when the skill-weighted support of the workers who drew it passes half the total weight of the
workers who answered (those who drew nothing there voted against it), so a spammer's one big box
is dropped; a kept box sits at the weighted median of its members' edges and takes the weighted
vote of their labels. Its `confidence` is P(box exists) x P(label) under the one-coin model
(`shape_votes`); the item's confidence is its least sure decision, kept box or dropped
candidate (for an item nobody marked: the posterior that there is nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .base import Aggregate, ItemContext
from .errors import InvalidAnswer, InvalidQuestion
from .fields import field_name, flag, gold_threshold_passes, image_size
from .geometry import box_iou, boxes_xyxy
from .matching import cluster_across_workers, f1_at_iou
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
from .shape_votes import binary_weights, label_vote, posterior_yes, weighted_medians

NAME = "bounding_box"
METHOD = "box_vote"
MAX_BOXES = 500
#: Rounding slack for the image edge (a tool's float arithmetic), in pixels.
EDGE_SLACK = 1e-6


class BoundingBox:
    name = NAME

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            raise InvalidQuestion("question must be an object with a type.")
        min_size = raw.get("min_size", 1)
        if not is_number(min_size) or not 0 <= min_size <= MAX_COORDINATE:
            raise InvalidQuestion(f"question.min_size must be a number from 0 to {MAX_COORDINATE}.")
        return {
            "type": NAME,
            "image_field": field_name(raw, "image_field", "image"),
            "labels": labels_parse(raw),
            "min_size": plain_number(min_size),
            "allow_empty": flag(raw, "allow_empty", True),
            "iou_threshold": fraction(raw, "iou_threshold", 0.5),
            "gold_threshold": fraction(raw, "gold_threshold", DEFAULT_GOLD_THRESHOLD),
        }

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        return ItemContext(payload=payload, image_size=image_size(payload, question["image_field"]))

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        boxes = answer_list(raw, "boxes", MAX_BOXES)
        if not boxes and not question["allow_empty"]:
            raise InvalidAnswer("boxes: draw at least one box (this question has no empty answer).")
        allowed = label_values(question)
        min_size = question["min_size"]
        out = []
        for i, entry in enumerate(boxes):
            where = f"boxes[{i}]"
            entry = entry_object(entry, where)
            label = known_label(entry.get("label"), where, allowed)
            numbers: dict[str, float] = {}
            for key in ("x", "y", "w", "h"):
                value = entry.get(key)
                if not is_number(value):
                    raise InvalidAnswer(f"{where}.{key} must be a finite number.")
                numbers[key] = float(value)  # type: ignore[arg-type]
            x, y, w, h = numbers["x"], numbers["y"], numbers["w"], numbers["h"]
            if w <= 0 or h <= 0 or w < min_size or h < min_size:
                raise InvalidAnswer(
                    f"{where} is {w:g}x{h:g} pixels: width and height must be at least "
                    f"{max(min_size, 0):g} (and above 0)."
                )
            if x < 0 or y < 0:
                raise InvalidAnswer(f"{where} starts outside the image (x and y must be >= 0).")
            width, height = context.image_size or (MAX_COORDINATE, MAX_COORDINATE)
            if x + w > width + EDGE_SLACK or y + h > height + EDGE_SLACK:
                what = f"the {width}x{height} image" if context.image_size else "the largest canvas"
                raise InvalidAnswer(f"{where} lies outside {what} (it ends at {x + w:g}, "
                                    f"{y + h:g}).")  # fmt: skip
            out.append({"label": label, "x": plain_number(x), "y": plain_number(y),
                        "w": plain_number(w), "h": plain_number(h)})  # fmt: skip
        return {"boxes": out}

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        mine, truth = answer["boxes"], gold["boxes"]
        iou = box_iou(boxes_xyxy(mine), boxes_xyxy(truth))
        return f1_at_iou(iou, [b["label"] for b in mine], [b["label"] for b in truth],
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
            return Aggregate(label={"boxes": []}, confidence=0.0, method=METHOD)
        owners = np.array([w for w, a in enumerate(answers) for _ in a["boxes"]], dtype=np.int64)
        drawn = [box for answer in answers for box in answer["boxes"]]
        xyxy = boxes_xyxy(drawn)
        threshold = question["iou_threshold"]
        clusters = cluster_across_workers(box_iou(xyxy, xyxy), owners.tolist(), threshold)
        weight = binary_weights(skills)
        total = float(weight.sum())
        order = label_values(question)
        kept, decisions = [], []
        for members in clusters:
            voters = owners[members]
            support = float(weight[voters].sum())
            p_exists = float(posterior_yes(support, total))
            if 2.0 * support <= total:
                decisions.append(1.0 - p_exists)
                continue
            label, p_label = label_vote([drawn[m]["label"] for m in members], skills[voters],
                                        order)  # fmt: skip
            edges = weighted_medians(xyxy[members], weight[voters]).tolist()
            kept.append(_box(label, edges, p_exists * p_label, context.image_size))
            decisions.append(p_exists * p_label)
        # Nobody drew anything: how sure the workers are that there is nothing.
        nothing = float(1.0 - posterior_yes(0.0, total))
        confidence = min(decisions) if decisions else nothing
        kept.sort(key=lambda b: (b["y"], b["x"], order.index(b["label"])))
        labels = [b["label"] for b in kept]
        target = boxes_xyxy(kept)
        agreement = []
        for answer in answers:
            mine = answer["boxes"]
            iou = box_iou(boxes_xyxy(mine), target)
            agreement.append(f1_at_iou(iou, [b["label"] for b in mine], labels, threshold))
        return Aggregate(label={"boxes": kept}, confidence=confidence, method=METHOD,
                         agreement=tuple(agreement))  # fmt: skip


def _box(
    label: str, edges: list[float], confidence: float, size: tuple[int, int] | None
) -> dict[str, Any]:
    x1, y1, x2, y2 = edges
    if size is not None:
        x2, y2 = min(x2, size[0]), min(y2, size[1])
    x1, y1 = round(max(x1, 0.0), 2), round(max(y1, 0.0), 2)
    return {"label": label, "x": plain_number(x1), "y": plain_number(y1),
            "w": plain_number(round(x2 - x1, 2)), "h": plain_number(round(y2 - y1, 2)),
            "confidence": round(confidence, 4)}  # fmt: skip


TYPE = BoundingBox()

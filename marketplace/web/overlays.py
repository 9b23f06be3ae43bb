"""What the review page draws for annotation answers: each worker's boxes or polygons over the
image (the reviewed worker's solid, the other workers' dotted) and the aggregate (dashed, with
its confidence) when the quality engine has one; for text spans, the text with each version's
spans highlighted. Server-rendered SVG and markup: no script needed to see it, nothing a
requester uploaded is rendered as markup, and the same label colours as the worker's tool."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tasks import selectors
from tasks.models import Assignment, AssignmentStatus, Bundle, ItemResult

from . import annotation

#: Judgments of one item drawn at most (the reviewed one always among them).
MAX_LAYERS = 12


def review_overlays(bundle: Bundle, assignments: list[Assignment]) -> dict[int, dict[str, Any]]:
    """Overlay data per assignment id for a page of the review queue, in two queries (every
    judgment of those items, and their aggregated results). Empty for non-shape types."""
    question = bundle.question
    if question.get("type") not in annotation.SHAPE_KEYS or not assignments:
        return {}
    item_ids = {a.item_id for a in assignments}
    judgments: dict[int, list[tuple[int, int, Any]]] = defaultdict(list)
    rows = (
        Assignment.objects.filter(
            item_id__in=item_ids,
            status__in=(AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED),
        )
        .order_by("submitted_at", "id")
        .values_list("id", "item_id", "worker_id", "answer")
    )
    for pk, item_id, worker_id, answer in rows:
        judgments[item_id].append((pk, worker_id, answer))
    results = {
        item_id: (label, confidence)
        for item_id, label, confidence in ItemResult.objects.filter(
            item_id__in=item_ids, label__isnull=False
        ).values_list("item_id", "label", "confidence")
    }
    public = {}
    for _pk, worker_id, _answer in (j for item in judgments.values() for j in item):
        if worker_id not in public:
            public[worker_id] = selectors.worker_public_id(bundle.requester_id, worker_id)
    overlays = {}
    for a in assignments:
        others = [(public[w], answer) for pk, w, answer in judgments[a.item_id] if pk != a.pk][
            : MAX_LAYERS - 1
        ]
        mine = (public.get(a.worker_id, "") or "", a.answer)
        overlays[a.pk] = overlay(question, a.item.payload, mine, others, results.get(a.item_id))
    return overlays


def overlay(
    question: dict[str, Any],
    payload: Any,
    mine: tuple[str, Any],
    others: list[tuple[str, Any]],
    result: tuple[Any, float | None] | None,
) -> dict[str, Any]:
    """One item's picture: `mine` is (worker id, answer) of the reviewed judgment."""
    names = {entry["value"]: entry for entry in annotation.labels(question)}
    aggregate: dict[str, Any] | None = None
    confidence: float | None = None
    if result is not None:
        label, confidence = result
        aggregate = {"shapes": annotation.shapes(question, label), "confidence": confidence}
    if question["type"] == "text_spans":
        text = (
            payload.get(question.get("text_field") or "text") if isinstance(payload, dict) else None
        )
        text = "" if text is None else str(text)
        views = [
            {"title": f"This worker ({mine[0]})", "segments": segments(text, mine[1], question)}
        ]
        if aggregate is not None:
            views.append(
                {
                    "title": "Aggregate" + _confidence_text(confidence),
                    "segments": segments(text, {"spans": aggregate["shapes"]}, question),
                }
            )
        other_views = [
            {"title": f"Worker {who}", "segments": segments(text, answer, question)}
            for who, answer in others
        ]
        return {"kind": "text", "views": views, "others": other_views}
    field = annotation.media_field(question)
    size = annotation.image_size(payload, field)
    layers = [
        {"class": "other", "worker": who, "shapes": _svg_shapes(question, answer, names)}
        for who, answer in others
    ]
    layers.append(
        {"class": "mine", "worker": mine[0], "shapes": _svg_shapes(question, mine[1], names)}
    )
    if aggregate is not None:
        layers.append(
            {
                "class": "aggregate",
                "worker": "",
                "shapes": _svg_shapes(question, {_key(question): aggregate["shapes"]}, names),
            }
        )
    width, height = size if size else (0, 0)
    return {
        "kind": "image",
        "mine_worker": mine[0],
        "src": annotation.media_source(payload, field),
        "width": width,
        "height": height,
        "font": max(round((width or 640) / 45), 10),
        "layers": layers,
        "others": len(others),
        "aggregate": aggregate,
        "confidence_text": _confidence_text(confidence) if aggregate else "",
    }


def _key(question: dict[str, Any]) -> str:
    return annotation.SHAPE_KEYS[question["type"]]


def _confidence_text(confidence: float | None) -> str:
    return "" if confidence is None else f" (confidence {confidence * 100:.0f}%)"


def _svg_shapes(
    question: dict[str, Any], answer: Any, names: dict[str, dict[str, str]]
) -> list[dict[str, Any]]:
    out = []
    for shape in annotation.shapes(question, answer):
        entry = names.get(str(shape.get("label")), {})
        tag = entry.get("label", str(shape.get("label")))
        if isinstance(shape.get("confidence"), int | float):
            tag += f" {shape['confidence'] * 100:.0f}%"
        common = {"color_class": entry.get("color_class", "lc0"), "tag": tag}
        if question["type"] == "bounding_box" and _numbers(shape, "x", "y", "w", "h"):
            out.append(
                {
                    **common,
                    "kind": "rect",
                    "x": shape["x"],
                    "y": shape["y"],
                    "w": shape["w"],
                    "h": shape["h"],
                    "tag_x": shape["x"],
                    "tag_y": shape["y"],
                }
            )
        elif question["type"] == "polygon" and _points(shape.get("points")):
            points = shape["points"]
            out.append(
                {
                    **common,
                    "kind": "polygon",
                    "points": " ".join(f"{p[0]},{p[1]}" for p in points),
                    "tag_x": points[0][0],
                    "tag_y": points[0][1],
                }
            )
    return out


def _numbers(shape: dict[str, Any], *keys: str) -> bool:
    return all(
        isinstance(shape.get(k), int | float) and not isinstance(shape.get(k), bool) for k in keys
    )


def _points(points: Any) -> bool:
    return (
        isinstance(points, list)
        and len(points) >= 3
        and all(
            isinstance(p, list | tuple)
            and len(p) == 2
            and all(isinstance(v, int | float) for v in p)
            for p in points
        )
    )


def segments(text: str, answer: Any, question: dict[str, Any]) -> list[dict[str, str]]:
    """The text cut at every span boundary, each piece with the classes of the spans over it
    (the colour of the innermost-last one, `multi` where spans overlap) and, where spans
    start, their labels as a tag. Offsets are Python indices, so slicing is exact."""
    names = {entry["value"]: entry for entry in annotation.labels(question)}
    spans = [
        s
        for s in annotation.shapes(question, answer)
        if _numbers(s, "start", "end") and 0 <= s["start"] < s["end"] <= len(text)
    ]
    cuts = sorted({0, len(text), *(s["start"] for s in spans), *(s["end"] for s in spans)})
    pieces = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        over = [s for s in spans if s["start"] <= start and end <= s["end"]]
        piece = {"text": text[start:end], "classes": "", "tag": ""}
        if over:
            top = names.get(str(over[-1].get("label")), {})
            piece["classes"] = "mark " + top.get("color_class", "lc0")
            if len(over) > 1:
                piece["classes"] += " multi"
            starting = [s for s in over if s["start"] == start]
            if starting:
                piece["classes"] += " first"
                piece["tag"] = " + ".join(
                    names.get(str(s.get("label")), {}).get("label", str(s.get("label")))
                    for s in starting
                )
        pieces.append(piece)
    return pieces

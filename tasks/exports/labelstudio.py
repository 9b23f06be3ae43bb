"""Label Studio JSON: one task per item, every judgment as an annotation, the aggregate as a
prediction (with the item's confidence as `score` and each region's own `score`), and back.

Tasks: `{"id": item id, "data": payload (media as signed URLs), "meta": {...},
"annotations": [...], "predictions": [...]}`. Gold items carry their gold as a ground-truth
annotation instead of a prediction. Region names: `from_name` is "label" and `to_name` the
payload field the question reads (`image_field`, `text_field`, `media_field`; both candidate
fields joined by a comma for pairwise; "text" otherwise), so a labeling config with those names
imports the file as is. Regions on images are in percent of the image (Label Studio's unit),
so boxes and polygons need the image size; without it they are left out of that task.
A pairwise tie has no Label Studio value and gives an empty result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tasks.media import image_size, payload_for_viewer
from tasks.models import Bundle

from .common import dumps, result_rows

_REGION = {"bounding_box": "rectanglelabels", "polygon": "polygonlabels", "text_spans": "labels"}


def labelstudio(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    question = bundle.question
    yield "["
    for n, row in enumerate(result_rows(bundle)):
        payload = row["payload"]
        task: dict[str, Any] = {
            "id": row["item_id"],
            "data": payload_for_viewer(
                item_id=row["item_id"], payload=payload, base_url=base_url
            ),  # fmt: skip
            "meta": {
                "external_id": row["external_id"],
                "is_gold": row["is_gold"],
                "method": row["method"],
                "confidence": row["confidence"],
            },  # fmt: skip
            "annotations": [
                {
                    "id": i,
                    "completed_by": judgment["worker_id"],
                    "result": regions(question, judgment["answer"], payload, prefix=f"j{i}"),
                    "lead_time": judgment.get("seconds"),
                    "ground_truth": False,
                    "was_cancelled": False,
                }
                for i, judgment in enumerate(row["judgments"], start=1)
            ],
            "predictions": [],
        }
        if row["label"] is not None and row["method"] == "gold":
            task["annotations"].append({"id": 0, "completed_by": "gold", "ground_truth": True,
                                        "was_cancelled": False, "lead_time": None,
                                        "result": regions(question, row["label"], payload,
                                                          prefix="gold")})  # fmt: skip
        elif row["label"] is not None:
            task["predictions"].append(
                {
                    "model_version": f"crowdmarket-{row['method']}",
                    "score": row["confidence"],
                    "result": regions(
                        question, row["label"], payload, prefix="agg", scores=True
                    ),  # fmt: skip
                }
            )
        yield ("," if n else "") + "\n" + dumps(task)
    yield "\n]\n"


def _target(question: Mapping[str, Any]) -> str:
    if question["type"] == "pairwise":
        return f"{question.get('left_field', 'a')},{question.get('right_field', 'b')}"
    for key in ("image_field", "text_field", "media_field"):
        if isinstance(question.get(key), str):
            return question[key]
    return "text"


def regions(
    question: Mapping[str, Any],
    value: Any,
    payload: Any,
    *,
    prefix: str = "r",
    scores: bool = False,
) -> list[dict[str, Any]]:
    """One answer or label as Label Studio result regions."""
    qtype = question["type"]
    base = {"from_name": "label", "to_name": _target(question)}
    if value is None:
        return []
    if qtype in _REGION:
        return _shape_regions(question, value, payload, base, prefix, scores)
    if qtype in ("single_choice", "multiple_choice", "image_classification"):
        chosen = value if isinstance(value, list) else [value]
        return [{**base, "id": prefix, "type": "choices", "value": {"choices": chosen}}]
    if qtype == "pairwise":
        choice = value.get("choice") if isinstance(value, dict) else value
        if choice not in ("left", "right"):
            return []
        return [{**base, "id": prefix, "type": "pairwise", "value": {"selected": choice}}]
    if qtype == "rating":
        return [{**base, "id": prefix, "type": "rating", "value": {"rating": value}}]
    if qtype == "number":
        return [{**base, "id": prefix, "type": "number", "value": {"number": value}}]
    return [{**base, "id": prefix, "type": "textarea", "value": {"text": [str(value)]}}]


def _shape_regions(
    question: Mapping[str, Any],
    value: Any,
    payload: Any,
    base: dict[str, Any],
    prefix: str,
    scores: bool,
) -> list[dict[str, Any]]:
    qtype = question["type"]
    kind = _REGION[qtype]
    key = {"bounding_box": "boxes", "polygon": "polygons", "text_spans": "spans"}[qtype]
    found = value.get(key) if isinstance(value, dict) else None
    if not isinstance(found, list):
        return []
    size = image_size(payload, str(question.get("image_field", "image")))
    if qtype != "text_spans" and size is None:
        return []
    text = (
        payload.get(str(question.get("text_field", "text"))) if isinstance(payload, dict) else None
    )
    out = []
    for n, shape in enumerate(found):
        region: dict[str, Any] = {**base, "id": f"{prefix}-{n}", "type": kind}
        if qtype == "text_spans":
            start, end = int(shape["start"]), int(shape["end"])
            covered = text[start:end] if isinstance(text, str) else ""
            region["value"] = {"start": start, "end": end, kind: [shape["label"]], "text": covered}
        else:
            assert size is not None
            width, height = size
            region.update({"original_width": width, "original_height": height,
                           "image_rotation": 0})  # fmt: skip
            if qtype == "bounding_box":
                region["value"] = {
                    "x": _pct(shape["x"], width), "y": _pct(shape["y"], height),
                    "width": _pct(shape["w"], width), "height": _pct(shape["h"], height),
                    "rotation": 0, kind: [shape["label"]],
                }  # fmt: skip
            else:
                points = [[_pct(p[0], width), _pct(p[1], height)] for p in shape["points"]]
                region["value"] = {"points": points, "closed": True, kind: [shape["label"]]}
        if scores and shape.get("confidence") is not None:
            region["score"] = shape["confidence"]
        out.append(region)
    return out


def _pct(value: Any, size: int) -> float:
    return round(float(value) * 100 / size, 6)


def _px(value: Any, size: int) -> float:
    pixels = float(value) * size / 100
    return int(round(pixels)) if abs(pixels - round(pixels)) < 1e-6 else round(pixels, 4)


def labelstudio_answer(
    question: Mapping[str, Any], result: list[Mapping[str, Any]], payload: Any = None
) -> Any:
    """Label Studio result regions (an annotation's or a prediction's, e.g. pre-annotations
    made elsewhere) back to an answer in our shape, with region `score`s as `confidence`."""
    qtype = question["type"]
    if qtype in _REGION:
        key = {"bounding_box": "boxes", "polygon": "polygons", "text_spans": "spans"}[qtype]
        shapes = []
        for region in result:
            if region.get("type") != _REGION[qtype]:
                continue
            value = region["value"]
            shape: dict[str, Any] = {"label": value[_REGION[qtype]][0]}
            if qtype == "text_spans":
                shape.update({"start": value["start"], "end": value["end"]})
            else:
                width = region.get("original_width")
                height = region.get("original_height")
                if not width or not height:
                    size = image_size(payload, str(question.get("image_field", "image")))
                    if size is None:
                        continue
                    width, height = size
                if qtype == "bounding_box":
                    shape.update({"x": _px(value["x"], width), "y": _px(value["y"], height),
                                  "w": _px(value["width"], width),
                                  "h": _px(value["height"], height)})  # fmt: skip
                else:
                    shape["points"] = [[_px(x, width), _px(y, height)] for x, y in value["points"]]
            if region.get("score") is not None:
                shape["confidence"] = region["score"]
            shapes.append(shape)
        return {key: shapes}
    for region in result:
        value = region.get("value", {})
        if "choices" in value:
            multiple = qtype == "multiple_choice" or question.get("multiple")
            return value["choices"] if multiple else value["choices"][0]
        if "selected" in value:
            return {"choice": value["selected"]}
        for name in ("rating", "number"):
            if name in value:
                return value[name]
        if "text" in value:
            return "\n".join(value["text"])
    return None

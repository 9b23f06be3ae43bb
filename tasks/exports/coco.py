"""COCO detection / segmentation JSON from boxes and polygons, and back.

One image per item that has a label (aggregated, or gold): items without a result yet are left
out, since an image with no annotations means "nothing here" to a trainer. `file_name` is the
name the requester gave (the manifest's, or the URL's last part), `coco_url` a signed URL (or
the requester's own URL); `width`/`height` when known. Categories are the question's labels in
order, ids from 1. Each annotation carries `score` and `confidence` (the shape's, 1.0 for gold)
and each image a `crowdmarket` object with the item's confidence, method and every judgment.
Polygons are written as COCO polygons (`segmentation: [[x1, y1, x2, y2, ...]]`) with their
bounding box and area; boxes have no segmentation. Streamed in two passes over the results
(images, then annotations), so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.utils import timezone

from tasks.models import Bundle

from .common import (
    dumps,
    image_ref,
    judgments_of,
    label_names,
    label_values,
    plain_number,
    result_rows,
    shape_key,
    shapes,
)


def coco(bundle: Bundle, base_url: str = "") -> Iterator[str]:
    question = bundle.question
    key = shape_key(question) or "boxes"
    names = label_names(question)
    categories = [
        {"id": n, "name": value, "supercategory": "", "display_name": names[value]}
        for n, value in enumerate(label_values(question), start=1)
    ]
    category_ids = {value: n for n, value in enumerate(label_values(question), start=1)}
    now = timezone.now()
    info = {"description": bundle.title, "version": "1.0", "year": now.year, "url": "",
            "contributor": "crowdmarket", "date_created": now.isoformat()}  # fmt: skip
    yield f'{{"info":{dumps(info)},"licenses":[],"categories":{dumps(categories)},"images":['
    first = True
    for row in result_rows(bundle):
        if shapes(row["label"], key) is None:
            continue
        ref = image_ref(row, question, base_url=base_url)
        image: dict[str, Any] = {"id": row["item_id"], "file_name": ref.name}
        if ref.size is not None:
            image["width"], image["height"] = ref.size
        if ref.url is not None:
            image["coco_url"] = ref.url
        image["crowdmarket"] = {
            "external_id": row["external_id"], "is_gold": row["is_gold"],
            "confidence": row["confidence"], "method": row["method"],
            "judgments": judgments_of(row),
        }  # fmt: skip
        yield ("" if first else ",") + "\n" + dumps(image)
        first = False
    yield '],"annotations":['
    next_id = 1
    for row in result_rows(bundle):
        for shape in shapes(row["label"], key) or []:
            annotation = _annotation(shape, key, category_ids, row)
            if annotation is None:
                continue
            annotation["id"] = next_id
            yield ("" if next_id == 1 else ",") + "\n" + dumps(annotation)
            next_id += 1
    yield "]}\n"


def _annotation(
    shape: Mapping[str, Any], key: str, category_ids: Mapping[str, int], row: Mapping[str, Any]
) -> dict[str, Any] | None:
    category = category_ids.get(str(shape.get("label")))
    if category is None:
        return None
    annotation: dict[str, Any] = {"image_id": row["item_id"], "category_id": category,
                                  "iscrowd": 0}  # fmt: skip
    if key == "boxes":
        x, y, w, h = (float(shape[k]) for k in ("x", "y", "w", "h"))
        annotation["bbox"] = [plain_number(x), plain_number(y), plain_number(w), plain_number(h)]
        annotation["area"] = plain_number(w * h)
    else:
        points = [(float(p[0]), float(p[1])) for p in shape.get("points") or []]
        if len(points) < 3:
            return None
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        annotation["segmentation"] = [[plain_number(c) for p in points for c in p]]
        left, top = min(xs), min(ys)
        annotation["bbox"] = [plain_number(v) for v in (left, top, max(xs) - left, max(ys) - top)]
        area = shape.get("area")
        annotation["area"] = plain_number(float(area) if area is not None else _shoelace(points))
    confidence = shape.get("confidence")
    if confidence is None and row.get("method") == "gold":
        confidence = 1.0
    if confidence is not None:
        annotation["score"] = annotation["confidence"] = round(float(confidence), 4)
    return annotation


def _shoelace(points: list[tuple[float, float]]) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def coco_labels(document: Mapping[str, Any], question: Mapping[str, Any]) -> dict[int, Any]:
    """COCO JSON back to our labels, by image id: {"boxes": [...]} for a bounding_box question,
    {"polygons": [...]} for a polygon one (polygon segmentations; RLE masks are skipped), each
    shape with its `confidence` when the annotation has a `confidence` or `score`. Every image
    is present, with [] when it has no annotations."""
    key = shape_key(question) or "boxes"
    names = {c["id"]: c["name"] for c in document.get("categories", [])}
    labels: dict[int, Any] = {image["id"]: {key: []} for image in document.get("images", [])}
    for annotation in document.get("annotations", []):
        shape: dict[str, Any] = {"label": names[annotation["category_id"]]}
        if key == "boxes":
            x, y, w, h = annotation["bbox"]
            shape.update({"x": x, "y": y, "w": w, "h": h})
        else:
            segmentation = annotation.get("segmentation")
            if not isinstance(segmentation, list) or not segmentation:
                continue
            flat = segmentation[0]
            shape["points"] = [[flat[i], flat[i + 1]] for i in range(0, len(flat) - 1, 2)]
        confidence = annotation.get("confidence", annotation.get("score"))
        if confidence is not None:
            shape["confidence"] = confidence
        labels.setdefault(annotation["image_id"], {key: []})[key].append(shape)
    return labels

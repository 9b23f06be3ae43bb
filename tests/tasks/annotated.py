"""Bundles with annotation questions and results in the DESIGN's shapes, written straight to the
database (the aggregation that produces them is tested with the annotation types)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from tasks.media import media_save
from tasks.models import Assignment, AssignmentStatus, Bundle, Item, ItemResult
from tests.factories import BundleFactory, ItemFactory, WorkerFactory
from tests.media import png

BOXES = {
    "type": "bounding_box", "image_field": "image", "min_size": 4, "allow_empty": True,
    "labels": [{"value": "car", "label": "Car"}, {"value": "person", "label": "Person"}],
}  # fmt: skip
POLYGONS = {
    "type": "polygon", "image_field": "image",
    "labels": [{"value": "lane", "label": "Lane"}, {"value": "road", "label": "Road"}],
}  # fmt: skip
SPANS = {
    "type": "text_spans", "text_field": "text", "allow_overlap": True,
    "labels": [{"value": "PER", "label": "Person"}, {"value": "ORG", "label": "Organisation"},
               {"value": "LOC", "label": "Place"}],
}  # fmt: skip
PAIRS = {"type": "pairwise", "left_field": "a", "right_field": "b", "allow_tie": True,
         "reason": "optional"}  # fmt: skip


def uploaded_item(bundle: Bundle, external_id: str, size=(200, 100), **payload: Any) -> Item:
    """An item whose `image` was uploaded: a real stored PNG and its `_media` entry."""
    key = media_save(bundle_id=bundle.pk, data=png(*size), extension=".png")
    media = {"image": {"key": key, "width": size[0], "height": size[1],
                       "content_type": "image/png"}}  # fmt: skip
    return ItemFactory(
        bundle=bundle,
        external_id=external_id,
        payload={"image": f"img/{external_id}.png", **payload, "_media": media},
    )


def judge(item: Item, answers: list[Any], seconds: float = 12.5) -> list[Assignment]:
    now = timezone.now()
    made = []
    for answer in answers:
        made.append(
            Assignment.objects.create(
                bundle=item.bundle,
                item=item,
                worker=WorkerFactory(),
                status=AssignmentStatus.SUBMITTED,
                answer=answer,
                claimed_at=now,
                deadline=now + timedelta(minutes=10),
                submitted_at=now,
                seconds_spent=seconds,
            )  # fmt: skip
        )
    return made


def result(item: Item, label: Any, confidence: float = 0.9, method: str = "vote") -> ItemResult:
    return ItemResult.objects.create(item=item, label=label, confidence=confidence, method=method,
                                     judgments=item.assignments.count())  # fmt: skip


def box_bundle(requester) -> dict[str, Any]:
    """Three labelled images (an uploaded one with two boxes, a gold one, a URL one with its size
    in the payload), one URL image of unknown size, and one item with no result yet."""
    bundle = BundleFactory(requester=requester, question=dict(BOXES))
    car = {"label": "car", "x": 10, "y": 20, "w": 50, "h": 30, "confidence": 0.92}
    person = {"label": "person", "x": 100.5, "y": 0, "w": 20, "h": 60, "confidence": 0.61}
    first = uploaded_item(bundle, "cam-1")
    judge(first, [{"boxes": [car, person]}, {"boxes": [car]}])
    result(first, {"boxes": [car, person]}, 0.8, "box_vote")
    gold_box = {"label": "person", "x": 0, "y": 0, "w": 200, "h": 100}
    gold = uploaded_item(bundle, "gold-1", size=(200, 100))
    Item.objects.filter(pk=gold.pk).update(gold={"boxes": [gold_box]}, is_gold=True)
    result(gold, {"boxes": [gold_box]}, 1.0, "gold")
    url = ItemFactory(bundle=bundle, external_id="web 1",
                      payload={"image": "https://img.example.com/a/b%20c.jpg",
                               "image_width": "400", "image_height": 300})  # fmt: skip
    result(url, {"boxes": []}, 0.97, "box_vote")  # nothing to mark
    unknown = ItemFactory(bundle=bundle, external_id="nosize",
                          payload={"image": "https://img.example.com/x.png"})  # fmt: skip
    result(unknown, {"boxes": [dict(car)]}, 0.7, "box_vote")
    pending = uploaded_item(bundle, "pending")
    return {"bundle": bundle, "first": first, "gold": gold, "url": url, "unknown": unknown,
            "pending": pending, "car": car, "person": person, "gold_box": gold_box}  # fmt: skip


def polygon_bundle(requester) -> dict[str, Any]:
    bundle = BundleFactory(requester=requester, question=dict(POLYGONS))
    lane = {"label": "lane", "points": [[10, 10], [60, 10], [60, 40], [10, 40]],
            "confidence": 0.88, "area": 1500}  # fmt: skip
    road = {"label": "road", "points": [[0, 50], [100, 50], [50, 99]], "confidence": 0.75}
    item = uploaded_item(bundle, "scene", size=(100, 100))
    judge(item, [{"polygons": [lane, road]}])
    result(item, {"polygons": [lane, road]}, 0.81, "pixel_vote")
    return {"bundle": bundle, "item": item, "lane": lane, "road": road}

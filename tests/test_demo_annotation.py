"""`make run`'s annotation demo: scenes whose truth is what was drawn, noisy workers whose
answers have the DESIGN's shapes and whose skill shows, and the two finished bundles (when the
server has their question types)."""

from __future__ import annotations

import io
import json
import random

import pytest
from django.core.management import call_command
from PIL import Image, ImageChops

from tasks import exports
from tasks.management.demo_annotation import DETECTION_TITLE, NER_TITLE
from tasks.management.demo_scenes import (
    BOX_LABELS,
    HEIGHT,
    MIN_SIZE,
    SENTENCES,
    SPAN_LABELS,
    WIDTH,
    _background,
    noisy_boxes,
    noisy_spans,
    scene,
    sentence_spans,
)
from tasks.models import Bundle, BundleStatus, ItemResult


def _iou(a: dict, b: dict) -> float:
    left, top = max(a["x"], b["x"]), max(a["y"], b["y"])
    right = min(a["x"] + a["w"], b["x"] + b["w"])
    bottom = min(a["y"] + a["h"], b["y"] + b["h"])
    inter = max(right - left, 0) * max(bottom - top, 0)
    return inter / (a["w"] * a["h"] + b["w"] * b["h"] - inter)


def _f1(found: list[dict], truth: list[dict]) -> float:
    unmatched = list(truth)
    hits = 0
    for box in found:
        match = next((t for t in unmatched if t["label"] == box["label"] and _iou(box, t) >= 0.5),
                     None)  # fmt: skip
        if match is not None:
            unmatched.remove(match)
            hits += 1
    return 2 * hits / (len(found) + len(truth)) if found or truth else 1.0


def test_truth_boxes_are_exactly_what_was_drawn():
    rng = random.Random(7)
    background = _background()
    for n in range(30):
        drawn = scene(f"s{n}", rng)
        image = Image.open(io.BytesIO(drawn.png)).convert("RGB")
        assert image.size == (WIDTH, HEIGHT)
        assert 1 <= len(drawn.boxes) <= 4
        changed = ImageChops.difference(image, background).convert("L").point(lambda v: v > 0)
        for box in drawn.boxes:
            assert box["label"] in {v for v, _ in BOX_LABELS}
            assert box["w"] >= MIN_SIZE and box["h"] >= MIN_SIZE
            assert box["x"] + box["w"] <= WIDTH and box["y"] + box["h"] <= HEIGHT
            crop = changed.crop((box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]))
            # Something was drawn on every edge of the box (it is tight) ...
            width, height = crop.size
            assert crop.crop((0, 0, 1, height)).getbbox() and crop.crop((0, 0, width, 1)).getbbox()
            assert crop.crop((width - 1, 0, width, height)).getbbox()
            assert crop.crop((0, height - 1, width, height)).getbbox()
        # ... and nothing outside the boxes.
        for box in drawn.boxes:
            changed.paste(0, (box["x"], box["y"], box["x"] + box["w"], box["y"] + box["h"]))
        assert changed.getbbox() is None


def test_noisy_box_answers_have_the_design_shape_and_skill_shows():
    rng = random.Random(11)
    scores: dict[float, list[float]] = {0.95: [], 0.7: []}
    for n in range(60):
        truth = scene(f"s{n}", rng).boxes
        for skill in scores:
            answer = noisy_boxes(truth, skill, rng)
            assert set(answer) == {"boxes"}
            for box in answer["boxes"]:
                assert set(box) == {"label", "x", "y", "w", "h"}
                assert all(isinstance(box[k], int) for k in ("x", "y", "w", "h"))
                assert box["w"] >= MIN_SIZE and box["h"] >= MIN_SIZE
                assert box["x"] >= 0 and box["x"] + box["w"] <= WIDTH
                assert box["y"] >= 0 and box["y"] + box["h"] <= HEIGHT
            scores[skill].append(_f1(answer["boxes"], truth))
    careful, sloppy = (sum(scores[s]) / len(scores[s]) for s in (0.95, 0.7))
    assert careful > 0.85 and sloppy < careful - 0.1


def test_sentences_spans_and_noisy_span_answers():
    rng = random.Random(5)
    labels = {v for v, _ in SPAN_LABELS}
    for text, entities in SENTENCES:
        truth = sentence_spans(text, entities)
        assert [text[s["start"] : s["end"]] for s in truth] == [p for p, _ in entities]
        for skill in (0.95, 0.7):
            answer = noisy_spans(text, truth, skill, rng)
            spans = answer["spans"]
            assert set(answer) == {"spans"}
            for span in spans:
                assert set(span) == {"start", "end", "label"} and span["label"] in labels
                assert 0 <= span["start"] < span["end"] <= len(text)
            assert all(a["end"] <= b["start"] for a, b in zip(spans, spans[1:], strict=False))


@pytest.mark.django_db
def test_demo_detection_and_ner_bundles_finish_with_shaped_results(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):  # the aggregation runs on commit
        call_command("load_demo")
    for title, key in ((DETECTION_TITLE, "boxes"), (NER_TITLE, "spans")):
        bundle = Bundle.objects.get(title=title)
        assert bundle.status == BundleStatus.COMPLETED
        results = ItemResult.objects.filter(item__bundle=bundle, item__is_gold=False)
        assert results.count() == bundle.items.filter(is_gold=False).count() > 0
        for result in results:
            assert isinstance(result.label[key], list) and 0 < result.confidence <= 1
            assert all(0 < shape["confidence"] <= 1 for shape in result.label[key])
        workers = bundle.assignments.values_list("worker__email", flat=True).distinct()
        assert sorted(workers) == [f"worker{n}@crowdmarket.local" for n in (1, 2, 3)]
    detection = Bundle.objects.get(title=DETECTION_TITLE)
    assert all("_media" in item.payload for item in detection.items.all())
    document = json.loads("".join(exports.bundle_results_export(detection, "coco")[1]))
    assert len(document["images"]) == detection.items.count() and document["annotations"]

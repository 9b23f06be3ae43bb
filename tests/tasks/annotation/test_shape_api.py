"""Boxes, polygons, spans and pairs through the API as a requester and workers use it: the
question canonicalised, a bad gold refused at upload, bad answers refused with 400
`invalid_answer` naming the bad part (a box outside the image, a span past the text, an unknown
label), and three workers' boxes aggregated into the results.

These run where the question schema dispatches to the annotation registry (the quality/schema
integration); on a tree without it they skip, saying so."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.test import TestCase

from tasks.models import Assignment
from tests.conftest import client_for

pytestmark = [pytest.mark.django_db]
IMAGE = {"image": "https://example.com/scene.png", "image_width": 640, "image_height": 480}


def create(req, question, **settings):
    body = {"title": "Annotate", "instructions": "Mark them.", "question": question,
            "reward": 5, "currency": "usd", "time_limit_seconds": 600, **settings}  # fmt: skip
    created = req.post("/api/v1/bundles/", body, format="json")
    assert created.status_code == 201, created.json()
    return created.json()


def upload(req, bundle_id, rows):
    body = "\n".join(json.dumps(row) for row in rows)
    return req.generic(
        "POST", f"/api/v1/bundles/{bundle_id}/items/", body, content_type="application/x-ndjson"
    )


def publish(req, requester, bundle_id):
    call_command("credit_balance", requester.email, "100000", "--reference", f"INV-{bundle_id}")
    published = req.post(f"/api/v1/bundles/{bundle_id}/publish/")
    assert published.status_code == 200, published.json()


def claim(worker, bundle_id):
    claimed = client_for(worker).post(f"/api/v1/work/bundles/{bundle_id}/claim/")
    assert claimed.status_code == 201, claimed.json()
    return claimed.json()


def submit(worker, assignment_id, answer):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client_for(worker).post(
            f"/api/v1/work/assignments/{assignment_id}/submit/", {"answer": answer}, format="json"
        )


def refused(worker, assignment_id, answer, detail):
    response = submit(worker, assignment_id, answer)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid_answer"
    assert detail in response.json()["detail"]


def test_boxes_from_upload_to_results(requester, workers):
    req = client_for(requester)
    question = {"type": "bounding_box", "labels": ["car", "person"], "min_size": 4}
    bundle = create(req, question, overlap=3)
    assert bundle["question"]["iou_threshold"] == 0.5
    assert bundle["question"]["labels"][0] == {"value": "car", "label": "car"}
    outside = {"boxes": [{"label": "car", "x": 600, "y": 10, "w": 60, "h": 20}]}
    bad = upload(req, bundle["id"], [{"external_id": "g", "payload": IMAGE, "gold": outside}])
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_upload"
    assert "boxes[0] lies outside the 640x480 image" in bad.json()["detail"]
    assert upload(req, bundle["id"], [{"external_id": "r1", "payload": IMAGE}]).status_code == 201
    publish(req, requester, bundle["id"])

    drawn = [(100, 50), (102, 50), (101, 53)]
    for worker, (x, y) in zip(workers, drawn, strict=True):
        task = claim(worker, bundle["id"])
        refused(worker, task["id"], outside, "boxes[0] lies outside the 640x480 image")
        truck = {"boxes": [{"label": "truck", "x": 1, "y": 1, "w": 9, "h": 9}]}
        refused(worker, task["id"], truck, "boxes[0].label 'truck' is not one of: car, person")
        tiny = {"boxes": [{"label": "car", "x": 1, "y": 1, "w": 3, "h": 9}]}
        refused(worker, task["id"], tiny, "boxes[0] is 3x9 pixels")
        box = {"label": "car", "x": x, "y": y, "w": 40, "h": 30}
        assert submit(worker, task["id"], {"boxes": [box]}).status_code == 200

    ids = list(Assignment.objects.filter(bundle_id=bundle["id"]).values_list("pk", flat=True))
    with TestCase.captureOnCommitCallbacks(execute=True):
        req.post("/api/v1/assignments/review/", {"ids": ids, "action": "approve"}, format="json")
    rows = req.get(f"/api/v1/bundles/{bundle['id']}/results/?format=json")
    (row,) = json.loads(b"".join(rows.streaming_content))
    (box,) = row["label"]["boxes"]
    # The weighted median of the three boxes' edges.
    assert (box["label"], box["x"], box["y"], box["w"], box["h"]) == ("car", 101, 50, 40, 30)
    assert 0.5 < box["confidence"] <= 1
    assert row["confidence"] == pytest.approx(box["confidence"], abs=1e-4)  # its only decision


@pytest.mark.parametrize(
    ("question", "payload", "answer", "detail"),
    [
        ({"type": "text_spans", "labels": ["PER"]}, {"text": "Ada Lovelace"},
         {"spans": [{"start": 4, "end": 20, "label": "PER"}]},
         "spans[0] (4-20) ends past the text (12 characters)"),
        ({"type": "text_spans", "labels": ["PER"]}, {"text": "Ada Lovelace"},
         {"spans": [{"start": 0, "end": 3, "label": "ORG"}]},
         "spans[0].label 'ORG' is not one of: PER"),
        ({"type": "polygon", "labels": ["lane"]}, IMAGE,
         {"polygons": [{"label": "lane", "points": [[0, 0], [700, 0], [0, 100]]}]},
         "polygons[0].points[1] (700, 0) lies outside the 640x480 image"),
        ({"type": "pairwise", "allow_tie": False}, {"a": "x", "b": "y", "a_id": 1, "b_id": 2},
         {"choice": "tie"}, "choice must be one of: left, right"),
    ],
)  # fmt: skip
def test_bad_answers_are_400_with_a_code(requester, workers, question, payload, answer, detail):
    req = client_for(requester)
    bundle = create(req, question, overlap=1)
    assert upload(req, bundle["id"], [{"payload": payload}]).status_code == 201
    publish(req, requester, bundle["id"])
    task = claim(workers[0], bundle["id"])
    refused(workers[0], task["id"], answer, detail)

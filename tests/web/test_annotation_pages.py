"""Annotation types on the web pages, server side: the task page renders each type's tool with
its data (image size from the payload or uploaded media, labels with keys), posts become the
DESIGN answer shapes, a refused answer comes back drawn, the review page draws each worker's
shapes and the aggregate, and the create form's gallery and preview fill and show the question.
(The tools themselves, in a browser: tests/e2e/test_annotation_*.py.)"""

from __future__ import annotations

import json
import re

import pytest
from django.http import QueryDict

from marketplace.web import annotation, overlays
from tasks import work
from tasks.models import Assignment, ItemResult
from tasks.schema import InvalidAnswer
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db

IMAGE = "https://cdn.example.com/scene.png"
BOXES = {
    "type": "bounding_box",
    "image_field": "image",
    "labels": [{"value": "car", "label": "Car"}, {"value": "person", "label": "Person"}],
    "min_size": 4,
    "allow_empty": True,
}
SPANS = {
    "type": "text_spans",
    "text_field": "text",
    "labels": [{"value": "PER", "label": "Person"}, {"value": "LOC", "label": "Place"}],
}
PAIR = {"type": "pairwise", "left_field": "a", "right_field": "b", "reason": "required"}


def _task(client, question, payload, **bundle_fields):
    from tasks.schema import question_validate

    bundle = BundleFactory(
        question=question_validate(question), min_overlap=1, max_overlap=1, **bundle_fields
    )
    ItemFactory(bundle=bundle, payload=payload)
    bundle = publish(bundle)
    worker = WorkerFactory()
    assignment = work.assignment_claim(bundle=bundle, worker=worker)
    client.force_login(worker)
    return bundle, assignment


def _config(html: str) -> dict:
    found = re.search(r'<script type="application/json">(.*?)</script>', html, re.S)
    assert found, "no tool data on the page"
    return json.loads(found.group(1))


# -- task page -------------------------------------------------------------------------------


def test_box_tool_rendered_with_image_size_labels_and_keys(client):
    payload = {"image": IMAGE, "image_width": "640", "image_height": 480, "note": "rear view"}
    bundle, _ = _task(client, BOXES, payload)
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    config = _config(html)
    assert config["media"] == {
        "field": "image", "src": IMAGE, "kind": "image", "width": 640, "height": 480
    }  # fmt: skip
    assert config["min_size"] == 4 and config["allow_empty"] is True
    keys = [(lab["value"], lab["key"]) for lab in config["labels"]]
    assert keys == [("car", "1"), ("person", "2")]
    assert 'width="640" height="480" data-image' in html
    assert 'name="anno-label" value="person" data-label-key="2"' in html
    assert '<input type="hidden" name="answer" value="" data-answer>' in html
    assert "Nothing to mark in this image" in html
    assert 'type="module" src="/static/js/annotate/index.js"' in html
    assert "onclick" not in html and 'style="' not in html  # CSP: no inline handlers or styles
    # The tool shows the image; the payload list keeps only the other fields.
    assert "<dt>note</dt>" in html and "<dt>image</dt>" not in html
    assert "<dt>image_width</dt>" not in html


def test_uploaded_media_size_and_url_come_from_the_media_entry():
    payload = {
        "image": "photo.jpg",
        "_media": {"image": {"key": "k/1", "width": 800, "height": 600, "url": "/media/s/abc"}},
    }
    config = annotation.tool_config(BOXES, payload)
    assert config["media"]["src"] == "/media/s/abc"
    assert (config["media"]["width"], config["media"]["height"]) == (800, 600)
    # No URL yet (or a dangerous one): no source, the page says the image is unavailable.
    assert annotation.media_source({"image": "javascript:alert(1)"}, "image") is None
    assert annotation.media_source({"image": "//evil.example/x.png"}, "image") is None
    assert annotation.image_size({"image": IMAGE, "image_width": "0"}, "image") is None


def test_text_spans_pairwise_transcription_and_classification_tools(client):
    bundle, _ = _task(client, SPANS, {"text": "Ada <b>Lovelace</b>\r\nin London"})
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assert _config(html)["text"] == "Ada <b>Lovelace</b>\r\nin London"  # the original, as is
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html  # shown as text, never as markup
    assert "<dt>text</dt>" not in html

    bundle, _ = _task(client, PAIR, {"a": "First answer", "b": IMAGE, "a_id": "m1", "b_id": "m2"})
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assert 'name="choice" value="left" data-key="1"' in html
    assert 'name="choice" value="tie" data-key="3"' in html
    assert '<span class="pair-text">First answer</span>' in html
    assert f'<img class="pair-img" src="{IMAGE}"' in html
    assert 'name="reason" rows="2" maxlength="2000" required' in html
    assert "<dt>a_id</dt>" not in html

    question = {"type": "transcription", "media_field": "clip"}
    bundle, _ = _task(client, question, {"clip": "https://cdn.example.com/a.mp3"})
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assert '<audio class="anno-audio" controls' in html and 'id="answer-input"' in html

    choices = [{"value": "cat", "label": "Cat"}, {"value": "dog", "label": "Dog"}]
    question = {"type": "image_classification", "image_field": "image", "multiple": True}
    question["choices"] = choices
    bundle, _ = _task(client, question, {"image": IMAGE})
    html = client.get(f"/work/{bundle.pk}/").content.decode()
    assert 'type="checkbox"\n               name="answer" value="dog" data-key="2"' in html
    assert "data-zoom-in" in html and "data-viewport" in html


def test_boxes_posted_as_json_are_stored_in_the_design_shape(client):
    bundle, assignment = _task(client, BOXES, {"image": IMAGE})
    answer = {"boxes": [{"label": "car", "x": 10, "y": 20, "w": 30, "h": 40}]}
    response = client.post(f"/work/tasks/{assignment.pk}/submit/", {"answer": json.dumps(answer)})
    assert response.status_code == 302
    assert Assignment.objects.get(pk=assignment.pk).answer == answer


def test_refused_answers_say_why_and_come_back_drawn(client):
    sized = {"image": IMAGE, "image_width": 640, "image_height": 480}
    bundle, assignment = _task(client, BOXES, sized)
    url = f"/work/tasks/{assignment.pk}/submit/"
    response = client.post(url, {"answer": ""})
    assert response.status_code == 400
    assert "Draw at least one box" in response.content.decode()
    assert client.post(url, {"answer": "{not json"}).status_code == 400

    # The type module refuses a box outside the image: the drawing is kept for the worker.
    posted = {"boxes": [{"label": "car", "x": 630, "y": 20, "w": 30, "h": 40}]}
    response = client.post(url, {"answer": json.dumps(posted)})
    html = response.content.decode()
    assert response.status_code == 400
    assert "boxes[0] lies outside the 640x480 image" in html
    assert _config(html)["initial"] == posted


def test_pairwise_transcription_and_classification_posts():
    post = QueryDict(mutable=True)
    post.update({"choice": "left", "reason": "  clearer  "})
    assert annotation.answer_from_post(PAIR, post) == {"choice": "left", "reason": "clearer"}
    assert annotation.answer_from_post({**PAIR, "reason": None}, post) == {"choice": "left"}
    with pytest.raises(InvalidAnswer, match="Pick the better one"):
        annotation.answer_from_post({**PAIR, "allow_tie": False}, QueryDict("choice=tie"))
    with pytest.raises(InvalidAnswer, match="Say briefly why"):
        annotation.answer_from_post(PAIR, QueryDict("choice=right"))
    transcription = {"type": "transcription", "media_field": "image"}
    assert annotation.answer_from_post(transcription, QueryDict("answer=The+Fox")) == "The Fox"
    with pytest.raises(InvalidAnswer):
        annotation.answer_from_post(transcription, QueryDict("answer=+"))
    multiple = {"type": "image_classification", "multiple": True, "choices": []}
    assert annotation.answer_from_post(multiple, QueryDict("answer=a&answer=b")) == ["a", "b"]
    single = {"type": "image_classification", "choices": []}
    assert annotation.answer_from_post(single, QueryDict("answer=a")) == "a"


def test_answer_summaries_for_people():
    boxes = {"boxes": [{"label": "car"}, {"label": "person"}]}
    assert annotation.answer_summary(BOXES, boxes) == "2 boxes: Car, Person"
    assert annotation.answer_summary(BOXES, {"boxes": []}) == "no boxes"
    spans = {"spans": [{"start": 0, "end": 3, "label": "PER"}]}
    assert annotation.answer_summary(SPANS, spans) == "1 span: Person"
    assert annotation.answer_summary(PAIR, {"choice": "tie", "reason": "same"}) == "Tie — same"


# -- review ----------------------------------------------------------------------------------


def _answered(bundle, answers):
    ids = []
    for answer in answers:
        worker = WorkerFactory()
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        from tasks import services

        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer=answer)
        ids.append(claimed.pk)
    return ids


def test_review_draws_each_workers_boxes_and_the_aggregate(client):
    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester, question=BOXES, min_overlap=2, max_overlap=2)
    item = ItemFactory(bundle=bundle, payload={"image": IMAGE, "image_width": 640,
                                              "image_height": 480})  # fmt: skip
    bundle = publish(bundle)
    _answered(bundle, [
        {"boxes": [{"label": "car", "x": 10, "y": 20, "w": 30, "h": 40}]},
        {"boxes": [{"label": "person", "x": 100, "y": 120, "w": 50, "h": 60}]},
    ])  # fmt: skip
    ItemResult.objects.create(
        item=item, method="boxes", judgments=2, confidence=0.8,
        label={"boxes": [{"label": "car", "x": 11, "y": 21, "w": 29, "h": 39, "confidence": 0.9}]},
    )  # fmt: skip
    client.force_login(requester)
    html = client.get(f"/bundles/{bundle.pk}/review/").content.decode()
    assert html.count('viewBox="0 0 640 480"') == 2  # one picture per answer under review
    mine = re.findall(r'<g class="mine" data-layer="mine">(.*?)</g>\s*</g>', html, re.S)
    assert 'x="10" y="20" width="30" height="40"' in mine[0]
    assert 'data-layer="other"' in html and 'x="100" y="120" width="50" height="60"' in html
    aggregate = html.split('<g class="aggregate" data-layer="aggregate">')[1].split("</svg>")[0]
    assert '<rect class="shape-halo" x="11" y="21" width="29" height="39"/>' in aggregate
    assert '<rect class="shape-body" x="11" y="21" width="29" height="39"/>' in aggregate
    assert ">Car 90%</text>" in aggregate  # the aggregate box with its own confidence
    assert "Dashed: the aggregate (confidence 80%)" in html
    assert "1 other worker" in html
    assert "<strong>1 box: Car</strong>" in html
    assert '<link rel="stylesheet" href="/static/css/annotate.css">' in html


def test_review_highlights_spans_at_python_offsets():
    text = "😀 Ada met Bo in Rome"
    answer = {
        "spans": [{"start": 2, "end": 5, "label": "PER"}, {"start": 2, "end": 9, "label": "LOC"}]
    }
    pieces = overlays.segments(text, answer, SPANS)
    assert "".join(p["text"] for p in pieces) == text
    marked = [(p["text"], p["classes"], p["tag"]) for p in pieces if p["classes"]]
    assert marked == [
        ("Ada", "mark lc1 multi first", "Person + Place"),
        (" met", "mark lc1", ""),
    ]
    # Spans past the text or with bad offsets are left out rather than drawn wrong.
    bad = {"spans": [{"start": 2, "end": 9, "label": "PER"}, {"start": "0", "end": 1}]}
    assert all(not p["classes"] for p in overlays.segments("abc", bad, SPANS))


# -- create form: gallery and preview ----------------------------------------------------------


def test_gallery_and_preview_on_the_create_page(client):
    requester = RequesterFactory()
    client.force_login(requester)
    html = client.get("/bundles/new/").content.decode()
    for name in ("Sentiment", "Image classification", "Object detection", "Segmentation",
                 "Named entities (NER)", "Transcription", "Response preference"):  # fmt: skip
        assert f">{name}<" in html
    assert 'id="bundle-templates"' in html and 'data-preview-form="task-preview-form"' in html
    assert '<option value="bounding_box">Bounding boxes (object detection)</option>' in html

    question = {"labels": [{"value": "car", "label": "Car"}], "image_field": "image"}
    response = client.post(
        "/bundles/preview-task/",
        {"question_type": "bounding_box", "question_json": json.dumps(question),
         "template": "object-detection"},
    )  # fmt: skip
    preview = response.content.decode()
    config = _config(preview)
    assert config["type"] == "bounding_box" and config["media"]["width"] == 640
    assert config["media"]["src"] == "/static/img/samples/street.png"
    assert "Submit (preview)" in preview and "data-preview-answer" in preview
    # The same worker templates: the label picker and the hidden answer of the task page.
    assert 'name="anno-label" value="car" data-label-key="1"' in preview

    plain = client.post(
        "/bundles/preview-task/", {"question_type": "single_choice", "choices": "pos | Positive"}
    ).content.decode()
    assert "data-preview-problem" in plain and "at least two choices" in plain
    bad = client.post(
        "/bundles/preview-task/", {"question_type": "polygon", "question_json": "[1"}
    ).content.decode()
    assert "Not valid JSON" in bad


def test_create_form_submits_the_template_question(client):
    requester = RequesterFactory()
    client.force_login(requester)
    labels = [{"value": "PER", "label": "Person"}, {"value": "LOC", "label": "Place"}]
    question = {"type": "text_spans", "text_field": "text", "labels": labels}
    data = {
        "title": "NER", "question_type": "text_spans", "question_json": json.dumps(question),
        "currency": "usd", "reward": "0.05", "overlap": 3, "gold_rate": 0,
        "time_limit_minutes": 10, "auto_approve_hours": 72,
    }  # fmt: skip
    response = client.post("/bundles/new/", data)
    assert response.status_code == 302
    from tasks.models import Bundle

    bundle = Bundle.objects.get(requester=requester)
    assert bundle.question["type"] == "text_spans"
    assert [label["value"] for label in bundle.question["labels"]] == ["PER", "LOC"]

    missing = client.post("/bundles/new/", {**data, "question_json": ""})
    assert missing.status_code == 400
    assert "Give the question&#x27;s labels and options." in missing.content.decode()

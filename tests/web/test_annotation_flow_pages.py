"""Integration findings of the issue-12 browser flow (tests/e2e/test_annotation_flow.py), each
pinned here without a browser: the create form sets `gold_feedback_expected`; the bundle page
shows an annotation gold answer as people read it; the label chart counts shape labels."""

from __future__ import annotations

import json

import pytest

from marketplace.web import charts
from tasks.models import Bundle, ItemResult
from tests.factories import BundleFactory, ItemFactory, RequesterFactory

pytestmark = pytest.mark.django_db

BOXES = {
    "type": "bounding_box",
    "image_field": "image",
    "labels": [{"value": "car", "label": "Car"}, {"value": "person", "label": "Person"}],
    "min_size": 4,
    "allow_empty": True,
}
IMAGE = {"image": "https://cdn.example.com/scene.png", "image_width": 640, "image_height": 400}
CAR = {"label": "car", "x": 80, "y": 220, "w": 200, "h": 110}
PERSON = {"label": "person", "x": 420, "y": 120, "w": 70, "h": 200}


def _form(question_type: str, question: dict | None, **extra) -> dict:
    return {
        "title": "Boxes", "question_type": question_type,
        "question_json": json.dumps(question) if question else "",
        "choices": "pos | Positive\nneg | Negative",
        "currency": "usd", "reward": "0.05", "overlap": 3, "gold_rate": 10,
        "time_limit_minutes": 10, "auto_approve_hours": 72, **extra,
    }  # fmt: skip


def test_create_form_sets_gold_feedback_expected_for_annotation_types(client):
    requester = RequesterFactory()
    client.force_login(requester)
    page = client.get("/bundles/new/").content.decode()
    assert 'name="gold_feedback_expected"' in page

    response = client.post(
        "/bundles/new/", _form("bounding_box", BOXES, gold_feedback_expected="on")
    )
    assert response.status_code == 302
    assert Bundle.objects.get(requester=requester).gold_feedback_expected is True


def test_a_ticked_expected_box_left_hidden_by_a_plain_type_is_not_an_error(client):
    """The field shows for annotation types only; a box ticked before switching to a choice
    question must not fail with an error next to a field the person cannot see."""
    requester = RequesterFactory()
    client.force_login(requester)
    response = client.post(
        "/bundles/new/", _form("single_choice", None, gold_feedback_expected="on")
    )
    assert response.status_code == 302
    assert Bundle.objects.get(requester=requester).gold_feedback_expected is False


def test_bundle_page_shows_an_annotation_gold_answer_as_people_read_it(client):
    requester = RequesterFactory()
    bundle = BundleFactory(requester=requester, question=BOXES)
    ItemFactory(bundle=bundle, payload=IMAGE, gold={"boxes": [CAR, PERSON]})
    client.force_login(requester)
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "2 boxes: Car, Person" in page
    assert "{&#x27;boxes&#x27;" not in page and "{'boxes'" not in page


def test_label_chart_counts_items_per_shape_label_whatever_their_order():
    bundle = BundleFactory(question=BOXES)
    labels = [{"boxes": [CAR, PERSON]}, {"boxes": [PERSON, CAR]}, {"boxes": [CAR, CAR]}]
    for label in [*labels, {"boxes": []}]:
        item = ItemFactory(bundle=bundle, payload=IMAGE)
        ItemResult.objects.create(item=item, label=label, confidence=0.9, method="test")
    assert charts.label_counts(bundle) == [("Car", 3), ("Person", 2), ("no boxes", 1)]


def test_draft_cost_names_one_gold_check_in_the_singular(client):
    """The flow's draft (2 items, overlap 3, gold rate 10%) said "including 1 gold checks"."""
    requester = RequesterFactory()
    bundle = BundleFactory(
        requester=requester, question=BOXES, min_overlap=3, max_overlap=3, gold_rate=0.1
    )
    for _ in range(2):
        ItemFactory(bundle=bundle, payload=IMAGE)
    ItemFactory(bundle=bundle, payload=IMAGE, gold={"boxes": [CAR]})
    client.force_login(requester)
    page = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "including 1 gold check<" in page

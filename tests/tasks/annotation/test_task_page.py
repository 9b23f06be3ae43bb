"""The worker's task page for the annotation types this part adds: an image classification is
answered with its choices, a transcription as text, and gold feedback shows the expected answer
only after answering, and only where the bundle asks for it."""

from __future__ import annotations

import pytest

from tasks.models import Assignment, AssignmentStatus
from tasks.schema import question_validate
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "The quick brown fox"


def _login(client, user):
    client.force_login(user)
    return client


def _claimed(worker):
    return Assignment.objects.get(worker=worker, status=AssignmentStatus.CLAIMED)


def test_image_classification_is_answered_with_its_choices(client, requester):
    question = question_validate(
        {"type": "image_classification", "choices": ["cat", "dog"], "multiple": True}
    )
    bundle = BundleFactory(requester=requester, question=question, min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle, payload={"image": "https://example.com/a.png"})
    publish(bundle)
    worker = WorkerFactory()
    client = _login(client, worker)
    page = client.post(f"/work/{bundle.pk}/next/", **HTMX).content.decode()
    assert 'type="checkbox"' in page and 'value="dog"' in page
    assignment = _claimed(worker)
    client.post(f"/work/tasks/{assignment.pk}/submit/", {"answer": ["dog", "cat"]}, **HTMX)
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.SUBMITTED, ["cat", "dog"])


@pytest.mark.parametrize("expected", [True, False])
def test_transcription_gold_shows_the_expected_text_after_answering(
    client, requester, monkeypatch, expected
):
    monkeypatch.setattr("tasks.work.claim.random.random", lambda: 0.0)  # gold first
    bundle = BundleFactory(
        requester=requester, question=question_validate({"type": "transcription"}),
        gold_rate=0.9, gold_feedback=True, gold_feedback_expected=expected,
        min_overlap=1, max_overlap=1,
    )  # fmt: skip
    ItemFactory(bundle=bundle, payload={"image": "https://example.com/a.png"})
    ItemFactory(bundle=bundle, payload={"image": "https://example.com/b.png"}, gold=SECRET)
    publish(bundle)
    worker = WorkerFactory()
    client = _login(client, worker)
    page = client.post(f"/work/{bundle.pk}/next/", **HTMX).content.decode()
    assignment = _claimed(worker)
    assert assignment.is_gold
    assert SECRET not in page
    response = client.post(
        f"/work/tasks/{assignment.pk}/submit/", {"answer": "the quick brown box"}, **HTMX
    ).content.decode()
    assert "Quality check: correct." in response  # 18 of 19 characters: over 0.9
    assert (SECRET in response) is expected
    if expected:
        assert "your score 0.95" in response

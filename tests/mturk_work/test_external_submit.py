"""/mturk/externalSubmit: only the assignment's own worker, only while it is open."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from marketplace.mturk.ids import assignment_text
from marketplace.mturk.worker import frame_params, submit_token
from tasks.models import AssignmentStatus
from tests.factories import WorkerFactory
from tests.mturk_work.helpers import claim, hit_bundle
from tests.mturk_work.xml_samples import external_question

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    bundle = hit_bundle([external_question(), external_question("https://x.example/2")])
    worker = WorkerFactory()
    return bundle, worker, claim(bundle, worker)


def signed_path(assignment) -> str:
    params = frame_params(assignment, worker_id="w_x", base_url="http://testserver")
    return urlsplit(params.turk_submit_to).path + "/mturk/externalSubmit"


def test_signed_submit_without_cookies_records_the_answer(client, setup):
    _, _, assignment = setup
    response = client.post(
        signed_path(assignment),
        {"assignmentId": assignment_text(assignment.pk), "q1": "yes", "tags": ["a", "b"]},
    )
    assert response.status_code == 200
    assert "Answer recorded" in response.content.decode()
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == {"q1": "yes", "tags": ["a", "b"]}


def test_only_assignment_id_is_an_empty_answer(client, setup):
    # oTree posts nothing but the assignmentId: its data stays on its own server
    _, _, assignment = setup
    response = client.post(
        signed_path(assignment), {"assignmentId": assignment_text(assignment.pk)}
    )
    assert response.status_code == 200
    assignment.refresh_from_db()
    assert assignment.answer == {}


def test_signed_in_worker_may_use_the_plain_path(client, setup):
    _, worker, assignment = setup
    client.force_login(worker)
    response = client.post(
        "/mturk/externalSubmit", {"assignmentId": assignment_text(assignment.pk), "a": "1"}
    )
    assert response.status_code == 200
    assignment.refresh_from_db()
    assert assignment.answer == {"a": "1"}


def test_plain_path_refuses_anonymous_and_other_workers(client, setup):
    _, _, assignment = setup
    data = {"assignmentId": assignment_text(assignment.pk), "a": "1"}
    assert client.post("/mturk/externalSubmit", data).status_code == 403
    client.force_login(WorkerFactory())
    assert client.post("/mturk/externalSubmit", data).status_code == 403
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.CLAIMED


def test_a_signed_link_submits_only_its_own_assignment(client, setup):
    bundle, _, assignment = setup
    other = claim(bundle, WorkerFactory())
    # the first worker's link, naming the second worker's assignment
    response = client.post(
        signed_path(assignment), {"assignmentId": assignment_text(other.pk), "a": "1"}
    )
    assert response.status_code == 403
    other.refresh_from_db()
    assert other.status == AssignmentStatus.CLAIMED


def test_forged_or_tampered_links_are_refused(client, setup):
    _, _, assignment = setup
    data = {"assignmentId": assignment_text(assignment.pk), "a": "1"}
    token = submit_token(assignment)
    assert client.post(f"/mturk/submit/{token}x/mturk/externalSubmit", data).status_code == 403
    assert client.post("/mturk/submit/abc/mturk/externalSubmit", data).status_code == 403
    garbage = {"assignmentId": "A12", "a": "1"}
    assert client.post(signed_path(assignment), garbage).status_code == 403


def test_preview_and_submitted_assignments_are_refused(client, setup):
    _, _, assignment = setup
    path = signed_path(assignment)
    preview = client.post(path, {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "a": "1"})
    assert preview.status_code == 403 and "preview" in preview.content.decode()
    data = {"assignmentId": assignment_text(assignment.pk), "a": "1"}
    assert client.post(path, data).status_code == 200
    again = client.post(path, {**data, "a": "2"})
    assert again.status_code == 409
    assignment.refresh_from_db()
    assert assignment.answer == {"a": "1"}


def test_external_submit_to_a_question_form_is_checked_against_it(client):
    from tests.mturk_work.xml_samples import QUESTION_FORM

    bundle = hit_bundle([QUESTION_FORM])
    worker = WorkerFactory()
    assignment = claim(bundle, worker)
    response = client.post(
        signed_path(assignment), {"assignmentId": assignment_text(assignment.pk), "nextmove": "B2"}
    )
    assert response.status_code == 400
    assert "likelytowin: an answer is required" in response.content.decode()


def test_get_submits_only_through_the_signed_link(client, setup):
    _, worker, assignment = setup
    query = {"assignmentId": assignment_text(assignment.pk), "a": "1"}
    client.force_login(worker)  # a link on another site must not submit the worker's task
    assert client.get("/mturk/externalSubmit", query).status_code == 405
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.CLAIMED
    assert client.get(signed_path(assignment), query).status_code == 200
    assignment.refresh_from_db()
    assert assignment.answer == {"a": "1"}

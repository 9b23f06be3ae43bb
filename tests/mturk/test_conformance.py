"""Conformance with the service model botocore ships (botocore/data/mturk/2017-01-17):
every operation is registered; every required input member is refused when missing and a
wrong type is refused, by the server itself (the client's own validation switched off);
every operation answers once in one research-style scenario, each answer validated against
its output shape by `response_matches_model` (conftest), which also runs on every other test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from marketplace.mturk.ids import assignment_text
from marketplace.mturk.keys import access_key_create
from marketplace.mturk.models import QualificationType
from marketplace.mturk.protocol import REGISTRY, service_model
from marketplace.mturk.qualifications import request_submit
from marketplace.mturk.views import endpoint  # noqa: F401  (registers the operations)
from tasks.selectors import worker_public_id
from tests.mturk.conftest import (
    HIT_TYPE,
    HTML_QUESTION,
    answer_hit,
    create_hit,
    mturk_client,
    response_matches_model,
)

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = service_model()
# The one operation that can only refuse: our question formats have no file-upload answer.
ALWAYS_REFUSED = {"GetFileUploadURL"}


def test_every_operation_of_the_model_is_registered():
    assert len(MODEL.operation_names) == 39
    assert sorted(REGISTRY) == sorted(MODEL.operation_names)


def _sample(shape: Any) -> Any:
    """A value of the right type for a member (what matters is that the server sees it)."""
    kind = shape.type_name
    if kind == "structure":
        return {name: _sample(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        return [_sample(shape.member)]
    return {"string": "x", "integer": 1, "long": 60, "boolean": True,
            "timestamp": datetime(2030, 1, 1, tzinfo=UTC)}[kind]  # fmt: skip


@pytest.fixture
def raw_client(live_server, mturk_requester):
    """boto3's client with its own parameter validation off: what a hand-written client may
    send reaches the server, which must refuse it itself."""
    key, secret = access_key_create(requester=mturk_requester)
    client = mturk_client(live_server.url, key.access_key_id, secret, parameter_validation=False)
    yield client
    client.close()


def _snake(name: str) -> str:
    return (
        "".join("_" + c.lower() if c.isupper() else c for c in name)
        .lstrip("_")
        .replace("h_i_t", "hit")
    )


def _method(client: Any, operation: str) -> Any:
    return getattr(client, client.meta.method_to_api_mapping and {
        api: method for method, api in client.meta.method_to_api_mapping.items()
    }[operation])  # fmt: skip


def test_required_members_are_enforced_by_the_server(raw_client):
    checked = 0
    for name in MODEL.operation_names:
        shape = MODEL.operation_model(name).input_shape
        if shape is None or not shape.required_members:
            continue
        full = _sample(shape)
        call = _method(raw_client, name)
        for member in shape.required_members:
            params = {k: v for k, v in full.items() if k != member}
            with pytest.raises(ClientError) as error:
                call(**params)
            response = error.value.response
            assert response["Error"]["Code"] == "RequestError", (name, member)
            assert member in response["Error"]["Message"], (name, member)
            checked += 1
    assert checked >= 50  # 58 required members in the 2017-01-17 model


def test_wrong_types_are_refused_by_the_server(raw_client):
    for call, params in (
        (raw_client.list_hits, {"MaxResults": "ten"}),
        (raw_client.get_hit, {"HITId": 17}),
        (raw_client.create_hit_type, {**HIT_TYPE, "AssignmentDurationInSeconds": "long"}),
        (raw_client.update_hit_review_status, {"HITId": "3X", "Revert": "yes"}),
    ):
        with pytest.raises(ClientError) as error:
            call(**params)
        assert error.value.response["TurkErrorCode"] == (
            "AWS.MechanicalTurk.ParameterValidationError"
        )


def test_the_output_check_catches_a_wrong_shape():
    model = MODEL.operation_model("GetAccountBalance")

    class Response:
        status_code = 200

    with pytest.raises(AssertionError):
        response_matches_model(Response(), {"AvailableBalance": 12}, model)
    response_matches_model(Response(), {"AvailableBalance": "0.12"}, model)


def test_every_operation_answers_in_one_workflow(mturk, mturk_requester, mailoutbox, settings):
    answered: set[str] = set()

    def record(http_response: Any, model: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            answered.add(model.name)

    mturk.meta.events.register("after-call.mturk", record)
    m = mturk
    qual = m.create_qualification_type(
        Name="Screened", Description="passed screening", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    m.get_qualification_type(QualificationTypeId=qual)
    m.update_qualification_type(QualificationTypeId=qual, Description="passed the screening")
    m.list_qualification_types(MustBeRequestable=True, MustBeOwnedByCaller=True)
    type_id = m.create_hit_type(**HIT_TYPE)["HITTypeId"]
    hit = m.create_hit_with_hit_type(
        HITTypeId=type_id, MaxAssignments=2, LifetimeInSeconds=3600, Question=HTML_QUESTION
    )["HIT"]
    other = create_hit(m, Reward="0.09", QualificationRequirements=[
        {"QualificationTypeId": qual, "Comparator": "Exists"}])  # fmt: skip
    m.get_hit(HITId=hit["HITId"])
    m.list_hits()
    m.list_hits_for_qualification_type(QualificationTypeId=qual)
    m.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=1)
    worker, first = answer_hit(hit["HITId"], {"sentiment": "good"})
    _, second = answer_hit(hit["HITId"], {"sentiment": "bad"})
    worker_id = worker_public_id(mturk_requester.pk, worker.pk)
    m.list_reviewable_hits()
    m.list_assignments_for_hit(HITId=hit["HITId"])
    m.get_assignment(AssignmentId=assignment_text(first))
    m.approve_assignment(AssignmentId=assignment_text(first), RequesterFeedback="Thanks")
    m.reject_assignment(AssignmentId=assignment_text(second), RequesterFeedback="Empty")
    m.send_bonus(WorkerId=worker_id, BonusAmount="0.25", AssignmentId=assignment_text(first),
                 Reason="Careful work", UniqueRequestToken="b-1")  # fmt: skip
    m.list_bonus_payments(HITId=hit["HITId"])
    m.get_account_balance()
    m.associate_qualification_with_worker(QualificationTypeId=qual, WorkerId=worker_id)
    m.get_qualification_score(QualificationTypeId=qual, WorkerId=worker_id)
    m.list_workers_with_qualification_type(QualificationTypeId=qual)
    m.disassociate_qualification_from_worker(QualificationTypeId=qual, WorkerId=worker_id)
    qtype = QualificationType.objects.get(qualification_type_id=qual)
    request_submit(worker=worker, qtype=qtype)
    request = m.list_qualification_requests(QualificationTypeId=qual)["QualificationRequests"][0]
    m.accept_qualification_request(QualificationRequestId=request["QualificationRequestId"])
    retry = QualificationType.objects.filter(pk=qtype.pk)
    retry.update(retry_delay_seconds=0)
    request_submit(worker=worker, qtype=retry.get())
    request = m.list_qualification_requests()["QualificationRequests"][0]
    m.reject_qualification_request(QualificationRequestId=request["QualificationRequestId"])
    m.create_worker_block(WorkerId=worker_id, Reason="testing blocks")
    m.list_worker_blocks()
    m.delete_worker_block(WorkerId=worker_id)
    m.notify_workers(Subject="Thanks", MessageText="Thank you.", WorkerIds=[worker_id])
    email = {"Destination": "me@example.com", "Transport": "Email", "Version": "2014-08-15",
             "EventTypes": ["AssignmentSubmitted"]}  # fmt: skip
    m.update_notification_settings(HITTypeId=type_id, Notification=email, Active=True)
    m.send_test_event_notification(Notification=email, TestEventType="AssignmentSubmitted")
    m.update_hit_review_status(HITId=hit["HITId"], Revert=False)
    m.list_review_policy_results_for_hit(HITId=hit["HITId"])
    m.update_hit_type_of_hit(HITId=other["HITId"], HITTypeId=type_id)
    m.update_expiration_for_hit(
        HITId=hit["HITId"], ExpireAt=datetime.now(UTC) - timedelta(minutes=1)
    )
    m.delete_hit(HITId=hit["HITId"])
    m.delete_qualification_type(QualificationTypeId=qual)
    with pytest.raises(ClientError):
        m.get_file_upload_url(AssignmentId=assignment_text(first), QuestionIdentifier="sentiment")
    assert answered | ALWAYS_REFUSED == set(MODEL.operation_names), sorted(
        set(MODEL.operation_names) - answered - ALWAYS_REFUSED
    )

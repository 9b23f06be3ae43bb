"""Worker blocks, messages, qualification types, grants, requests (with a scored test and
auto-granting) and notifications, through boto3."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from botocore.exceptions import ClientError
from django.core import mail
from django.utils import timezone

from marketplace.errors import DomainError
from marketplace.mturk.events import notifications_deliver
from marketplace.mturk.ids import assignment_text
from marketplace.mturk.models import HIT, QualificationType
from marketplace.mturk.qualifications import request_submit
from tasks import work
from tasks.models import Bundle
from tasks.selectors import worker_public_id
from tests.factories import WorkerFactory
from tests.mturk.conftest import answer_hit, create_hit

pytestmark = pytest.mark.django_db(transaction=True)

TEST_FORM = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd">
<Question><QuestionIdentifier>q1</QuestionIdentifier><IsRequired>true</IsRequired>
<QuestionContent><Text>2 + 2?</Text></QuestionContent>
<AnswerSpecification><SelectionAnswer><Selections>
<Selection><SelectionIdentifier>four</SelectionIdentifier><Text>4</Text></Selection>
<Selection><SelectionIdentifier>five</SelectionIdentifier><Text>5</Text></Selection>
</Selections></SelectionAnswer></AnswerSpecification></Question></QuestionForm>"""

ANSWER_KEY = """<AnswerKey xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/AnswerKey.xsd">
<Question><QuestionIdentifier>q1</QuestionIdentifier>
<AnswerOption><SelectionIdentifier>four</SelectionIdentifier><AnswerScore>10</AnswerScore></AnswerOption>
</Question>
<QualificationValueMapping><PercentageMapping><MaximumSummedScore>10</MaximumSummedScore></PercentageMapping></QualificationValueMapping>
</AnswerKey>"""


def turk_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response.get("TurkErrorCode", "")


def _bundle_of(hit_id: str) -> Bundle:
    return Bundle.objects.get(pk=HIT.objects.get(hit_id=hit_id).item.bundle_id)


def test_block_list_unblock(mturk, mturk_requester):
    hit = create_hit(mturk, MaxAssignments=3)
    worker, _ = answer_hit(hit["HITId"], {"sentiment": "a"})
    worker_id = worker_public_id(mturk_requester.pk, worker.pk)
    mturk.create_worker_block(WorkerId=worker_id, Reason="Spam answers")
    blocks = mturk.list_worker_blocks()["WorkerBlocks"]
    assert blocks == [{"WorkerId": worker_id, "Reason": "Spam answers"}]
    later = create_hit(mturk, Reward="0.07")  # a new type: a new bundle, blocked there too
    for hit_id in (hit["HITId"], later["HITId"]):
        with pytest.raises(DomainError):
            work.assignment_claim(bundle=_bundle_of(hit_id), worker=worker)
    mturk.delete_worker_block(WorkerId=worker_id, Reason="Second chance")
    assert mturk.list_worker_blocks()["NumResults"] == 0
    assert work.assignment_claim(bundle=_bundle_of(later["HITId"]), worker=worker)
    with pytest.raises(ClientError) as error:
        mturk.create_worker_block(WorkerId="w_000000000000", Reason="x")
    assert turk_code(error) == "AWS.MechanicalTurk.WorkerDoesNotExist"


def test_notify_workers(mturk, mturk_requester):
    hit = create_hit(mturk)
    worker, _ = answer_hit(hit["HITId"], {"sentiment": "a"})
    worker_id = worker_public_id(mturk_requester.pk, worker.pk)
    answer = mturk.notify_workers(
        Subject="New batch", MessageText="More work tomorrow.",
        WorkerIds=[worker_id, "w_000000000000"],
    )  # fmt: skip
    failures = answer["NotifyWorkersFailureStatuses"]
    assert [f["WorkerId"] for f in failures] == ["w_000000000000"]
    assert failures[0]["NotifyWorkersFailureCode"] == "HardFailure"
    assert [m.to for m in mail.outbox] == [[worker.email]]
    assert mail.outbox[0].subject == "New batch"


def test_qualification_types_and_scores(mturk, other_mturk, mturk_requester):
    created = mturk.create_qualification_type(
        Name="Sentiment trained", Keywords="sentiment", Description="Passed training",
        QualificationTypeStatus="Active", RetryDelayInSeconds=60,
    )["QualificationType"]  # fmt: skip
    qual = created["QualificationTypeId"]
    assert created["IsRequestable"] is True and created["Name"] == "Sentiment trained"
    with pytest.raises(ClientError) as error:
        mturk.create_qualification_type(
            Name="Sentiment trained", Description="again", QualificationTypeStatus="Active"
        )
    assert turk_code(error) == "AWS.MechanicalTurk.QualificationTypeAlreadyExists"
    assert mturk.get_qualification_type(QualificationTypeId=qual)["QualificationType"]["Keywords"]
    updated = mturk.update_qualification_type(
        QualificationTypeId=qual, Description="Passed the new training"
    )["QualificationType"]
    assert updated["Description"] == "Passed the new training"
    listed = mturk.list_qualification_types(MustBeRequestable=True, Query="trained")
    assert [q["QualificationTypeId"] for q in listed["QualificationTypes"]] == [qual]
    assert other_mturk.list_qualification_types(MustBeRequestable=False)["NumResults"] == 0

    hit = create_hit(mturk, QualificationRequirements=[
        {"QualificationTypeId": qual, "Comparator": "GreaterThanOrEqualTo",
         "IntegerValues": [50]},
    ])  # fmt: skip
    listed_hits = mturk.list_hits_for_qualification_type(QualificationTypeId=qual)["HITs"]
    assert [h["HITId"] for h in listed_hits] == [hit["HITId"]]
    # A worker who worked for this requester before (on another HIT) gets the grant.
    other_hit = create_hit(mturk, Reward="0.02")
    worker, _ = answer_hit(other_hit["HITId"], {"sentiment": "a"})
    worker_id = worker_public_id(mturk_requester.pk, worker.pk)
    bundle = _bundle_of(hit["HITId"])
    with pytest.raises(DomainError):
        work.assignment_claim(bundle=bundle, worker=worker)
    mturk.associate_qualification_with_worker(
        QualificationTypeId=qual, WorkerId=worker_id, IntegerValue=80, SendNotification=False
    )
    score = mturk.get_qualification_score(QualificationTypeId=qual, WorkerId=worker_id)
    assert score["Qualification"]["IntegerValue"] == 80
    assert score["Qualification"]["Status"] == "Granted"
    holders = mturk.list_workers_with_qualification_type(QualificationTypeId=qual)
    assert [q["WorkerId"] for q in holders["Qualifications"]] == [worker_id]
    assert work.assignment_claim(bundle=bundle, worker=worker)
    mturk.disassociate_qualification_from_worker(
        QualificationTypeId=qual, WorkerId=worker_id, Reason="Retrain"
    )
    with pytest.raises(ClientError) as error:
        mturk.get_qualification_score(QualificationTypeId=qual, WorkerId=worker_id)
    assert turk_code(error) == "AWS.MechanicalTurk.QualificationDoesNotExist"
    with pytest.raises(ClientError) as error:  # another requester's type does not exist
        other_mturk.get_qualification_type(QualificationTypeId=qual)
    assert turk_code(error) == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"
    mturk.delete_qualification_type(QualificationTypeId=qual)
    with pytest.raises(ClientError):
        mturk.get_qualification_type(QualificationTypeId=qual)


def test_requests_accept_reject_auto_grant_and_answer_key(mturk, mturk_requester):
    manual = mturk.create_qualification_type(
        Name="Manual", Description="We look", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    keyed = mturk.create_qualification_type(
        Name="Arithmetic", Description="A test", QualificationTypeStatus="Active",
        Test=TEST_FORM, AnswerKey=ANSWER_KEY, TestDurationInSeconds=300,
    )["QualificationType"]["QualificationTypeId"]  # fmt: skip
    auto = mturk.create_qualification_type(
        Name="Everyone", Description="Free", QualificationTypeStatus="Active",
        AutoGranted=True, AutoGrantedValue=7,
    )["QualificationType"]["QualificationTypeId"]  # fmt: skip
    alice, bob = WorkerFactory(), WorkerFactory()
    types = {q.qualification_type_id: q for q in QualificationType.objects.all()}
    request_submit(worker=alice, qtype=types[manual])
    request_submit(worker=bob, qtype=types[manual])
    request_submit(worker=alice, qtype=types[keyed], answers={"q1": "four"})
    request_submit(worker=bob, qtype=types[keyed], answers={"q1": "five"})
    request_submit(worker=alice, qtype=types[auto])
    pending = mturk.list_qualification_requests(QualificationTypeId=manual)
    assert pending["NumResults"] == 2
    assert mturk.list_qualification_requests()["NumResults"] == 2  # the others were decided
    first, second = pending["QualificationRequests"]
    mturk.accept_qualification_request(
        QualificationRequestId=first["QualificationRequestId"], IntegerValue=3
    )
    mturk.reject_qualification_request(
        QualificationRequestId=second["QualificationRequestId"], Reason="No"
    )
    assert mturk.list_qualification_requests()["NumResults"] == 0
    alice_id = worker_public_id(mturk_requester.pk, alice.pk)
    bob_id = worker_public_id(mturk_requester.pk, bob.pk)

    def value(qual: str, worker_id: str) -> int:
        answer = mturk.get_qualification_score(QualificationTypeId=qual, WorkerId=worker_id)
        return answer["Qualification"]["IntegerValue"]

    assert value(manual, first["WorkerId"]) == 3
    assert value(keyed, alice_id) == 100 and value(keyed, bob_id) == 0
    assert value(auto, alice_id) == 7
    with pytest.raises(ClientError) as error:
        mturk.accept_qualification_request(QualificationRequestId=second["QualificationRequestId"])
    assert turk_code(error) == "AWS.MechanicalTurk.QualificationRequestDoesNotExist"
    with pytest.raises(ClientError) as error:
        mturk.create_qualification_type(
            Name="Bad", Description="key without test", QualificationTypeStatus="Active",
            AnswerKey=ANSWER_KEY,
        )  # fmt: skip
    assert error.value.response["Error"]["Code"] == "RequestError"


class _Catcher(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Catcher.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def catcher():
    server = HTTPServer(("127.0.0.1", 0), _Catcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Catcher.bodies = []
    yield f"http://127.0.0.1:{server.server_port}/events"
    server.shutdown()


def test_notifications(mturk, catcher, settings):
    hit = create_hit(mturk)
    notification = {
        "Destination": catcher, "Transport": "SNS", "Version": "2014-08-15",
        "EventTypes": ["AssignmentSubmitted", "HITReviewable"],
    }  # fmt: skip
    mturk.update_notification_settings(
        HITTypeId=hit["HITTypeId"], Notification=notification, Active=True
    )
    mturk.update_notification_settings(HITTypeId=hit["HITTypeId"], Active=False)
    # Our own network is refused unless the operator allows it.
    with pytest.raises(ClientError) as error:
        mturk.send_test_event_notification(
            Notification=notification, TestEventType="AssignmentSubmitted"
        )
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidDestination"
    settings.MTURK_NOTIFICATION_ALLOW_PRIVATE = True
    mturk.send_test_event_notification(
        Notification=notification, TestEventType="AssignmentSubmitted"
    )
    assert _Catcher.bodies[0]["Events"][0]["EventType"] == "AssignmentSubmitted"
    assert _Catcher.bodies[0]["EventDocVersion"] == "2014-08-15"
    sqs = {**notification, "Destination": "arn:aws:sqs:us-east-1:1:queue", "Transport": "SQS"}
    with pytest.raises(ClientError) as error:
        mturk.update_notification_settings(HITTypeId=hit["HITTypeId"], Notification=sqs)
    assert turk_code(error) == "AWS.MechanicalTurk.UnsupportedTransport"
    email = {**notification, "Destination": "me@example.com", "Transport": "Email"}
    mturk.send_test_event_notification(Notification=email, TestEventType="Ping")
    assert mail.outbox[-1].to == ["me@example.com"]


def test_events_are_delivered_by_the_sweep(mturk, catcher, settings):
    settings.MTURK_NOTIFICATION_ALLOW_PRIVATE = True
    before = create_hit(mturk)  # made before the notification: never announced
    notification = {
        "Destination": catcher, "Transport": "SNS", "Version": "2014-08-15",
        "EventTypes": ["HITCreated", "AssignmentSubmitted", "AssignmentApproved"],
    }  # fmt: skip
    mturk.update_notification_settings(
        HITTypeId=before["HITTypeId"], Notification=notification, Active=True
    )
    mturk.update_expiration_for_hit(HITId=before["HITId"], ExpireAt=datetime(2015, 1, 1))
    hit = create_hit(mturk)
    _, pk = answer_hit(hit["HITId"], {"sentiment": "a"})

    mturk.approve_assignment(AssignmentId=assignment_text(pk))
    later = timezone.now() + timedelta(minutes=1)
    assert notifications_deliver(now=later) == 1
    events = _Catcher.bodies[-1]["Events"]
    assert [e["EventType"] for e in events] == [
        "HITCreated", "AssignmentSubmitted", "AssignmentApproved"
    ]  # fmt: skip
    assert {e["HITId"] for e in events} == {hit["HITId"]}
    assert events[1]["AssignmentId"] == assignment_text(pk)
    assert notifications_deliver(now=later) == 0  # delivered once
    mturk.update_notification_settings(HITTypeId=hit["HITTypeId"], Active=False)
    create_hit(mturk)
    assert notifications_deliver(now=later + timedelta(minutes=1)) == 0

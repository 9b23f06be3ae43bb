"""Workers find requestable qualification types and ask for them through the worker API; a
test with an AnswerKey grants at once (its key never shown), a plain type waits for the
requester, who accepts it through boto3."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.factories import RequesterFactory, WorkerFactory
from tests.mturk.test_workers_and_qualifications import ANSWER_KEY, TEST_FORM

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/v1/work/qualification-types/"


def test_request_with_test_and_by_hand(mturk, mturk_requester):
    keyed = mturk.create_qualification_type(
        Name="Arithmetic", Description="A test", QualificationTypeStatus="Active",
        Test=TEST_FORM, AnswerKey=ANSWER_KEY, TestDurationInSeconds=300,
    )["QualificationType"]["QualificationTypeId"]  # fmt: skip
    manual = mturk.create_qualification_type(
        Name="Manual", Description="We look", QualificationTypeStatus="Active",
        RetryDelayInSeconds=0,
    )["QualificationType"]["QualificationTypeId"]  # fmt: skip
    mturk.create_qualification_type(
        Name="Closed", Description="not requestable", QualificationTypeStatus="Inactive"
    )
    worker = client_for(WorkerFactory())
    listed = worker.get(LIST).json()["results"]
    assert {t["qualification_type_id"] for t in listed} == {keyed, manual}
    shown = next(t for t in listed if t["qualification_type_id"] == keyed)
    assert shown["test"] == TEST_FORM and "AnswerKey" not in str(listed)
    assert worker.get(LIST, {"search": "arith"}).json()["count"] == 1

    wrong = worker.post(f"{LIST}{keyed}/request/", {"answers": {"q1": "seven"}}, format="json")
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_answer"
    passed = worker.post(f"{LIST}{keyed}/request/", {"answers": {"q1": "four"}}, format="json")
    assert passed.status_code == 201 and passed.json() == {"status": "accepted", "value": 100}

    waiting = worker.post(f"{LIST}{manual}/request/", {}, format="json")
    assert waiting.status_code == 201 and waiting.json() == {"status": "pending", "value": None}
    again = worker.post(f"{LIST}{manual}/request/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "request_refused"
    requests = mturk.list_qualification_requests(QualificationTypeId=manual)
    assert requests["NumResults"] == 1
    mturk.accept_qualification_request(
        QualificationRequestId=requests["QualificationRequests"][0]["QualificationRequestId"],
        IntegerValue=5,
    )
    mine = {t["qualification_type_id"]: t["my_request"] for t in worker.get(LIST).json()["results"]}
    assert mine[manual]["status"] == "accepted" and mine[keyed]["status"] == "accepted"


def test_only_workers_and_unknown_types(mturk):
    qual = mturk.create_qualification_type(
        Name="Mine", Description="mine", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    assert client_for(RequesterFactory()).get(LIST).status_code == 403
    worker = client_for(WorkerFactory())
    assert worker.post(f"{LIST}3NOSUCH/request/", {}, format="json").status_code == 404
    mturk.delete_qualification_type(QualificationTypeId=qual)
    assert worker.post(f"{LIST}{qual}/request/", {}, format="json").status_code == 404

"""Another requester's HITs, assignments, types and workers do not exist for you (the same
error as an unknown id), and pagination walks 250 HITs with NextToken and MaxResults."""

from __future__ import annotations

from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from marketplace.mturk.hits import hit_create
from marketplace.mturk.ids import assignment_text
from marketplace.mturk.models import HITType
from tasks.selectors import worker_public_id
from tests.mturk.conftest import HIT_TYPE, HTML_QUESTION, answer_hit, create_hit

pytestmark = pytest.mark.django_db(transaction=True)


def _refused(call, code: str) -> None:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "RequestError"
    assert error.value.response["TurkErrorCode"] == f"AWS.MechanicalTurk.{code}"


def test_unknown_hit(mturk):
    _refused(lambda: mturk.get_hit(HITId="3NOSUCHHIT"), "HitDoesNotExist")
    _refused(lambda: mturk.list_assignments_for_hit(HITId="3NOSUCHHIT"), "HitDoesNotExist")
    _refused(lambda: mturk.get_assignment(AssignmentId="nonsense"), "AssignmentDoesNotExist")


def test_another_requesters_objects_do_not_exist(mturk, other_mturk, mturk_requester):
    hit = create_hit(mturk)
    worker, pk = answer_hit(hit["HITId"], {"sentiment": "a"})
    worker_id = worker_public_id(mturk_requester.pk, worker.pk)
    assignment_id = assignment_text(pk)
    qual = mturk.create_qualification_type(
        Name="Mine", Description="mine", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    hit_id = hit["HITId"]
    for call in (
        lambda: other_mturk.get_hit(HITId=hit_id),
        lambda: other_mturk.list_assignments_for_hit(HITId=hit_id),
        lambda: other_mturk.update_expiration_for_hit(HITId=hit_id, ExpireAt=datetime(2015, 1, 1)),
        lambda: other_mturk.update_hit_review_status(HITId=hit_id),
        lambda: other_mturk.delete_hit(HITId=hit_id),
        lambda: other_mturk.create_additional_assignments_for_hit(
            HITId=hit_id, NumberOfAdditionalAssignments=1
        ),
        lambda: other_mturk.list_review_policy_results_for_hit(HITId=hit_id),
        lambda: other_mturk.list_bonus_payments(HITId=hit_id),
    ):
        _refused(call, "HitDoesNotExist")
    for call in (
        lambda: other_mturk.get_assignment(AssignmentId=assignment_id),
        lambda: other_mturk.approve_assignment(AssignmentId=assignment_id),
        lambda: other_mturk.reject_assignment(AssignmentId=assignment_id, RequesterFeedback="x"),
        lambda: other_mturk.send_bonus(
            WorkerId=worker_id, BonusAmount="1.00", AssignmentId=assignment_id, Reason="x"
        ),
    ):
        _refused(call, "AssignmentDoesNotExist")
    _refused(
        lambda: other_mturk.create_hit_with_hit_type(
            HITTypeId=hit["HITTypeId"], LifetimeInSeconds=600, Question=HTML_QUESTION
        ),
        "HITTypeDoesNotExist",
    )
    _refused(
        lambda: other_mturk.update_hit_type_of_hit(HITId=hit_id, HITTypeId=hit["HITTypeId"]),
        "HitDoesNotExist",
    )
    _refused(
        lambda: other_mturk.create_hit(
            **HIT_TYPE,
            LifetimeInSeconds=600,
            Question=HTML_QUESTION,
            QualificationRequirements=[{"QualificationTypeId": qual, "Comparator": "Exists"}],
        ),  # fmt: skip
        "QualificationTypeDoesNotExist",
    )
    _refused(
        lambda: other_mturk.list_workers_with_qualification_type(QualificationTypeId=qual),
        "QualificationTypeDoesNotExist",
    )
    # The worker never worked for the other requester: to them this pseudonym is no one.
    _refused(lambda: other_mturk.create_worker_block(WorkerId=worker_id, Reason="x"),
             "WorkerDoesNotExist")  # fmt: skip
    assert other_mturk.list_hits()["NumResults"] == 0
    assert other_mturk.list_reviewable_hits()["NumResults"] == 0
    # Nothing of the first requester's changed.
    assert mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]["AssignmentStatus"] == (
        "Submitted"
    )


def test_pagination_over_250_hits(mturk, mturk_requester):
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    hit_type = HITType.objects.get(hit_type_id=type_id)
    made = [create_hit(mturk)["HITId"]]  # one through boto3, the rest by the same service
    made += [
        hit_create(
            requester=mturk_requester, hit_type=hit_type, max_assignments=1,
            lifetime_seconds=3600, question=HTML_QUESTION, annotation=str(n),
        ).hit_id
        for n in range(249)
    ]  # fmt: skip
    seen, pages, token = [], 0, None
    while True:
        page = mturk.list_hits(MaxResults=100, **({"NextToken": token} if token else {}))
        pages += 1
        seen += [h["HITId"] for h in page["HITs"]]
        assert page["NumResults"] == len(page["HITs"]) <= 100
        token = page.get("NextToken")
        if token is None:
            break
    assert pages == 3 and seen == made
    assert mturk.list_hits()["NumResults"] == 10  # MTurk's default page
    # boto3's own paginator walks the same pages.
    paginator = mturk.get_paginator("list_hits")
    walked = [h["HITId"] for p in paginator.paginate(PaginationConfig={"PageSize": 64})
              for h in p["HITs"]]  # fmt: skip
    assert walked == made
    _refused(lambda: mturk.list_hits(NextToken="not-ours"), "ParameterValidationError")
    with pytest.raises(ClientError):
        mturk.list_hits(MaxResults=101)

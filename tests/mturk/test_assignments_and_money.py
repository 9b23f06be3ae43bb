"""Assignments, review, bonuses and the balance through boto3, with the ledger checked."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from marketplace.mturk.ids import assignment_text
from payments import services as payments
from payments.selectors import ledger_problems
from tasks.models import Item
from tasks.selectors import worker_public_id
from tests.factories import fund
from tests.mturk.conftest import answer_hit, create_hit

pytestmark = pytest.mark.django_db(transaction=True)


def turk_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response.get("TurkErrorCode", "")


def test_list_filter_approve_reject(mturk, mturk_requester):
    hit = create_hit(mturk, MaxAssignments=3)
    good_worker, good = answer_hit(hit["HITId"], {"sentiment": "positive"})
    bad_worker, bad = answer_hit(hit["HITId"], {"sentiment": "spam"})
    listed = mturk.list_assignments_for_hit(HITId=hit["HITId"])
    assert listed["NumResults"] == 2
    shape = listed["Assignments"][0]
    assert shape["WorkerId"] == worker_public_id(mturk_requester.pk, good_worker.pk)
    assert shape["AcceptTime"] <= shape["SubmitTime"] < shape["AutoApprovalTime"]
    assert shape["Answer"].startswith('<?xml version="1.0" encoding="ASCII"?>')

    mturk.approve_assignment(AssignmentId=assignment_text(good))
    mturk.reject_assignment(AssignmentId=assignment_text(bad), RequesterFeedback="Not an answer")
    approved = mturk.list_assignments_for_hit(HITId=hit["HITId"], AssignmentStatuses=["Approved"])
    assert [a["AssignmentId"] for a in approved["Assignments"]] == [assignment_text(good)]
    rejected = mturk.get_assignment(AssignmentId=assignment_text(bad))["Assignment"]
    assert rejected["AssignmentStatus"] == "Rejected"
    assert rejected["RequesterFeedback"] == "Not an answer" and "RejectionTime" in rejected
    # The worker was paid the reward from escrow; the rejected slot is open again.
    assert payments.worker_available(worker_id=good_worker.pk, currency="usd") == 5
    assert payments.worker_available(worker_id=bad_worker.pk, currency="usd") == 0
    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert got["NumberOfAssignmentsAvailable"] == 2 and got["NumberOfAssignmentsCompleted"] == 2
    with pytest.raises(ClientError) as error:
        mturk.approve_assignment(AssignmentId=assignment_text(good))
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidTransition"
    with pytest.raises(ClientError) as error:
        mturk.approve_assignment(AssignmentId=assignment_text(bad))
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidTransition"
    with pytest.raises(ClientError) as error:
        mturk.list_assignments_for_hit(HITId=hit["HITId"], AssignmentStatuses=["Accepted"])
    assert error.value.response["Error"]["Code"] == "RequestError"
    assert ledger_problems() == []


def test_bonus_once_per_token_and_listed(mturk, mturk_requester):
    hit = create_hit(mturk)
    worker, pk = answer_hit(hit["HITId"], {"sentiment": "positive"})
    worker_id = worker_public_id(mturk_requester.pk, worker.pk)
    before = payments.requester_available(requester_id=mturk_requester.pk, currency="usd")
    mturk.send_bonus(
        WorkerId=worker_id, BonusAmount="1.25", AssignmentId=assignment_text(pk),
        Reason="Great work", UniqueRequestToken="bonus-1",
    )  # fmt: skip
    with pytest.raises(ClientError) as error:
        mturk.send_bonus(
            WorkerId=worker_id, BonusAmount="1.25", AssignmentId=assignment_text(pk),
            Reason="Great work", UniqueRequestToken="bonus-1",
        )  # fmt: skip
    assert turk_code(error) == "AWS.MechanicalTurk.DuplicateRequest"
    assert payments.worker_available(worker_id=worker.pk, currency="usd") == 125
    spent = before - payments.requester_available(requester_id=mturk_requester.pk, currency="usd")
    assert spent > 125  # the bonus and our fee on it
    by_hit = mturk.list_bonus_payments(HITId=hit["HITId"])["BonusPayments"]
    by_assignment = mturk.list_bonus_payments(AssignmentId=assignment_text(pk))["BonusPayments"]
    assert by_hit == by_assignment and len(by_hit) == 1
    assert by_hit[0]["BonusAmount"] == "1.25" and by_hit[0]["WorkerId"] == worker_id
    with pytest.raises(ClientError) as error:
        mturk.send_bonus(
            WorkerId="w_000000000000", BonusAmount="1.00", AssignmentId=assignment_text(pk),
            Reason="x",
        )  # fmt: skip
    assert turk_code(error) == "AWS.MechanicalTurk.WorkerDoesNotMatch"
    with pytest.raises(ClientError):
        mturk.send_bonus(
            WorkerId=worker_id, BonusAmount="0.001", AssignmentId=assignment_text(pk), Reason="x"
        )
    with pytest.raises(ClientError):
        mturk.list_bonus_payments()
    assert ledger_problems() == []


def test_insufficient_funds(live_server, mturk, mturk_requester):
    # Spend all but 10 cents, then ask for a HIT whose escrow costs more.
    available = payments.requester_available(requester_id=mturk_requester.pk, currency="usd")
    create_hit(mturk, Reward="1.00", MaxAssignments=1)
    left = payments.requester_available(requester_id=mturk_requester.pk, currency="usd")
    assert left < available
    with pytest.raises(ClientError) as error:
        create_hit(mturk, Reward="10.00", MaxAssignments=100)
    assert error.value.response["Error"]["Code"] == "RequestError"
    assert turk_code(error) == "AWS.MechanicalTurk.InsufficientFunds"
    assert "short" in error.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == 1  # nothing half-made
    assert Item.objects.count() == 1
    fund(mturk_requester, 1_000_000)
    assert create_hit(mturk, Reward="10.00", MaxAssignments=100)["MaxAssignments"] == 100
    assert ledger_problems() == []


def test_create_hit_token_is_idempotent(mturk):
    hit = create_hit(mturk, UniqueRequestToken="row-17")
    with pytest.raises(ClientError) as error:
        create_hit(mturk, UniqueRequestToken="row-17")
    assert turk_code(error) == "AWS.MechanicalTurk.HitAlreadyExists"
    assert hit["HITId"] in error.value.response["Error"]["Message"]
    assert mturk.list_hits()["NumResults"] == 1


def test_file_upload_url_says_there_is_no_file(mturk):
    hit = create_hit(mturk)
    _, pk = answer_hit(hit["HITId"], {"sentiment": "x"})
    with pytest.raises(ClientError) as error:
        mturk.get_file_upload_url(AssignmentId=assignment_text(pk), QuestionIdentifier="sentiment")
    assert turk_code(error) == "AWS.MechanicalTurk.NoFileUpload"


@pytest.mark.parametrize("slot_taken", [False, True])
def test_override_rejection_pays_the_worker(mturk, mturk_requester, slot_taken):
    hit = create_hit(mturk, MaxAssignments=1)
    worker, pk = answer_hit(hit["HITId"], {"sentiment": "fine"})
    mturk.reject_assignment(AssignmentId=assignment_text(pk), RequesterFeedback="Too short")
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["NumberOfAssignmentsAvailable"] == 1
    if slot_taken:  # someone else already took the slot the rejection gave back
        answer_hit(hit["HITId"], {"sentiment": "other"})
    available = payments.requester_available(requester_id=mturk_requester.pk, currency="usd")
    mturk.approve_assignment(
        AssignmentId=assignment_text(pk), OverrideRejection=True, RequesterFeedback="Sorry"
    )
    got = mturk.get_assignment(AssignmentId=assignment_text(pk))["Assignment"]
    assert got["AssignmentStatus"] == "Approved" and got["RequesterFeedback"] == "Sorry"
    assert payments.worker_available(worker_id=worker.pk, currency="usd") == 5
    spent = available - payments.requester_available(
        requester_id=mturk_requester.pk, currency="usd"
    )
    hit_now = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    if slot_taken:
        assert spent > 0  # one more judgment reserved: the slot's escrow went to the other
    else:
        assert spent == 0 and hit_now["NumberOfAssignmentsAvailable"] == 0
    worker.worker_profile.refresh_from_db()
    assert (worker.worker_profile.approved_count, worker.worker_profile.rejected_count) == (1, 0)
    assert ledger_problems() == []

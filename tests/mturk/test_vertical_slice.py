"""The first slice end to end with boto3's unmodified client: keys, SigV4, a HIT created and
read back, a worker's answer as QuestionFormAnswers XML, approval paying from escrow."""

from __future__ import annotations

import pytest

from marketplace.mturk.ids import assignment_text
from payments.selectors import ledger_problems
from tests.mturk.conftest import answer_hit, create_hit

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_get_list_answer_approve(mturk):
    assert mturk.get_account_balance()["AvailableBalance"] == "1000.00"
    hit = create_hit(mturk, RequesterAnnotation="batch-1")
    assert hit["HITStatus"] == "Assignable"
    assert hit["NumberOfAssignmentsAvailable"] == 2
    assert hit["Reward"] == "0.05" and hit["RequesterAnnotation"] == "batch-1"
    balance = mturk.get_account_balance()
    # 2 assignments x (5 cents + the platform's fee, at least 1 cent) are on hold now.
    held = int(balance["OnHoldBalance"].replace(".", ""))
    assert held >= 2 * 6
    assert int(balance["AvailableBalance"].replace(".", "")) == 100_000 - held

    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert got["HITId"] == hit["HITId"] and got["Question"].startswith("<HTMLQuestion")
    listed = mturk.list_hits()
    assert [h["HITId"] for h in listed["HITs"]] == [hit["HITId"]]

    worker, assignment_pk = answer_hit(hit["HITId"], {"sentiment": "positive"})
    assignments = mturk.list_assignments_for_hit(HITId=hit["HITId"])["Assignments"]
    assert len(assignments) == 1
    assignment = assignments[0]
    assert assignment["AssignmentId"] == assignment_text(assignment_pk)
    assert assignment["AssignmentStatus"] == "Submitted"
    assert "<QuestionIdentifier>sentiment</QuestionIdentifier>" in assignment["Answer"]
    assert "<FreeText>positive</FreeText>" in assignment["Answer"]

    mturk.approve_assignment(AssignmentId=assignment["AssignmentId"], RequesterFeedback="Thanks")
    done = mturk.get_assignment(AssignmentId=assignment["AssignmentId"])
    assert done["Assignment"]["AssignmentStatus"] == "Approved"
    assert done["Assignment"]["RequesterFeedback"] == "Thanks"
    assert done["HIT"]["NumberOfAssignmentsCompleted"] == 1
    assert ledger_problems() == []

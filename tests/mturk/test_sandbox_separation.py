"""The sandbox endpoint and the live one are two worlds, as MTurk's were: each lists, finds
and acts on its own HITs, HIT types and assignments only (the same keys on both)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from marketplace.mturk.ids import assignment_text
from marketplace.mturk.keys import access_key_create
from tasks.sandbox import sandbox_tester_add
from tests.factories import WorkerFactory
from tests.mturk.conftest import HTML_QUESTION, answer_hit, create_hit, mturk_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sandbox(live_server, mturk_requester):
    key, secret = access_key_create(requester=mturk_requester)
    client = mturk_client(live_server.url, key.access_key_id, secret, path="/mturk/sandbox/")
    yield client
    client.close()


def _missing(call, code: str = "HitDoesNotExist") -> None:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["TurkErrorCode"] == f"AWS.MechanicalTurk.{code}"


def test_each_endpoint_sees_its_own_world(mturk, sandbox, mturk_requester):
    live_hit = create_hit(mturk)
    play_hit = create_hit(sandbox, MaxAssignments=1)
    assert [h["HITId"] for h in mturk.list_hits()["HITs"]] == [live_hit["HITId"]]
    assert [h["HITId"] for h in sandbox.list_hits()["HITs"]] == [play_hit["HITId"]]
    _missing(lambda: mturk.get_hit(HITId=play_hit["HITId"]))
    _missing(lambda: sandbox.get_hit(HITId=live_hit["HITId"]))
    _missing(
        lambda: mturk.create_hit_with_hit_type(
            HITTypeId=play_hit["HITTypeId"], LifetimeInSeconds=600, Question=HTML_QUESTION
        ),
        "HITTypeDoesNotExist",
    )
    tester = WorkerFactory()
    sandbox_tester_add(requester=mturk_requester, worker=tester)
    _, pk = answer_hit(play_hit["HITId"], {"sentiment": "test"}, worker=tester)
    assert sandbox.list_reviewable_hits()["NumResults"] == 1
    assert mturk.list_reviewable_hits()["NumResults"] == 0
    _missing(lambda: mturk.get_assignment(AssignmentId=assignment_text(pk)),
             "AssignmentDoesNotExist")  # fmt: skip
    sandbox.approve_assignment(AssignmentId=assignment_text(pk))
    assert (
        sandbox.get_assignment(AssignmentId=assignment_text(pk))["Assignment"]["AssignmentStatus"]
        == "Approved"
    )

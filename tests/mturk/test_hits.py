"""HIT types and HITs through boto3: types reused for the same properties, HITs created,
read, listed, expired (escrow back at once), extended, given more assignments, marked for
review, moved to another type and deleted; the ledger balances after each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from marketplace.mturk.hits import hits_close_due
from marketplace.mturk.models import HIT
from payments.selectors import ledger_problems
from tasks.models import Bundle, BundleStatus, ItemState
from tests.mturk.conftest import HIT_TYPE, HTML_QUESTION, answer_hit, create_hit

pytestmark = pytest.mark.django_db(transaction=True)


def cents(text: str) -> int:
    return int(text.replace(".", ""))


def balance(client) -> tuple[int, int]:
    answer = client.get_account_balance()
    return cents(answer["AvailableBalance"]), cents(answer["OnHoldBalance"])


def turk_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return error.value.response.get("TurkErrorCode", "")


def test_same_properties_same_hit_type(mturk):
    first = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    assert mturk.create_hit_type(**HIT_TYPE)["HITTypeId"] == first
    other = mturk.create_hit_type(**{**HIT_TYPE, "Reward": "0.10"})["HITTypeId"]
    assert other != first
    hit = mturk.create_hit_with_hit_type(
        HITTypeId=first, MaxAssignments=3, LifetimeInSeconds=600, Question=HTML_QUESTION
    )["HIT"]
    assert hit["HITTypeId"] == first and hit["MaxAssignments"] == 3
    # CreateHIT with the same properties lands in the same type (and bundle).
    assert create_hit(mturk)["HITTypeId"] == first
    assert Bundle.objects.filter(status=BundleStatus.PUBLISHED).count() == 1


def test_hit_type_with_qualification_requirements(mturk):
    qual = mturk.create_qualification_type(
        Name="Trained", Description="Passed our training", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    requirements = [
        {"QualificationTypeId": qual, "Comparator": "GreaterThanOrEqualTo",
         "IntegerValues": [80], "ActionsGuarded": "Accept"},
        {"QualificationTypeId": "00000000000000000071", "Comparator": "In",
         "LocaleValues": [{"Country": "US"}, {"Country": "DE"}]},
        {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThan",
         "IntegerValues": [95]},
    ]  # fmt: skip
    hit = create_hit(mturk, QualificationRequirements=requirements)
    assert hit["QualificationRequirements"][0]["QualificationTypeId"] == qual
    bundle = Bundle.objects.get(pk=HIT.objects.get(hit_id=hit["HITId"]).item.bundle_id)
    assert [r["comparator"] for r in bundle.requirements] == [
        "GreaterThanOrEqualTo", "In", "GreaterThan"
    ]  # fmt: skip
    assert bundle.requirements[1]["values"] == ["US", "DE"]
    with pytest.raises(ClientError) as error:
        create_hit(mturk, QualificationRequirements=[
            {"QualificationTypeId": "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH", "Comparator": "Exists"}
        ])  # fmt: skip
    assert turk_code(error) == "AWS.MechanicalTurk.QualificationTypeDoesNotExist"


def test_get_and_list_hits(mturk, other_mturk):
    hits = [create_hit(mturk, RequesterAnnotation=f"row {n}") for n in range(3)]
    listed = mturk.list_hits(MaxResults=2)
    assert listed["NumResults"] == 2 and "NextToken" in listed
    rest = mturk.list_hits(MaxResults=2, NextToken=listed["NextToken"])
    assert rest["NumResults"] == 1 and "NextToken" not in rest
    ids = [h["HITId"] for h in listed["HITs"] + rest["HITs"]]
    assert ids == [h["HITId"] for h in hits]
    got = mturk.get_hit(HITId=hits[1]["HITId"])["HIT"]
    assert got["RequesterAnnotation"] == "row 1" and got["Question"] == HTML_QUESTION
    assert got["Expiration"] > datetime.now(UTC)
    assert other_mturk.list_hits()["NumResults"] == 0


def test_expire_releases_escrow_and_extend_reopens(mturk):
    before = balance(mturk)
    hit = create_hit(mturk, MaxAssignments=3)
    available, held = balance(mturk)
    assert available + held == sum(before) and held > 0
    answer_hit(hit["HITId"], {"sentiment": "yes"})
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime(2015, 1, 1))
    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert got["HITStatus"] == "Reviewable" and got["NumberOfAssignmentsAvailable"] == 0
    after_expiry = balance(mturk)
    assert after_expiry[1] == held // 3  # one submitted answer still to pay, two slots back
    assert ledger_problems() == []
    mturk.update_expiration_for_hit(
        HITId=hit["HITId"], ExpireAt=datetime.now(UTC) + timedelta(hours=1)
    )
    reopened = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert reopened["HITStatus"] == "Assignable"
    assert reopened["NumberOfAssignmentsAvailable"] == 2
    assert balance(mturk)[1] == held
    assert ledger_problems() == []


def test_the_beat_closes_hits_past_their_lifetime(mturk):
    hit = create_hit(mturk, MaxAssignments=2)
    row = HIT.objects.get(hit_id=hit["HITId"])
    HIT.objects.filter(pk=row.pk).update(expires_at=row.created_at)
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    assert hits_close_due() == 1
    assert hits_close_due() == 0  # idempotent
    row.item.refresh_from_db()
    assert row.item.state == ItemState.COMPLETE and row.item.slots_open == 0
    assert balance(mturk) == (100_000, 0)
    # Its only HIT closed with no work left: the HIT type's bundle stays live (a HIT can be
    # extended, as on MTurk), and the type's next HIT joins it.
    bundle = Bundle.objects.get(pk=row.item.bundle_id)
    assert bundle.status == BundleStatus.PUBLISHED and bundle.open_ended
    again = create_hit(mturk)
    assert again["HITTypeId"] == hit["HITTypeId"]
    assert HIT.objects.get(hit_id=again["HITId"]).item.bundle_id == bundle.pk
    assert ledger_problems() == []


def test_additional_assignments_with_token(mturk):
    hit = create_hit(mturk, MaxAssignments=1)
    _, held = balance(mturk)
    mturk.create_additional_assignments_for_hit(
        HITId=hit["HITId"], NumberOfAdditionalAssignments=2, UniqueRequestToken="more-1"
    )
    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert got["MaxAssignments"] == 3 and got["NumberOfAssignmentsAvailable"] == 3
    assert balance(mturk)[1] == 3 * held
    with pytest.raises(ClientError) as error:
        mturk.create_additional_assignments_for_hit(
            HITId=hit["HITId"], NumberOfAdditionalAssignments=2, UniqueRequestToken="more-1"
        )
    assert turk_code(error) == "AWS.MechanicalTurk.DuplicateRequest"
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 3
    assert ledger_problems() == []


def test_review_status_and_reviewable_hits(mturk):
    done = create_hit(mturk, MaxAssignments=1)
    open_hit = create_hit(mturk, MaxAssignments=1)
    answer_hit(done["HITId"], {"sentiment": "a"})
    reviewable = mturk.list_reviewable_hits()["HITs"]
    assert [h["HITId"] for h in reviewable] == [done["HITId"]]
    assert mturk.list_reviewable_hits(HITTypeId="3NOPE")["NumResults"] == 0
    mturk.update_hit_review_status(HITId=done["HITId"], Revert=False)
    assert mturk.get_hit(HITId=done["HITId"])["HIT"]["HITStatus"] == "Reviewing"
    assert mturk.list_reviewable_hits()["NumResults"] == 0
    reviewing = mturk.list_reviewable_hits(Status="Reviewing")["HITs"]
    assert [h["HITId"] for h in reviewing] == [done["HITId"]]
    mturk.update_hit_review_status(HITId=done["HITId"], Revert=True)
    assert mturk.get_hit(HITId=done["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    assert mturk.get_hit(HITId=open_hit["HITId"])["HIT"]["HITStatus"] == "Assignable"


def test_change_hit_type_moves_the_escrow(mturk):
    hit = create_hit(mturk, MaxAssignments=2)
    dearer = mturk.create_hit_type(**{**HIT_TYPE, "Reward": "0.50"})["HITTypeId"]
    _, held = balance(mturk)
    mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=dearer)
    moved = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert moved["HITTypeId"] == dearer and moved["Reward"] == "0.50"
    assert balance(mturk)[1] > held
    assert ledger_problems() == []
    answer_hit(hit["HITId"], {"sentiment": "x"})
    with pytest.raises(ClientError) as error:
        mturk.update_hit_type_of_hit(HITId=hit["HITId"], HITTypeId=hit["HITTypeId"])
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidHITState"


def test_delete_hit_only_when_done(mturk):
    hit = create_hit(mturk, MaxAssignments=1)
    with pytest.raises(ClientError) as error:
        mturk.delete_hit(HITId=hit["HITId"])
    assert turk_code(error) == "AWS.MechanicalTurk.InvalidHITState"
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime(2015, 1, 1))
    mturk.delete_hit(HITId=hit["HITId"])
    assert mturk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Disposed"
    assert mturk.list_hits()["NumResults"] == 0
    assert balance(mturk) == (100_000, 0)
    assert ledger_problems() == []


def test_review_policy_results_and_unsupported_parameters(mturk):
    hit = create_hit(mturk)
    assert mturk.list_review_policy_results_for_hit(HITId=hit["HITId"])["HITId"] == hit["HITId"]
    with pytest.raises(ClientError) as error:
        create_hit(mturk, HITReviewPolicy={"PolicyName": "SimplePlurality/2011-09-01"})
    assert turk_code(error) == "AWS.MechanicalTurk.UnsupportedParameter"
    with pytest.raises(ClientError) as error:
        mturk.create_hit(**HIT_TYPE, LifetimeInSeconds=600, HITLayoutId="LAYOUT")
    assert turk_code(error) == "AWS.MechanicalTurk.UnsupportedParameter"


def test_bad_values_refused_cleanly(mturk):
    for extra in (
        {"Reward": "0.001"},
        {"Reward": "five cents"},
        {"Reward": "0.00"},
        {"UniqueRequestToken": "t" * 65},
        {"MaxAssignments": 101},
        {"LifetimeInSeconds": 10},
        {"AssignmentDurationInSeconds": 5},
        {"RequesterAnnotation": "a" * 256},
        {"Question": "<NotAQuestion/>"},
        {"Question": "<HTMLQuestion><broken"},
    ):
        with pytest.raises(ClientError) as error:
            create_hit(mturk, **extra)
        assert error.value.response["Error"]["Code"] == "RequestError", extra
    assert mturk.list_hits()["NumResults"] == 0
    assert create_hit(mturk, Reward="0.050")["Reward"] == "0.05"


def test_a_bundle_cancelled_in_the_console_hands_out_nothing(mturk, mturk_requester):
    from tasks.services import bundle_cancel

    hit = create_hit(mturk, MaxAssignments=2)
    bundle = Bundle.objects.get(pk=HIT.objects.get(hit_id=hit["HITId"]).item.bundle_id)
    bundle_cancel(bundle=bundle, by=mturk_requester)
    got = mturk.get_hit(HITId=hit["HITId"])["HIT"]
    assert got["HITStatus"] == "Reviewable" and got["NumberOfAssignmentsAvailable"] == 0
    assert balance(mturk) == (100_000, 0)  # the cancel settled the escrow
    with pytest.raises(ClientError) as error:
        mturk.create_additional_assignments_for_hit(
            HITId=hit["HITId"], NumberOfAdditionalAssignments=1
        )
    assert turk_code(error) == "AWS.MechanicalTurk.HITNotExtendable"
    mturk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime(2015, 1, 1))
    assert hits_close_due() == 0  # closed: nothing is released twice
    mturk.delete_hit(HITId=hit["HITId"])
    assert balance(mturk) == (100_000, 0)
    assert ledger_problems() == []

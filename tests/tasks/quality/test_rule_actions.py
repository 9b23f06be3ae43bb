"""The rules engine's actions short of a block: reject and requeue, pause, lower the weight,
grant or revoke a qualification. Each writes its history row with the rule and figures, is
reversible (an overturned rejection pays once), and the worker sees the reason."""

from __future__ import annotations

import pytest

from accounts.models import WorkerQualification
from accounts.services import qualification_create, qualification_grant
from marketplace.errors import DomainError, InvalidTransition
from payments.services import worker_available
from tasks import work
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Item,
    ItemResult,
    ItemState,
    QualityRuleEvent,
    WorkerBundleStats,
)
from tasks.quality.decisions import weighed_accuracy
from tasks.quality.rules_engine import quality_rules_validate, rule_event_reverse
from tests.conftest import client_for
from tests.factories import RequesterFactory, WorkerFactory
from tests.payments.helpers import assert_ledger_balanced

from .conftest import claim_submit, live_bundle_with

pytestmark = pytest.mark.django_db

SPEED = {"collector": "answer_speed", "min_answers": 2}


def speed_bundle(action: str, *, items=8, overlap=1, requester=None, **params):
    extra = {"requester": requester} if requester is not None else {}
    return live_bundle_with(
        items=items, min_overlap=overlap, max_overlap=overlap,
        quality_rules=quality_rules_validate([{**SPEED, "action": action, **params}]), **extra,
    )  # fmt: skip


def stats(worker, bundle):
    return WorkerBundleStats.objects.get(worker=worker, bundle=bundle)


def good_crowd(bundle, workers=3, answers=1):
    for _ in range(workers):
        worker = WorkerFactory()
        for _ in range(answers):
            claim_submit(bundle, worker, "pos", seconds=30)


def test_validation_of_the_action_parameters():
    assert quality_rules_validate([{**SPEED, "action": "reject_requeue"}])[0]["recent"] == 50
    assert quality_rules_validate([{**SPEED, "action": "lower_weight"}])[0]["weight"] == 0.3
    grant = quality_rules_validate(
        [{**SPEED, "action": "grant_qualification", "qualification": "suspect"}]
    )[0]
    assert grant["qualification"] == "suspect" and grant["value"] == 1
    for bad, words in [
        ({**SPEED, "action": "lower_weight", "weight": 1.5}, "weight must be"),
        ({**SPEED, "action": "reject_requeue", "recent": 0}, "recent must be"),
        ({**SPEED, "action": "grant_qualification"}, "qualification must name"),
        ({**SPEED, "action": "block", "weight": 0.5}, "weight does not apply to block"),
        ({**SPEED, "action": "revoke_qualification", "qualification": "q", "value": 2},
         "value does not apply"),
    ]:  # fmt: skip
        with pytest.raises(DomainError, match=words):
            quality_rules_validate([bad])


def test_a_rule_naming_someone_elses_qualification_is_refused(requester):
    qualification_create(owner=RequesterFactory(), name="theirs")
    qualification_create(owner=requester, name="mine")
    body = {
        "title": "t", "instructions": "i", "reward": 5, "overlap": 1,
        "question": {"type": "single_choice",
                     "choices": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]},
    }  # fmt: skip
    api = client_for(requester)
    for name, status in [("theirs", 400), ("nobody", 400), ("mine", 201)]:
        rule = {**SPEED, "action": "grant_qualification", "qualification": name}
        response = api.post("/api/v1/bundles/", {**body, "quality_rules": [rule]}, format="json")
        assert response.status_code == status, response.json()
        if status == 400:
            assert response.json()["code"] == "invalid_quality_rules"


def test_reject_and_requeue_then_overturn_pays_once():
    bundle = speed_bundle("reject_requeue")
    good_crowd(bundle)
    spammer = WorkerFactory()
    answers = [claim_submit(bundle, spammer, "pos") for _ in range(2)]
    event = QualityRuleEvent.objects.get(worker=spammer)
    assert event.action == "reject_requeue" and event.figures["fast"] == 2
    assert sorted(event.figures["rejected"]) == sorted(a.pk for a in answers)
    for answer in answers:
        answer.refresh_from_db()
        assert answer.status == AssignmentStatus.REJECTED
        assert event.reason in answer.reject_reason  # the worker reads the rule and figures
        item = Item.objects.get(pk=answer.item_id)
        assert item.state == ItemState.OPEN and item.slots_open == 1  # requeued
    assert not stats(spammer, bundle).blocked  # may go on, and is judged on new work only
    assert worker_available(worker_id=spammer.pk, currency=bundle.currency) == 0

    rule_event_reverse(event_id=event.pk, by=bundle.requester)
    for answer in answers:
        answer.refresh_from_db()
        assert answer.status == AssignmentStatus.APPROVED and answer.reject_reason == ""
        assert Item.objects.get(pk=answer.item_id).state == ItemState.COMPLETE  # counts again
    paid = worker_available(worker_id=spammer.pk, currency=bundle.currency)
    assert paid == 2 * bundle.reward_minor
    with pytest.raises(DomainError):
        rule_event_reverse(event_id=event.pk, by=bundle.requester)
    from tasks.review import assignment_overturn

    with pytest.raises(InvalidTransition):  # overturned already: nothing more is paid
        assignment_overturn(assignment_id=answers[0].pk, by=bundle.requester)
    assert worker_available(worker_id=spammer.pk, currency=bundle.currency) == paid
    s = stats(spammer, bundle)
    assert (s.approved, s.rejected) == (2, 0)
    assert_ledger_balanced()


def test_a_reject_rule_fires_again_only_on_newer_evidence():
    bundle = speed_bundle("reject_requeue")
    good_crowd(bundle)
    spammer = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, spammer, "pos")
    claim_submit(bundle, spammer, "pos")  # one new fast answer: under min_answers since
    assert QualityRuleEvent.objects.filter(worker=spammer).count() == 1
    claim_submit(bundle, spammer, "pos")
    events = QualityRuleEvent.objects.filter(worker=spammer).order_by("id")
    assert events.count() == 2 and len(events[1].figures["rejected"]) == 2
    assert_ledger_balanced()


def test_pause_stops_claims_until_resumed_and_keeps_the_answers():
    bundle = speed_bundle("pause")
    good_crowd(bundle)
    fast = WorkerFactory()
    answers = [claim_submit(bundle, fast, "pos") for _ in range(2)]
    event = QualityRuleEvent.objects.get(worker=fast, action="pause")
    assert stats(fast, bundle).paused and not stats(fast, bundle).blocked
    with pytest.raises(DomainError) as refused:
        work.assignment_claim(bundle=bundle, worker=fast)
    assert refused.value.code == "paused" and "answer speed" in refused.value.detail
    for answer in answers:  # a pause judges no answer: they still count
        answer.refresh_from_db()
        assert answer.status == AssignmentStatus.SUBMITTED
        assert Item.objects.get(pk=answer.item_id).judgments_submitted == 1
    listed = client_for(fast).get("/api/v1/work/bundles/").json()["results"]
    assert bundle.pk not in [b["id"] for b in listed]  # find work hides it meanwhile

    rule_event_reverse(event_id=event.pk, by=bundle.requester)
    assert not stats(fast, bundle).paused
    assert work.assignment_claim(bundle=bundle, worker=fast).status == AssignmentStatus.CLAIMED
    # the pause stands until reversed: it is not taken twice for the same old evidence
    assert QualityRuleEvent.objects.filter(worker=fast).count() == 1
    # and after the reversal only newer evidence counts: one more fast answer is not enough
    claim_submit(bundle, fast, "pos")
    assert not stats(fast, bundle).paused
    assert QualityRuleEvent.objects.filter(worker=fast).count() == 1


def test_weighed_accuracy_scales_the_vote_weight():
    assert weighed_accuracy(0.9, 1.0, 2) == pytest.approx(0.9)
    assert weighed_accuracy(0.9, 0.0, 5) == pytest.approx(0.2)  # chance: no weight at all
    assert 0.5 < weighed_accuracy(0.9, 0.5, 2) < 0.9


def test_lower_weight_lowers_the_workers_say_in_the_live_label_and_is_restored():
    # One item more than the crowd answers keeps the bundle live: at completion the
    # whole-bundle run relabels every item.
    bundle = speed_bundle("lower_weight", items=3, overlap=3, weight=0.2)
    good_crowd(bundle, workers=2, answers=2)
    fast = WorkerFactory()
    first = claim_submit(bundle, fast, "pos")
    full = ItemResult.objects.get(item_id=first.item_id).confidence
    claim_submit(bundle, fast, "pos")
    event = QualityRuleEvent.objects.get(worker=fast, action="lower_weight")
    assert event.figures["previous_weight"] == 1.0 and event.figures["weight"] == 0.2
    assert stats(fast, bundle).weight == 0.2
    lowered = ItemResult.objects.get(item_id=first.item_id).confidence
    assert lowered < full  # three agreeing votes, one of them now weighs less

    rule_event_reverse(event_id=event.pk, by=bundle.requester)
    assert stats(fast, bundle).weight == 1.0
    assert ItemResult.objects.get(item_id=first.item_id).confidence == pytest.approx(full)


def test_grant_and_revoke_a_qualification_and_their_reversal():
    requester = RequesterFactory()
    flagged = qualification_create(owner=requester, name="fast-clicker")
    trusted = qualification_create(owner=requester, name="trusted")
    grant = speed_bundle(
        "grant_qualification", requester=requester, qualification="fast-clicker", value=3
    )
    good_crowd(grant)
    fast = WorkerFactory()
    qualification_grant(qualification=trusted, worker=fast, value=7)
    for _ in range(2):
        claim_submit(grant, fast, "pos")
    held = WorkerQualification.objects.get(worker=fast, qualification=flagged)
    assert held.value == 3
    granted = QualityRuleEvent.objects.get(worker=fast, action="grant_qualification")
    assert granted.figures["previous_value"] is None

    revoke = speed_bundle("revoke_qualification", requester=requester, qualification="trusted")
    good_crowd(revoke)
    for _ in range(2):
        claim_submit(revoke, fast, "pos")
    assert not WorkerQualification.objects.filter(worker=fast, qualification=trusted).exists()
    revoked = QualityRuleEvent.objects.get(worker=fast, action="revoke_qualification")

    rule_event_reverse(event_id=granted.pk, by=requester)
    assert not WorkerQualification.objects.filter(worker=fast, qualification=flagged).exists()
    rule_event_reverse(event_id=revoked.pk, by=requester)
    assert WorkerQualification.objects.get(worker=fast, qualification=trusted).value == 7


def test_the_worker_sees_each_action_and_its_reason_and_no_one_elses(client):
    bundle = speed_bundle("pause")
    good_crowd(bundle)
    fast = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, fast, "pos")
    event = QualityRuleEvent.objects.get(worker=fast)
    rows = client_for(fast).get("/api/v1/work/quality-events/").json()["results"]
    assert [(r["id"], r["action"], r["reason"]) for r in rows] == [
        (event.pk, "pause", event.reason)
    ]
    assert "figures" not in rows[0]
    assert client_for(WorkerFactory()).get("/api/v1/work/quality-events/").json()["results"] == []
    client.force_login(fast)
    page = client.get("/work/profile/").content.decode()
    assert f'data-rule-event="{event.pk}"' in page and "Paused for review" in page


def test_the_requester_reverses_from_the_bundle_page_and_no_one_else_can(client):
    bundle = speed_bundle("pause")
    good_crowd(bundle)
    fast = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, fast, "pos")
    event = QualityRuleEvent.objects.get(worker=fast)
    url = f"/bundles/{bundle.pk}/rule-events/{event.pk}/reverse/"
    client.force_login(RequesterFactory())
    assert client.post(url).status_code == 404
    assert stats(fast, bundle).paused
    client.force_login(bundle.requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert url in html and "Paused for review" in html
    assert client.post(url).status_code == 302
    assert not stats(fast, bundle).paused
    event.refresh_from_db()
    assert event.reversed_by == bundle.requester


def test_history_rows_carry_the_rule_and_its_figures():
    bundle = speed_bundle("lower_weight")
    good_crowd(bundle)
    fast = WorkerFactory()
    for _ in range(2):
        claim_submit(bundle, fast, "pos")
    event = QualityRuleEvent.objects.get(worker=fast)
    assert event.rule == {**bundle.quality_rules[0], "index": 0}
    assert {"value", "n", "fast", "answers", "floor_seconds", "bundles"} <= set(event.figures)
    assert Assignment.objects.filter(worker=fast, status=AssignmentStatus.SUBMITTED).count() == 2

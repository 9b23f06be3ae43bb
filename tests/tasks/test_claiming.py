"""Claiming: who gets what, never beyond what an item needs, and what happens on the way."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import WorkerStatus
from accounts.services import worker_set_status
from marketplace.errors import DomainError
from tasks import services, work
from tasks.models import Assignment, AssignmentStatus, Item, ItemState, WorkerBundleStats
from tasks.quality import blocking
from tasks.work import claim as claiming
from tasks.work import sql as work_sql
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


def claim(bundle, worker):
    return work.assignment_claim(bundle=bundle, worker=worker)


def test_claim_takes_a_slot_and_sets_the_deadline(live_bundle, workers):
    before = timezone.now()
    assignment = claim(live_bundle, workers[0])
    item = Item.objects.get(pk=assignment.item_id)
    assert item.slots_open == 2
    assert assignment.deadline >= before + timedelta(seconds=live_bundle.time_limit_seconds)
    assert assignment.status == AssignmentStatus.CLAIMED


def test_a_worker_holds_one_claim_per_bundle_and_a_retry_returns_it(live_bundle, workers):
    first = claim(live_bundle, workers[0])
    again = claim(live_bundle, workers[0])
    assert again.pk == first.pk
    assert Assignment.objects.filter(worker=workers[0]).count() == 1


def test_a_worker_never_gets_the_same_item_twice(live_bundle, workers):
    seen = []
    while True:
        try:
            assignment = claim(live_bundle, workers[0])
        except DomainError as exc:
            assert exc.code == "no_tasks_available"
            break
        seen.append(assignment.item_id)
        services.assignment_submit(assignment_id=assignment.pk, worker=workers[0], answer="pos")
    assert len(seen) == len(set(seen)) == 4


def test_an_item_is_never_handed_out_beyond_its_overlap(requester):
    bundle = BundleFactory(requester=requester)
    item = ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    crowd = [WorkerFactory() for _ in range(5)]
    got = []
    for worker in crowd:
        try:
            got.append(claim(bundle, worker))
        except DomainError as exc:
            assert exc.code == "no_tasks_available"
    assert len(got) == 3
    item.refresh_from_db()
    assert (item.slots_open, item.state) == (0, ItemState.FULL)


def test_return_puts_the_slot_back_for_someone_else(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    item = ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    a, b = WorkerFactory(), WorkerFactory()
    held = claim(bundle, a)
    with pytest.raises(DomainError):
        claim(bundle, b)
    work.assignment_return(assignment_id=held.pk, worker=a)
    item.refresh_from_db()
    assert (item.slots_open, item.state) == (1, ItemState.OPEN)
    assert claim(bundle, b).item_id == item.pk
    # the worker who returned it does not get it again
    with pytest.raises(DomainError):
        claim(bundle, a)


def test_expiry_frees_slots_and_keeps_history(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    item = ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    held = claim(bundle, worker)
    assert work.assignments_expire(now=timezone.now()) == 0
    assert work.assignments_expire(now=held.deadline + timedelta(seconds=1)) == 1
    held.refresh_from_db()
    item.refresh_from_db()
    assert held.status == AssignmentStatus.EXPIRED  # kept, not deleted
    assert (item.slots_open, item.state) == (1, ItemState.OPEN)


def test_submitting_after_the_deadline_is_refused_and_expires(live_bundle, workers):
    held = claim(live_bundle, workers[0])
    Assignment.objects.filter(pk=held.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with pytest.raises(DomainError) as refused:
        services.assignment_submit(assignment_id=held.pk, worker=workers[0], answer="pos")
    assert refused.value.code == "deadline_passed"
    assert Assignment.objects.get(pk=held.pk).status == AssignmentStatus.EXPIRED
    assert Item.objects.get(pk=held.item_id).slots_open == 3


@pytest.mark.parametrize("answer", ["maybe", 3, ["pos"], None, ""])
def test_answers_are_validated_against_the_schema(live_bundle, workers, answer):
    held = claim(live_bundle, workers[0])
    response = client_for(workers[0]).post(
        f"/api/v1/work/assignments/{held.pk}/submit/", {"answer": answer}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_answer"
    assert Assignment.objects.get(pk=held.pk).status == AssignmentStatus.CLAIMED


def test_suspended_and_blocked_workers_are_refused_with_the_reason(live_bundle, workers):
    worker_set_status(worker=workers[0], status=WorkerStatus.SUSPENDED, reason="chargeback")
    response = client_for(workers[0]).post(f"/api/v1/work/bundles/{live_bundle.pk}/claim/")
    assert response.status_code == 403
    assert response.json()["code"] == "blocked"
    assert "chargeback" in response.json()["detail"]

    blocking.worker_block(worker_id=workers[1].pk, bundle_id=live_bundle.pk, reason="low accuracy")
    response = client_for(workers[1]).post(f"/api/v1/work/bundles/{live_bundle.pk}/claim/")
    assert (response.status_code, response.json()["code"]) == (403, "blocked")
    assert client_for(workers[1]).get("/api/v1/work/bundles/").json()["results"] == []
    blocking.worker_unblock(worker_id=workers[1].pk, bundle_id=live_bundle.pk)
    assert (
        client_for(workers[1]).post(f"/api/v1/work/bundles/{live_bundle.pk}/claim/").status_code
        == 201
    )


def test_qualification_requirements_gate_listing_and_claiming(requester, workers):
    from accounts.services import qualification_create, qualification_grant

    bundle = BundleFactory(
        requester=requester,
        requirements=[
            {"qualification": "approval_rate", "comparator": "GreaterThanOrEqualTo", "value": 95},
            {"qualification": "country", "comparator": "In", "values": ["US", "CA"]},
            {"qualification": "sentiment-exam", "comparator": "GreaterThanOrEqualTo", "value": 80},
        ],
    )
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = workers[0]
    wc = client_for(worker)
    assert wc.get("/api/v1/work/bundles/").json()["results"] == []
    assert wc.get(f"/api/v1/work/bundles/{bundle.pk}/").status_code == 404
    refused = wc.post(f"/api/v1/work/bundles/{bundle.pk}/claim/")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_qualified")
    assert "sentiment-exam" in refused.json()["detail"]

    exam = qualification_create(owner=requester, name="sentiment-exam")
    qualification_grant(qualification=exam, worker=worker, value=85, by=requester)
    assert [b["id"] for b in wc.get("/api/v1/work/bundles/").json()["results"]] == [bundle.pk]
    assert wc.post(f"/api/v1/work/bundles/{bundle.pk}/claim/").status_code == 201

    worker.worker_profile.country = "FR"
    worker.worker_profile.save()
    assert wc.get("/api/v1/work/bundles/").json()["results"] == []


def test_gold_is_mixed_in_and_scored_without_counting_toward_overlap(requester, monkeypatch):
    monkeypatch.setattr(claiming.random, "random", lambda: 0.0)  # draw gold whenever any is left
    bundle = BundleFactory(requester=requester, gold_rate=0.5)
    gold = ItemFactory(bundle=bundle, gold="pos")
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    kinds = []
    for _ in range(2):
        assignment = claim(bundle, worker)
        kinds.append(assignment.is_gold)
        answer = "neg"
        services.assignment_submit(assignment_id=assignment.pk, worker=worker, answer=answer)
    assert kinds == [True, False]  # gold first, then (none unseen) real work
    scored = Assignment.objects.get(item=gold, worker=worker)
    assert scored.gold_correct is False
    gold.refresh_from_db()
    assert gold.state == ItemState.OPEN and gold.slots_open == 0
    stats = worker.bundle_stats.get(bundle=bundle)
    assert (stats.gold_seen, stats.gold_correct, stats.submitted) == (1, 0, 2)


def test_claim_response_hides_gold(requester, monkeypatch):
    monkeypatch.setattr(claiming.random, "random", lambda: 0.0)
    bundle = BundleFactory(requester=requester, gold_rate=0.9)
    ItemFactory(bundle=bundle, gold="pos", payload={"text": "golden"})
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    body = client_for(worker).post(f"/api/v1/work/bundles/{bundle.pk}/claim/").json()
    assert body["item"]["payload"] == {"text": "golden"}
    assert "gold" not in str(body).replace("golden", "")
    assert "is_gold" not in body


def test_no_tasks_when_paused_and_404_for_drafts(requester, workers):
    draft = BundleFactory(requester=requester)
    ItemFactory(bundle=draft)
    wc = client_for(workers[0])
    response = wc.post(f"/api/v1/work/bundles/{draft.pk}/claim/")
    assert (response.status_code, response.json()["code"]) == (404, "bundle_not_found")
    paused = BundleFactory(requester=requester)
    ItemFactory(bundle=paused)
    services.bundle_pause(bundle=publish(paused), by=requester)
    response = wc.post(f"/api/v1/work/bundles/{paused.pk}/claim/")
    assert (response.status_code, response.json()["code"]) == (409, "no_tasks_available")


def test_submitting_with_the_bundle_at_hand_records_the_same_as_without(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for _ in range(2):
        ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    recorded = []
    for hint in (bundle, None):
        held = claim(bundle, worker)
        done = services.assignment_submit(
            assignment_id=held.pk, worker=worker, answer="neg", bundle=hint
        )
        assert (done.status, done.answer, done.item_id) == ("submitted", "neg", held.item_id)
        stored = Assignment.objects.select_related("item").get(pk=held.pk)
        recorded.append(
            (stored.status, stored.answer, stored.item.judgments_submitted, stored.item.state)
        )
        assert stored.seconds_spent == pytest.approx(done.seconds_spent, abs=0.01)
        assert stored.submitted_at is not None
    assert recorded == [("submitted", "neg", 1, ItemState.COMPLETE)] * 2
    assert worker.bundle_stats.get(bundle=bundle).submitted == 2


def test_the_bundle_at_hand_never_lets_through_what_the_long_way_refuses(requester, monkeypatch):
    monkeypatch.setattr(claiming.random, "random", lambda: 0.0)  # gold first
    bundle = BundleFactory(requester=requester, gold_rate=0.5)
    ItemFactory(bundle=bundle, gold="pos")
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    other = BundleFactory(requester=requester, question={"type": "number", "min": 0, "max": 10})
    ItemFactory(bundle=other)
    other = publish(other)
    owner, stranger = WorkerFactory(), WorkerFactory()
    gold = claim(bundle, owner)
    assert gold.is_gold
    # Someone else's assignment: not found, with or without the bundle.
    with pytest.raises(DomainError) as refused:
        services.assignment_submit(
            assignment_id=gold.pk, worker=stranger, answer="pos", bundle=bundle
        )
    assert refused.value.code == "assignment_not_found"
    # Gold is scored (the one statement leaves gold to the long way).
    scored = services.assignment_submit(
        assignment_id=gold.pk, worker=owner, answer="pos", bundle=bundle
    )
    assert (scored.is_gold, scored.gold_correct) == (True, True)
    assert Assignment.objects.get(pk=gold.pk).gold_correct is True
    # Twice: refused.
    with pytest.raises(DomainError) as refused:
        services.assignment_submit(assignment_id=gold.pk, worker=owner, answer="pos", bundle=bundle)
    assert refused.value.code == "invalid_transition"
    # A wrong bundle passed in: the answer is still judged by the assignment's own question.
    held = claim(bundle, owner)
    with pytest.raises(DomainError) as refused:
        services.assignment_submit(assignment_id=held.pk, worker=owner, answer=7, bundle=other)
    assert refused.value.code == "invalid_answer"
    done = services.assignment_submit(
        assignment_id=held.pk, worker=owner, answer="neg", bundle=other
    )
    assert done.status == AssignmentStatus.SUBMITTED
    assert Item.objects.get(pk=held.item_id).judgments_submitted == 1
    # Past the deadline: refused and expired.
    late = claim(bundle, stranger)
    Assignment.objects.filter(pk=late.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with pytest.raises(DomainError) as refused:
        services.assignment_submit(
            assignment_id=late.pk, worker=stranger, answer="pos", bundle=bundle
        )
    assert refused.value.code == "deadline_passed"
    assert Assignment.objects.get(pk=late.pk).status == AssignmentStatus.EXPIRED


def test_a_claim_left_past_its_deadline_is_expired_when_the_worker_claims_again(live_bundle):
    worker = WorkerFactory()
    stale = claim(live_bundle, worker)
    Assignment.objects.filter(pk=stale.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    fresh = claim(live_bundle, worker)
    assert fresh.pk != stale.pk and fresh.item_id != stale.item_id
    assert Assignment.objects.get(pk=stale.pk).status == AssignmentStatus.EXPIRED
    assert Item.objects.get(pk=stale.item_id).slots_open == 3  # its slot went back
    assert Assignment.objects.filter(worker=worker, status=AssignmentStatus.CLAIMED).count() == 1


def test_the_database_refuses_a_second_live_claim_in_a_bundle(live_bundle):
    from django.db import IntegrityError, transaction

    worker = WorkerFactory()
    held = claim(live_bundle, worker)
    other_item = Item.objects.filter(bundle=live_bundle).exclude(pk=held.item_id).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            bundle=live_bundle, item=other_item, worker=worker, status=AssignmentStatus.CLAIMED,
            claimed_at=held.claimed_at, deadline=held.deadline,
        )  # fmt: skip


def test_submit_and_claim_next_walks_a_bundle_one_call_per_task(
    live_bundle, workers, monkeypatch, is_postgres
):
    statements = []
    real_fetch = work_sql.fetch_prepared

    def fetch(name, sql, params):
        statements.append(name)
        return real_fetch(name, sql, params)

    monkeypatch.setattr(work_sql, "fetch_prepared", fetch)
    worker = workers[0]
    task = claim(live_bundle, worker)
    seen = []
    while task is not None:
        seen.append(task.item_id)
        step = services.assignment_submit_and_claim_next(
            assignment_id=task.pk, worker=worker, answer="pos", bundle=live_bundle
        )
        assert step.submitted.pk == task.pk and step.submitted.status == "submitted"
        task = step.next
        if task is not None:
            assert task.status == "claimed" and task.item.payload is not None
    assert step.no_next.code == "no_tasks_available"
    assert len(seen) == len(set(seen)) == 4
    assert Assignment.objects.filter(worker=worker, status="submitted").count() == 4
    assert not Assignment.objects.filter(worker=worker, status="claimed").exists()
    assert worker.bundle_stats.get(bundle=live_bundle).submitted == 4
    assert (
        sorted(Item.objects.filter(bundle=live_bundle).values_list("slots_open", flat=True))
        == [2] * 4
    )  # each item gave this worker one of its three slots
    if is_postgres:  # one statement per task; the last one found nothing and asked why
        assert statements[1:4] == ["cm_submit_and_claim"] * 3, statements


def test_submit_and_claim_next_with_gold_and_quality_rules_goes_the_long_way(
    requester, monkeypatch
):
    monkeypatch.setattr(claiming.random, "random", lambda: 0.0)  # gold whenever any is left
    bundle = BundleFactory(requester=requester, gold_rate=0.5, min_gold_accuracy=0.5)
    ItemFactory(bundle=bundle, gold="pos")
    real = ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    gold = claim(bundle, worker)
    assert gold.is_gold
    step = services.assignment_submit_and_claim_next(
        assignment_id=gold.pk, worker=worker, answer="pos", bundle=bundle
    )
    assert (step.submitted.is_gold, step.submitted.gold_correct) == (True, True)
    assert step.next is not None and step.next.item_id == real.pk
    stats = worker.bundle_stats.get(bundle=bundle)
    assert (stats.submitted, stats.gold_seen, stats.gold_correct) == (1, 1, 1)


def test_submit_and_claim_next_says_why_there_is_no_next_and_refuses_bad_answers(
    live_bundle, workers
):
    worker = workers[0]
    task = claim(live_bundle, worker)
    with pytest.raises(DomainError) as refused:
        services.assignment_submit_and_claim_next(
            assignment_id=task.pk, worker=worker, answer="maybe", bundle=live_bundle
        )
    assert refused.value.code == "invalid_answer"
    assert Assignment.objects.get(pk=task.pk).status == AssignmentStatus.CLAIMED
    assert Assignment.objects.filter(worker=worker).count() == 1  # nothing else claimed
    # A block that lands while the claim is held (`worker_block` would end the claim; here it
    # races the submit, so only the flag the hot path reads is set).
    WorkerBundleStats.objects.update_or_create(
        worker=worker,
        bundle=live_bundle,
        defaults={"blocked": True, "blocked_reason": "spam", "blocked_at": timezone.now()},
    )
    step = services.assignment_submit_and_claim_next(
        assignment_id=task.pk, worker=worker, answer="pos", bundle=live_bundle
    )
    assert step.next is None and step.no_next.code == "blocked"


def test_api_submit_with_next_returns_the_next_task_and_only_for_the_owner(live_bundle, workers):
    worker, other = workers[0], workers[1]
    wc = client_for(worker)
    task = wc.post(f"/api/v1/work/bundles/{live_bundle.pk}/claim/").json()
    url = f"/api/v1/work/assignments/{task['id']}/submit/?next=1"
    assert client_for(other).post(url, {"answer": "pos"}, format="json").status_code == 404
    ids = [task["item"]["id"]]
    while True:
        body = wc.post(url, {"answer": "pos"}, format="json").json()
        assert body["status"] == "submitted" and body["answer"] == "pos"
        if body["next"] is None:
            break
        nxt = body["next"]
        assert nxt["status"] == "claimed" and "payload" in nxt["item"]
        assert "gold" not in nxt["item"] and "is_gold" not in nxt
        ids.append(nxt["item"]["id"])
        url = f"/api/v1/work/assignments/{nxt['id']}/submit/?next=1"
    assert body["no_next"]["code"] == "no_tasks_available"
    assert len(ids) == len(set(ids)) == 4
    plain = client_for(other).post(f"/api/v1/work/bundles/{live_bundle.pk}/claim/").json()
    body = (
        client_for(other)
        .post(f"/api/v1/work/assignments/{plain['id']}/submit/", {"answer": "neg"}, format="json")
        .json()
    )
    assert "next" not in body and body["status"] == "submitted"

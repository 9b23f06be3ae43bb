"""Live labels: an item's label and confidence follow its judgments during the run, on fixed
overlap as on dynamic overlap (not only once the whole bundle finishes), through the per-bundle
live update each submission asks for (`tasks.quality.live`; the tests run it after every
submission); the results API and the bundle page show them; and a bundle whose items are all
complete moves to `completed` (issue 13, item 6), answers awaiting review or not, once no claim
is live, whatever the last event was (a submission, an expired claim, the periodic sweep)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks import review, work
from tasks.models import (
    Assignment,
    AssignmentStatus,
    Bundle,
    BundleStatus,
    Item,
    ItemResult,
    ItemState,
)
from tasks.tasks import expire_claims_task, reaggregate_live_bundles_task
from tests.conftest import client_for
from tests.factories import WorkerFactory

from .conftest import claim_submit, live_bundle_with

pytestmark = pytest.mark.django_db


def _workers(n):
    return [WorkerFactory() for _ in range(n)]


def test_fixed_overlap_item_gets_its_label_as_judgments_arrive():
    """On fixed overlap without rules, the hot path pays no per-answer follow-up (it cost the
    claim/submit loop 7x its throughput); the bundle's live update, batched per bundle, labels
    the items during the run, so a label moves as judgments arrive, with no beat."""
    bundle = live_bundle_with(items=2, min_overlap=3, max_overlap=3)
    item = bundle.items.order_by("pk").first()
    first, second, third = _workers(3)

    claim_submit(bundle, first, "pos")
    result = ItemResult.objects.get(item=item)
    assert (result.label, result.judgments) == ("pos", 1)
    one_vote = result.confidence
    assert 0.5 < one_vote < 1

    claim_submit(bundle, second, "pos")
    result.refresh_from_db()
    assert (result.label, result.judgments) == ("pos", 2)
    assert result.confidence > one_vote  # a second agreeing vote raises it

    claim_submit(bundle, third, "neg")
    result.refresh_from_db()
    assert (result.label, result.judgments) == ("pos", 3)
    item.refresh_from_db()
    assert (item.state, item.judgments_submitted, item.slots_open) == (ItemState.COMPLETE, 3, 0)
    assert Bundle.objects.get(pk=bundle.pk).status == BundleStatus.PUBLISHED  # one item to go


def test_live_label_with_a_speed_rule_follow_up_too():
    """A fixed-overlap bundle whose speed rule asks for the follow-up gets its label there."""
    bundle = live_bundle_with(items=1, min_overlap=2, max_overlap=2, min_seconds_per_task=1.0)
    claim_submit(bundle, WorkerFactory(), "neg", seconds=30)
    result = ItemResult.objects.get(item=bundle.items.get())
    assert (result.label, result.judgments) == ("neg", 1)


def test_results_api_shows_live_labels_while_the_bundle_runs():
    bundle = live_bundle_with(items=2, min_overlap=3, max_overlap=3)
    claim_submit(bundle, WorkerFactory(), "pos")  # the live update labels it, no beat
    assert Bundle.objects.get(pk=bundle.pk).status == BundleStatus.PUBLISHED
    response = client_for(bundle.requester).get(
        f"/api/v1/bundles/{bundle.pk}/results/?format=jsonl"
    )
    assert response.status_code == 200
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    labelled = [r for r in rows if r["label"] is not None]
    assert len(labelled) == 1
    assert labelled[0]["label"] == "pos" and 0.5 < labelled[0]["confidence"] < 1


def test_bundle_page_shows_live_labels_during_the_run(client):
    bundle = live_bundle_with(items=3, min_overlap=1, max_overlap=1)
    for worker in _workers(2):
        claim_submit(bundle, worker, "pos")  # the live update labels them, no beat
    assert Bundle.objects.get(pk=bundle.pk).status == BundleStatus.PUBLISHED  # one item to go
    client.force_login(bundle.requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "No aggregated labels yet" not in html
    assert 'id="label-chart"' in html
    assert "2 / 3 items complete" in html


def test_bundle_completes_when_its_items_do_and_review_goes_on_after(client):
    """A deliberate change (issue 13, item 6): all items complete is `completed`, with the
    answers still awaiting review; the page says so and links to the review."""
    bundle = live_bundle_with(items=2, min_overlap=1, max_overlap=1)
    for worker in _workers(2):
        claim_submit(bundle, worker, "pos")
    finished = Bundle.objects.get(pk=bundle.pk)
    assert finished.status == BundleStatus.COMPLETED and finished.finished_at is not None
    client.force_login(bundle.requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "2 to review" in html and f"/bundles/{bundle.pk}/review/" in html


def test_bundle_completes_when_a_leftover_claim_expires_after_its_last_item():
    """Every item judged, but a gold claim was still live then: its expiry is what finishes
    the bundle (an answer awaiting review would not have held it back)."""
    bundle = live_bundle_with(items=1, gold=["pos"], min_overlap=1, max_overlap=1, gold_rate=0.0)
    real, gold_worker = _workers(2)
    gold_item = bundle.items.get(is_gold=True)
    now = timezone.now()
    leftover = Assignment.objects.create(
        bundle=bundle, item=gold_item, worker=gold_worker, status=AssignmentStatus.CLAIMED,
        is_gold=True, claimed_at=now, deadline=now + timedelta(minutes=10),
    )  # fmt: skip
    claim_submit(bundle, real, "pos")
    assert Bundle.objects.get(pk=bundle.pk).status == BundleStatus.PUBLISHED  # a claim is live
    Assignment.objects.filter(pk=leftover.pk).update(deadline=now - timedelta(seconds=1))
    expire_claims_task.delay().get()
    finished = Bundle.objects.get(pk=bundle.pk)
    assert finished.status == BundleStatus.COMPLETED and finished.finished_at is not None


def test_bundle_completes_when_the_sweep_completes_its_last_item():
    """A dynamic item left waiting (its follow-up failed) with its work already approved: the
    periodic sweep decides it complete, and the bundle completes with it."""
    bundle = live_bundle_with(items=1, min_overlap=2, max_overlap=3)
    item = bundle.items.get()
    Item.objects.filter(pk=item.pk).update(slots_open=3)  # as if earlier decisions opened them
    tasks = [work.assignment_claim(bundle=bundle, worker=w) for w in _workers(3)]
    for task in tasks:
        submitted = work.submission_record(assignment_id=task.pk, worker=task.worker, answer="pos")
        assert submitted.follow_up is not None  # ... which is never run here
    Item.objects.filter(pk=item.pk).update(state=ItemState.FULL, slots_open=0)
    for task in tasks:
        review.assignment_approve(assignment_id=task.pk, by=bundle.requester)
    assert Bundle.objects.get(pk=bundle.pk).status == BundleStatus.PUBLISHED
    reaggregate_live_bundles_task.delay().get()
    assert Item.objects.get(pk=item.pk).state == ItemState.COMPLETE
    assert Bundle.objects.get(pk=bundle.pk).status == BundleStatus.COMPLETED

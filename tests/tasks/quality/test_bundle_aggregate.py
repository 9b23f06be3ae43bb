"""Whole-bundle aggregation into ItemResult, by question type, and what the results export
then carries; the Celery entry points."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import AssignmentStatus, ItemResult, WorkerBundleStats
from tasks.quality import bundle_aggregation, decisions
from tasks.tasks import aggregate_bundle_task, reaggregate_live_bundles_task
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, WorkerFactory

from .conftest import FIVE, judged

pytestmark = pytest.mark.django_db


def _bundle(question, **fields):
    return BundleFactory(question=question, status="published", **fields)


def _results(bundle):
    return {r.item.external_id: r for r in ItemResult.objects.filter(item__bundle=bundle)}


def test_single_choice_with_gold_and_a_blocked_worker():
    bundle = _bundle(FIVE)
    good = [WorkerFactory() for _ in range(3)]
    spammer = WorkerFactory()
    WorkerBundleStats.objects.create(worker=spammer, bundle=bundle, blocked=True)
    items = [ItemFactory(bundle=bundle, external_id=f"i{n}") for n in range(4)]
    gold = ItemFactory(bundle=bundle, external_id="g", gold="b")
    for n, item in enumerate(items):
        truth = "abcd"[n]
        for worker in good:
            judged(item, worker, truth)
        judged(item, spammer, "e")  # a blocked worker's answer does not count
    for worker in good:
        judged(gold, worker, "b")
    rejected = ItemFactory(bundle=bundle, external_id="only-rejected")
    judged(rejected, good[0], "a", status=AssignmentStatus.REJECTED)

    written = bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)

    results = _results(bundle)
    assert written == 5 and set(results) == {"i0", "i1", "i2", "i3", "g"}
    assert [results[f"i{n}"].label for n in range(4)] == ["a", "b", "c", "d"]
    assert all(results[f"i{n}"].method == "dawid_skene" for n in range(4))
    assert all(results[f"i{n}"].judgments == 3 for n in range(4))
    assert all(0.9 <= results[f"i{n}"].confidence <= 1 for n in range(4))
    assert (results["g"].label, results["g"].confidence, results["g"].method) == ("b", 1.0, "gold")
    # idempotent, and a stale result of an item that lost its judgments goes away
    ItemResult.objects.create(item=rejected, label="a", confidence=1, method="one_coin")
    assert bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk) == 5
    assert set(_results(bundle)) == set(results)
    assert _results(bundle)["i1"].label == "b"


def test_rating_labels_are_ints_and_majority_is_available():
    bundle = _bundle({"type": "rating", "min": 1, "max": 5})
    workers = [WorkerFactory() for _ in range(3)]
    item = ItemFactory(bundle=bundle, external_id="r")
    for worker, stars in zip(workers, [4, 4, 2], strict=True):
        judged(item, worker, stars)
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk, method="majority_vote")
    result = _results(bundle)["r"]
    assert (result.label, result.method) == (4, "majority_vote")
    assert result.confidence == pytest.approx(2 / 3)
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    assert _results(bundle)["r"].label == 4 and isinstance(_results(bundle)["r"].label, int)


def test_multiple_choice_labels_are_lists_of_values_in_schema_order():
    question = {
        "type": "multiple_choice",
        "choices": [{"value": v, "label": v} for v in ["cat", "dog", "bird"]],
        "min_selected": 0,
        "max_selected": 3,
    }
    bundle = _bundle(question)
    workers = [WorkerFactory() for _ in range(3)]
    item = ItemFactory(bundle=bundle, external_id="m")
    gold = ItemFactory(bundle=bundle, external_id="g", gold=["bird"])
    for worker, answer in zip(workers, [["cat", "bird"], ["cat", "bird"], ["cat"]], strict=True):
        judged(item, worker, answer)
        judged(gold, worker, ["bird"])
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    results = _results(bundle)
    assert results["m"].label == ["cat", "bird"]
    assert 0 < results["m"].confidence <= 1
    assert (results["g"].label, results["g"].method) == (["bird"], "gold")


def test_text_by_normalised_vote_in_the_first_spelling():
    bundle = _bundle({"type": "text", "max_length": 100})
    workers = [WorkerFactory() for _ in range(3)]
    item = ItemFactory(bundle=bundle, external_id="t")
    for worker, answer in zip(workers, ["New  York", "new york ", "Boston"], strict=True):
        judged(item, worker, answer)
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    result = _results(bundle)["t"]
    assert (result.label, result.method) == ("New  York", "text_vote")
    assert result.confidence == pytest.approx(2 / 3)


def test_numbers_by_median():
    bundle = _bundle({"type": "number", "min": None, "max": None})
    workers = [WorkerFactory() for _ in range(4)]
    item = ItemFactory(bundle=bundle, external_id="n")
    for worker, value in zip(workers, [3, 3, 4, 100], strict=True):
        judged(item, worker, value)
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    result = _results(bundle)["n"]
    assert (result.label, result.method) == (3.5, "median")
    odd = ItemFactory(bundle=bundle, external_id="o")
    for worker, value in zip(workers[:3], [7, 7, 9], strict=True):
        judged(odd, worker, value)
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    result = _results(bundle)["o"]
    assert (result.label, result.confidence) == (7, pytest.approx(2 / 3))


def test_results_export_carries_label_confidence_and_method():
    bundle = _bundle(FIVE)
    workers = [WorkerFactory() for _ in range(3)]
    item = ItemFactory(bundle=bundle, external_id="x")
    for worker in workers:
        judged(item, worker, "c")
    assert aggregate_bundle_task.delay(bundle.pk).get() == 1
    response = client_for(bundle.requester).get(
        f"/api/v1/bundles/{bundle.pk}/results/?format=jsonl"
    )
    assert response.status_code == 200
    rows = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["label"], row["method"]) == ("c", "dawid_skene")
    assert 0.9 <= row["confidence"] <= 1
    assert len(row["judgments"]) == 3


def test_live_bundles_are_reaggregated_only_when_new_judgments_arrived():
    bundle = _bundle(FIVE)
    idle = _bundle(FIVE)
    workers = [WorkerFactory() for _ in range(2)]
    item = ItemFactory(bundle=bundle)
    judged(item, workers[0], "a")
    judged(ItemFactory(bundle=idle), workers[0], "b")
    bundle_aggregation.bundle_aggregate(bundle_id=idle.pk)
    assert bundle_aggregation.bundles_needing_aggregation() == [bundle.pk]
    assert reaggregate_live_bundles_task.delay().get() == 1
    assert bundle_aggregation.bundles_needing_aggregation() == []
    later = judged(item, workers[1], "a")
    later.submitted_at = timezone.now() + timedelta(seconds=1)
    later.save(update_fields=["submitted_at"])
    # a per-item decision does not hide that the whole-bundle run is stale
    decisions.item_decide(item_id=item.pk)
    assert bundle_aggregation.bundles_needing_aggregation() == [bundle.pk]

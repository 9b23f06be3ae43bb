"""A weight a quality rule lowered (`lower_weight`) holds in the final labels too: the
whole-bundle Dawid-Skene run weighs that worker's judgments by it, as it weighs a ring's.
At weight 0 the worker's answers count for nothing: the run gives what it gives with the
worker blocked (blocked workers' answers are left out)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.models import ItemResult, WorkerBundleStats
from tasks.quality.bundle_aggregation import bundle_aggregate
from tasks.quality.decisions import items_label
from tests.factories import WorkerFactory

from .conftest import FIVE, judged, live_bundle_with

pytestmark = pytest.mark.django_db


def _bundle(seed=0):
    """30 items judged by three of six honest workers each, and every item by a seventh worker
    who answers at random (the one a rule will weigh less)."""
    rng = np.random.default_rng(seed)
    bundle = live_bundle_with(items=30, question=FIVE)
    honest = [WorkerFactory() for _ in range(6)]
    clicker = WorkerFactory()
    for worker in [*honest, clicker]:
        WorkerBundleStats.objects.create(worker=worker, bundle=bundle)
    for item in bundle.items.filter(is_gold=False):
        truth = int(rng.integers(5))
        for n in rng.choice(6, 3, replace=False):
            right = rng.random() < 0.75
            judged(item, honest[n], "abcde"[truth if right else int(rng.integers(5))])
        judged(item, clicker, "abcde"[int(rng.integers(5))])
    return bundle, clicker


def _results(bundle):
    rows = ItemResult.objects.filter(item__bundle=bundle).values_list(
        "item_id", "label", "confidence"
    )
    return {item: (label, round(conf, 6)) for item, label, conf in rows}


def test_the_whole_bundle_run_honours_a_lowered_weight():
    bundle, clicker = _bundle()
    stats = WorkerBundleStats.objects.filter(bundle=bundle, worker=clicker)
    bundle_aggregate(bundle_id=bundle.pk)
    full = _results(bundle)
    stats.update(blocked=True)
    bundle_aggregate(bundle_id=bundle.pk)
    without = _results(bundle)
    assert full != without  # the clicker's answers move the final labels

    stats.update(blocked=False, weight=0.0)
    bundle_aggregate(bundle_id=bundle.pk)
    assert _results(bundle) == without  # weight 0: as if they had not answered

    stats.update(weight=0.5)
    bundle_aggregate(bundle_id=bundle.pk)
    half = _results(bundle)
    assert half != full and half != without

    stats.update(weight=1.0)  # the rule reversed
    bundle_aggregate(bundle_id=bundle.pk)
    assert _results(bundle) == full


def test_the_batched_live_labels_honour_a_lowered_weight():
    # The live update labels a fixed-overlap bundle's items in one batch (`items_label`):
    # a lowered weight counts there as in the per-item decision.
    bundle, clicker = _bundle()
    item_ids = list(bundle.items.filter(is_gold=False).values_list("pk", flat=True))
    items_label(bundle=bundle, item_ids=item_ids)
    full = _results(bundle)
    WorkerBundleStats.objects.filter(bundle=bundle, worker=clicker).update(weight=0.0)
    items_label(bundle=bundle, item_ids=item_ids)
    lowered = _results(bundle)
    WorkerBundleStats.objects.filter(bundle=bundle, worker=clicker).update(blocked=True)
    items_label(bundle=bundle, item_ids=item_ids)
    assert full != lowered
    assert lowered == _results(bundle)  # weight 0: as if blocked

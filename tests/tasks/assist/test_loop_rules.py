"""The rules that decide what the loop buys: the audit samples what the model would accept alone,
people's label completes against a weak model, retraining comes sooner while the model is
young, and calibration never reads certainty into a handful of lucky items."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.assist import prior, training
from tasks.models import ItemResult, ItemState, WorkerBundleStats
from tests.factories import WorkerFactory
from tests.tasks.assist.test_closed_loop import ASSIST, _bundle, _post, _publish, _vetted
from tests.tasks.quality.conftest import claim_submit

pytestmark = pytest.mark.django_db


def test_the_audit_draws_only_among_items_the_model_would_accept_alone(requester):
    bundle = _bundle(requester, items=2, min_overlap=0, assist={**ASSIST, "audit_rate": 1.0})
    lines = [
        {"external_id": "r0", "label": "pos", "confidence": 0.99},
        {"external_id": "r1", "label": "pos", "confidence": 0.7},
    ]
    _post(requester, bundle, lines)
    sure, unsure = bundle.items.order_by("external_id")
    values = ["pos", "neg"]
    assert prior.item_prior(bundle=bundle, item_id=sure.pk, values=values, target=0.95).audited
    weak = prior.item_prior(bundle=bundle, item_id=unsure.pk, values=values, target=0.95)
    assert weak is not None and not weak.audited  # nothing to vouch for: it is not accepted


def _trusted(bundle, worker, accuracy=0.95):
    WorkerBundleStats.objects.update_or_create(
        worker=worker, bundle=bundle, defaults={"estimated_accuracy": accuracy}
    )
    return worker


def test_peoples_label_completes_against_a_weak_model(requester, draw):
    # given: a model leaning "pos" (0.7), and two workers the crowd estimate trusts
    bundle = _bundle(requester, items=1, min_overlap=1, max_overlap=5)
    bundle = _publish(_vetted(bundle))
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.7}])
    item = bundle.items.get()
    # when: both say "neg"
    for _ in range(2):
        claim_submit(bundle, _trusted(bundle, WorkerFactory()), "neg")
    # then: people's label completes the item at 2 judgments (the prior only made it harder)
    item.refresh_from_db()
    result = ItemResult.objects.get(item=item)
    assert (item.state, item.judgments_submitted) == (ItemState.COMPLETE, 2)
    assert (result.label, result.provenance) == ("neg", "model+human")
    assert result.confidence >= 0.95


def test_the_models_label_never_completes_against_people(requester, draw):
    # a near-certain model outweighs one trusted worker, but its label may not win against them
    bundle = _bundle(requester, items=1, min_overlap=1, max_overlap=5)
    bundle = _publish(_vetted(bundle))
    _post(requester, bundle, [{"external_id": "r0", "label": "pos", "confidence": 0.99}])
    item = bundle.items.get()
    claim_submit(bundle, _trusted(bundle, WorkerFactory(), 0.8), "neg")
    item.refresh_from_db()
    assert item.state != ItemState.COMPLETE and item.slots_open == 1
    assert ItemResult.objects.get(item=item).provenance == "human"


def test_retraining_comes_sooner_while_the_model_is_young():
    due = [n for n in range(1, 700) if training.retrain_due(labels=n, trained_on=None, every=100)]
    assert due[0] == training.MIN_LABELS
    versions, trained = [], None
    for labels in range(1, 700):
        if training.retrain_due(labels=labels, trained_on=trained, every=100):
            versions.append(labels)
            trained = labels
    assert versions == [20, 40, 80, 160, 260, 360, 460, 560, 660]


def test_calibration_reads_no_certainty_into_a_few_lucky_items():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 0.8, 200)
    correct = (rng.random(200) < confidence).astype(float)
    # five items at the very top, all right: alone they would make a bin of 1.0
    confidence = np.concatenate([confidence, np.full(5, 0.99)])
    correct = np.concatenate([correct, np.ones(5)])
    mapped = training.calibrate(confidence, correct)
    top = float(mapped(np.array([0.99]))[0])
    assert 0.6 < top < 0.95
    assert np.all(np.diff(mapped(np.linspace(0, 1, 50))) >= -1e-12)  # still monotone

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


def test_calibration_on_few_labels_never_makes_the_model_surest_where_it_is_least_sure():
    """The demo's audit switched its model off: a version trained on 40 labels, whose four
    wrong held-out items had its highest raw scores, was calibrated by a falling Platt fit, so
    its least sure predictions (mixed reviews) read 0.97 and went to the audit, wrong."""
    rng = np.random.default_rng(1)
    confidence = np.sort(rng.uniform(0.5, 0.7, 40))
    correct = np.ones(40)
    correct[-4:] = 0.0  # the wrong ones scored highest
    mapped = training.calibrate(confidence, correct)
    grid = mapped(np.linspace(0.5, 0.7, 21))
    assert np.all(np.diff(grid) >= -1e-12)
    assert np.all(grid <= correct.mean() + 1e-9)
    # a rising fit is kept: the surest items read likelier to be right
    mapped = training.calibrate(confidence, correct[::-1].copy())
    assert float(mapped(np.array([0.7]))[0]) > float(mapped(np.array([0.5]))[0])


def test_calibration_reads_no_certainty_into_a_prediction_with_no_opinion():
    """The demo's model, trained on 40 labels it scored 0.6-0.9 and got 39 right, read 0.97 on
    a terse review it scored 0.51 (its one word unseen): every such item went to the audit
    as "confident", people disagreed on a coin flip's share, and the audit switched it off."""
    rng = np.random.default_rng(2)
    confidence = rng.uniform(0.6, 0.9, 40)
    correct = np.ones(40)
    correct[0] = 0.0
    mapped = training.calibrate(confidence, correct, 2)
    assert float(mapped(np.array([0.51]))[0]) < 0.8
    assert float(mapped(np.array([0.9]))[0]) > 0.9
    # ten classes: a raw 0.1 is a guess among ten
    digits = training.calibrate(
        rng.uniform(0.5, 0.99, 150), np.ones(150) * (rng.random(150) < 0.95), 10
    )
    assert float(digits(np.array([0.12]))[0]) < 0.7  # far from any target


def test_a_perfect_held_out_score_on_few_labels_is_not_certainty():
    """The demo's second version got its 40 held-out labels all right, and every one of its
    predictions read 1.0, the mixed reviews it got wrong too: they all went to the audit."""
    rng = np.random.default_rng(3)
    confidence = rng.uniform(0.55, 0.95, 40)
    mapped = training.calibrate(confidence, np.ones(40), 2)
    assert float(mapped(np.array([0.55]))[0]) < 0.95
    assert float(mapped(np.array([0.95]))[0]) < 1.0
    assert np.all(np.diff(mapped(np.linspace(0.5, 1, 30))) >= -1e-12)


def test_routing_prefers_uncertain_items_yet_samples_others(requester, draw, monkeypatch):
    from tasks import work
    from tasks.assist import routing

    # given: 30 items the model is unsure of and 30 it is sure of (no auto-accept: all need
    # people), with half of the decisions drawing a random place in the queue
    monkeypatch.setattr(routing, "RANDOM_SHARE", 0.5)
    bundle = _bundle(requester, items=60, assist={**ASSIST, "auto_accept": False})
    lines = [
        {"external_id": f"r{n}", "label": "pos", "confidence": 0.55 if n < 30 else 0.97}
        for n in range(60)
    ]
    _post(requester, bundle, lines)
    bundle = _publish(_vetted(bundle))  # vetted: sampled for the audit at its rate (0 here)
    # when: 30 workers claim
    claimed = [
        work.assignment_claim(bundle=bundle, worker=WorkerFactory()).item_id for _ in range(30)
    ]
    unsure = set(bundle.items.filter(external_id__in=[f"r{n}" for n in range(30)]).values_list(
        "id", flat=True
    ))  # fmt: skip
    # then: the unsure items go first, and yet some sure ones are sampled among them
    taken_unsure = sum(item_id in unsure for item_id in claimed)
    assert 15 <= taken_unsure < 30


def test_routing_worth_and_random_share():
    from tasks.assist import routing

    def priority(item_id, confidence, judgments=0):
        return routing.claim_priority(
            item_id=item_id, judgments=judgments, confidence=confidence, n_classes=2,
            accuracy=0.75,
        )  # fmt: skip

    # worth: a coin flip gains most, a settled item least
    gains = [routing.expected_gain(c, 2, 0.75) for c in (0.5, 0.7, 0.9, 0.99)]
    assert gains == sorted(gains, reverse=True) and gains[-1] < 0.1 * gains[0]
    sure = [priority(i, 0.99) for i in range(20_000)]
    unsure = [priority(i, 0.55) for i in range(20_000)]
    # sure items wait behind the unsure ones, but for about RANDOM_SHARE of them, which get a
    # random place, some of it ahead of most unsure items
    worth = np.median(sure)
    randomised = np.mean(np.array(sure) != worth)
    assert 0.8 * routing.RANDOM_SHARE < randomised < 1.2 * routing.RANDOM_SHARE
    assert worth > np.median(unsure) and np.sum(np.array(sure) < np.median(unsure)) > 0
    # stable for the same item and judgment count; drawn afresh at the next judgment
    assert sure == [priority(i, 0.99) for i in range(20_000)]
    assert sure != [priority(i, 0.99, judgments=1) for i in range(20_000)]


def test_one_unlucky_audited_item_does_not_end_a_good_model():
    from tasks.assist.audit import AuditFigures, exceeds

    assert not exceeds(AuditFigures(audited=5, disagreed=1), 0.10)  # 20%, but 5 items say little
    assert exceeds(AuditFigures(audited=5, disagreed=5), 0.10)  # a broken model: caught at once
    assert exceeds(AuditFigures(audited=40, disagreed=8), 0.10)
    assert not exceeds(AuditFigures(audited=40, disagreed=3), 0.10)


def test_routing_finishes_started_items_before_opening_new_ones():
    from tasks.assist import routing

    def priority(item_id, confidence, judgments):
        return routing.claim_priority(
            item_id=item_id, judgments=judgments, confidence=confidence, n_classes=10,
            accuracy=0.7,
        )  # fmt: skip

    started = np.array([priority(i, 0.9, 1) for i in range(5_000)])
    untouched = np.array([priority(i, 0.1, 0) for i in range(5_000)])  # the model knows nothing
    # a started item beats an untouched one, but for the random share
    assert np.mean(started < np.median(untouched)) > 1 - 1.5 * routing.RANDOM_SHARE


def test_a_wrong_posted_model_is_caught_on_its_first_confident_items(requester, draw):
    from tasks.models import Bundle

    # given: posted predictions (not yet vetted), confidently wrong, at the default 5% audit
    bundle = _bundle(requester, items=8, min_overlap=0, max_overlap=3,
                     assist={**ASSIST, "audit_rate": 0.05})  # fmt: skip
    _post(requester, bundle, [{"external_id": f"r{n}", "label": "pos", "confidence": 0.99}
                              for n in range(8)])  # fmt: skip
    bundle = _publish(bundle)
    # when: people answer the truth
    for _ in range(3 * 8):
        claim_submit(bundle, WorkerFactory(), "neg")
        bundle.refresh_from_db()
        if bundle.assist_status.get("model_off"):
            break
    # then: every confident item of the unvetted version was audited, and it is switched off
    assert bundle.assist_status.get("model_off") is True
    assert Bundle.objects.get(pk=bundle.pk).assist_status.get("vetted_version") is None
    assert not ItemResult.objects.filter(item__bundle=bundle, label="pos").exists()

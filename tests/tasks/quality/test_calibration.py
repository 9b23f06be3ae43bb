"""Honest confidence (issue 13, item 4): on a crowd whose errors are correlated (hard items fool
half the workers the same way), Dawid-Skene's independent-worker posterior overstates split
votes; calibrated on held-out gold it says what it means. Plus the pure pieces: the isotonic
maps, the reliability diagram and its expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.quality.calibration import (
    Replays,
    calibrate,
    calibration_fit,
    expected_calibration_error,
    gold_replays,
    reliability,
)
from tasks.quality.choice_aggregation import choice_run, split_items

K = 4


def correlated_crowd(seed, *, n_items=1500, n_gold=400, n_workers=40, hard=0.3):
    rng = np.random.default_rng(seed)
    total = n_items + n_gold
    truth = rng.integers(0, K, total)
    is_hard = rng.random(total) < hard
    accuracy = rng.uniform(0.75, 0.95, n_workers)
    items, workers, labels = [], [], []
    for i in range(total):
        overlap = 10 if i >= n_items else 3  # gold is seen by many, real items by three
        for w in rng.choice(n_workers, overlap, replace=False):
            if is_hard[i] and rng.random() < 0.5:
                label = (truth[i] + 1) % K
            elif rng.random() < accuracy[w]:
                label = truth[i]
            else:
                label = (truth[i] + rng.integers(1, K)) % K
            items.append(i)
            workers.append(int(w))
            labels.append(int(label))
    gold = {i: int(truth[i]) for i in range(n_items, total)}
    return np.array(items), np.array(workers), np.array(labels), truth, gold


@pytest.mark.parametrize("seed", [0, 1])
def test_split_votes_get_the_confidence_they_earn_on_a_correlated_crowd(seed):
    items, workers, labels, truth, gold = correlated_crowd(seed)
    n_items = len(truth)
    run = choice_run(
        items, workers, labels, n_items=n_items, n_workers=40, n_classes=K, gold=gold, seed=seed
    )
    real = np.arange(n_items) < n_items - len(gold)
    right = run.result.labels == truth
    split = split_items(items, labels, n_items) & real
    raw_gap = run.result.confidence[split].mean() - right[split].mean()
    calibrated_gap = abs(run.confidence[split].mean() - right[split].mean())
    assert raw_gap > 0.08  # independent workers: the split votes are overstated...
    assert calibrated_gap < 0.05  # ...and calibrated on held-out gold, they are not
    assert expected_calibration_error(run.confidence[real], right[real]) < 0.05
    assert run.calibration["dawid_skene"]["samples"]["split"] >= 40
    assert "one_coin" in run.calibration and run.reliability


def test_isotonic_maps_are_fitted_per_stratum_and_applied_by_interpolation():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 2000)
    split = rng.random(2000) < 0.5
    # split votes are right only 80% as often as they claim; unanimous ones as claimed
    correct = rng.random(2000) < np.where(split, conf * 0.8, conf)
    fitted = calibration_fit(Replays(conf, correct, split, np.arange(2000)))
    out = calibrate([0.9, 0.9], [True, False], fitted)
    assert out[0] == pytest.approx(0.72, abs=0.08) and out[1] == pytest.approx(0.9, abs=0.08)
    assert calibrate([0.9], [True], {}).tolist() == [0.9]  # no map: unchanged


def test_a_stratum_with_too_few_gold_replays_is_left_alone():
    replays = gold_replays(
        [(np.array([0, 1, 2]), np.array([1, 1, 0]), 1)], np.array([3]),
        lambda w, lab, truth: np.bincount(lab, minlength=2) / len(lab), per_item=5,
    )  # fmt: skip
    fitted = calibration_fit(replays)
    assert "split" not in fitted and fitted["samples"]["split"] == 5


def test_reliability_diagram_and_ece():
    rows = reliability([0.95, 0.95, 0.55, 0.55], [True, False, True, True])
    assert [r["n"] for r in rows if r["n"]] == [2, 2]
    nine = rows[9]
    assert (nine["confidence"], nine["accuracy"]) == (0.95, 0.5)
    assert expected_calibration_error([0.95, 0.95, 0.55, 0.55], [True, False, True, True]) == (
        pytest.approx((2 * 0.45 + 2 * 0.45) / 4)
    )


def ring_crowd(seed, *, n_items=600, n_gold=150, n_honest=24, n_ring=12):
    """Real items filled three at a time in arrival order, ring members arriving two at a
    time and giving one shared random answer per item; gold seen by six workers each, the
    ring perfect on it (it recognises gold)."""
    rng = np.random.default_rng(seed)
    total = n_items + n_gold
    truth = rng.integers(0, K, total)
    shared = rng.integers(0, K, total)
    accuracy = rng.uniform(0.7, 0.95, n_honest)
    ring = np.arange(n_honest, n_honest + n_ring)
    items, workers, labels = [], [], []
    slots: list[int] = []
    for i in range(n_items):
        while len(slots) < 3:
            pair = rng.random() < 0.3
            slots += list(rng.choice(ring, 2, replace=False)) if pair else [rng.integers(n_honest)]
        group, slots = slots[:3], slots[3:]
        for w in dict.fromkeys(int(w) for w in group):
            items.append(i)
            workers.append(w)
            labels.append(int(shared[i]) if w >= n_honest else _honest(rng, truth[i], accuracy[w]))
    for i in range(n_items, total):
        for w in rng.choice(n_honest + n_ring, 6, replace=False):
            items.append(i)
            workers.append(int(w))
            labels.append(int(truth[i]) if w >= n_honest else _honest(rng, truth[i], accuracy[w]))
    gold = {i: int(truth[i]) for i in range(n_items, total)}
    return np.array(items), np.array(workers), np.array(labels), truth, gold, n_honest


def _honest(rng, truth, accuracy):
    return int(truth if rng.random() < accuracy else (truth + rng.integers(1, K)) % K)


@pytest.mark.parametrize("seed", [0, 1])
def test_items_only_a_ring_judged_are_not_as_sure_as_a_unanimous_honest_vote(seed):
    # Gold is answered by honest workers (the ring's gold record says nothing), so no gold
    # replay is as unsure as an item whose three agreeing votes all come from the ring; the
    # map must not lend such an item the confidence of three agreeing honest workers.
    items, workers, labels, truth, gold, n_honest = ring_crowd(seed)
    n_items = len(truth)
    run = choice_run(
        items, workers, labels, n_items=n_items, n_workers=n_honest + 12, n_classes=K,
        gold=gold, seed=seed,
    )  # fmt: skip
    assert run.rings  # found, and its members weigh about as much as chance
    real = np.arange(n_items) < n_items - len(gold)
    by_ring = np.ones(n_items, dtype=bool)
    np.logical_and.at(by_ring, items, workers >= n_honest)
    only_ring = real & by_ring & ~split_items(items, labels, n_items)
    right = run.result.labels == truth
    assert only_ring.sum() >= 20
    assert right[only_ring].mean() < 0.5
    assert run.confidence[only_ring].mean() < right[only_ring].mean() + 0.15
    assert expected_calibration_error(run.confidence[real], right[real]) < 0.1


def test_a_map_starts_at_chance():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.9, 1.0, 500)
    correct = rng.random(500) < conf
    fitted = calibration_fit(Replays(conf, correct, np.zeros(500, bool), np.arange(500)), 4)
    low, high = calibrate([0.3, 0.99], [False, False], fitted)
    assert low == pytest.approx(0.3, abs=0.05)  # not clipped up to the lowest fitted point
    assert high > 0.9

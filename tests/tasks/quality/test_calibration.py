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

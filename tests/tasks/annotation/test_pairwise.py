"""pairwise: validation, gold, the per-pair vote with its confidence, and the bundle-level
noise-aware Bradley-Terry ranking (known order recovered, lapses found, intervals)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasks.annotation.errors import InvalidAnswer, InvalidQuestion
from tasks.annotation.pairwise import TYPE, bundle_ranking, item_comparisons, rank
from tasks.annotation.ranking import bradley_terry
from tasks.annotation.registry import TYPES

QUESTION = TYPE.question({"type": "pairwise", "allow_tie": False})
TIES = TYPE.question({"type": "pairwise", "left_field": "x", "right_field": "y",
                      "reason": "required"})  # fmt: skip
CONTEXT = TYPE.context(QUESTION, {"a": "first text", "b": "second text", "a_id": 1, "b_id": 2})


def test_registered_with_defaults():
    assert TYPES["pairwise"] is TYPE
    assert QUESTION == {"type": "pairwise", "left_field": "a", "right_field": "b",
                        "allow_tie": False, "reason": "optional",
                        "reason_max_length": 2000}  # fmt: skip
    with pytest.raises(InvalidQuestion, match="question.reason must be one of"):
        TYPE.question({"type": "pairwise", "reason": "sometimes"})
    with pytest.raises(InvalidQuestion, match="must differ"):
        TYPE.question({"type": "pairwise", "left_field": "a", "right_field": "a"})


def test_answers():
    assert TYPE.answer(QUESTION, {"choice": "left"}, CONTEXT) == {"choice": "left"}
    assert TYPE.answer(QUESTION, "right", CONTEXT) == {"choice": "right"}
    assert TYPE.answer(QUESTION, {"choice": "left", "reason": " clearer "}, CONTEXT) == {
        "choice": "left",
        "reason": "clearer",
    }
    assert TYPE.answer(TIES, {"choice": "tie", "reason": "same"}, CONTEXT)["choice"] == "tie"
    silent = TYPE.question({"type": "pairwise", "reason": "none"})
    assert TYPE.answer(silent, {"choice": "left", "reason": "x"}, CONTEXT) == {"choice": "left"}


@pytest.mark.parametrize(
    ("question", "raw", "message"),
    [
        (QUESTION, {"choice": "tie"}, "choice must be one of: left, right"),
        (QUESTION, {"choice": "both"}, "choice must be one of"),
        (QUESTION, ["left"], "answer must be an object"),
        (QUESTION, {"choice": "left", "reason": 5}, "reason must be text"),
        (TIES, {"choice": "tie"}, "reason is required"),
        (TIES, {"choice": "tie", "reason": "   "}, "reason is required"),
        (TIES, {"choice": "left", "reason": "x" * 2001}, "reason is longer than 2000"),
    ],
)
def test_bad_answers(question, raw, message):
    with pytest.raises(InvalidAnswer, match=message):
        TYPE.answer(question, raw, CONTEXT)


def test_gold_is_the_same_choice():
    left, right = {"choice": "left"}, {"choice": "right", "reason": "why"}
    assert TYPE.gold_score(QUESTION, {"choice": "left", "reason": "any"}, left) == 1.0
    assert TYPE.gold_score(QUESTION, left, right) == 0.0
    assert TYPE.gold_passes(QUESTION, 1.0) and not TYPE.gold_passes(QUESTION, 0.0)


def test_pair_vote_hand_computed():
    answers = [{"choice": "left"}, {"choice": "left"}, {"choice": "right"}]
    agg = TYPE.aggregate(QUESTION, answers, [0.8, 0.8, 0.6], CONTEXT)
    # log-odds 2 log 4 for left against log 1.5 for right: 16 / (16 + 1.5).
    assert agg.label == {"choice": "left"}
    assert agg.confidence == pytest.approx(16 / 17.5, abs=1e-5)
    assert agg.agreement == (1.0, 1.0, 0.0)
    # With ties (3 options): left against tie, equal weight log 8: the first option wins at 8/17.
    tie = TYPE.aggregate(TIES, [{"choice": "left"}, {"choice": "tie"}], [0.8, 0.8], CONTEXT)
    assert tie.label == {"choice": "left"}
    assert tie.confidence == pytest.approx(8 / 17, abs=1e-5)
    assert TYPE.aggregate(QUESTION, [], [], CONTEXT).confidence == 0.0


def test_item_comparisons_use_the_candidate_ids():
    answers = [{"choice": "left"}, {"choice": "tie"}]
    payload = {"a_id": "r1", "b_id": "r2"}
    assert item_comparisons(payload, answers, [0.9, 0.7]) == [
        ("r1", "r2", "left", 0.9),
        ("r1", "r2", "tie", 0.7),
    ]
    assert item_comparisons(payload, answers, [0.9, 0.7], workers=[5, 6])[1] == (
        "r1", "r2", "tie", 0.7, 6)  # fmt: skip
    assert item_comparisons({"a_id": "r1"}, answers, [0.9, 0.7]) == []
    assert item_comparisons({"a_id": [1], "b_id": 2}, answers, [0.9, 0.7]) == []


def test_bundle_ranking_from_items():
    left, right = {"choice": "left"}, {"choice": "right"}
    items = [
        ({"a_id": "x", "b_id": "y"}, [left, left, right], [0.9, 0.8, 0.7], [1, 2, 3]),
        ({"a_id": "y", "b_id": "z"}, [left, left], [0.9, 0.8], [1, 2]),
        ({"a_id": "z", "b_id": "x"}, [right, right, left], [0.9, 0.8, 0.7], [1, 2, 3]),
        ({"no": "ids"}, [left], [0.9], [1]),
    ]
    ranking = bundle_ranking(items)
    assert [r["id"] for r in ranking] == ["x", "y", "z"]
    assert [r["comparisons"] for r in ranking] == [6, 5, 5]
    assert sum(r["score"] for r in ranking) == pytest.approx(0.0, abs=1e-3)  # centred


def simulated(strengths, n, seed, spammer_share=0.0):
    """Comparisons of random pairs by workers 0-7 following Bradley-Terry, and by worker 8
    (a share of the judgments) always answering "left"."""
    rng = np.random.default_rng(seed)
    names = sorted(strengths)
    rows = []
    for _ in range(n):
        a, b = rng.choice(len(names), 2, replace=False)
        if rng.random() < spammer_share:
            rows.append((names[a], names[b], "left", 1.0, "spammer"))
            continue
        p = 1 / (1 + math.exp(strengths[names[b]] - strengths[names[a]]))
        rows.append((names[a], names[b], "left" if rng.random() < p else "right", 1.0,
                     f"w{rng.integers(8)}"))  # fmt: skip
    return rows


def test_ranking_recovers_a_known_order_despite_a_spammer():
    strengths = {"a": 2.0, "b": 1.0, "c": 0.0, "d": -1.0, "e": -2.0}
    comparisons = simulated(strengths, 1500, seed=1, spammer_share=0.3)
    ranking = rank(comparisons)
    assert [r["id"] for r in ranking] == ["a", "b", "c", "d", "e"]
    for r in ranking:
        low, high = r["interval"]
        assert low < r["score"] < high
    assert sum(r["comparisons"] for r in ranking) == 2 * 1500
    fit = bradley_terry(comparisons)
    assert fit.converged
    lapse = dict(zip(fit.workers, fit.lapse, strict=True))
    assert lapse["spammer"] > 0.8
    assert max(v for k, v in lapse.items() if k != "spammer") < lapse["spammer"] / 3


def test_ranking_without_noise_finds_the_true_strengths():
    strengths = {"a": 2.0, "b": 1.0, "c": 0.0, "d": -1.0, "e": -2.0}
    fit = bradley_terry(simulated(strengths, 1500, seed=1))
    assert fit.converged
    for name, score in zip(fit.ids, fit.scores, strict=True):
        assert score == pytest.approx(strengths[name], abs=0.25)
    assert fit.lapse.max() < 0.1


def test_prior_keeps_an_unbeaten_candidate_finite_and_ties_level():
    ranking = rank([("a", "b", "left", 1.0)] * 5)
    assert [r["id"] for r in ranking] == ["a", "b"]
    assert math.isfinite(ranking[0]["score"])
    assert ranking[0]["score"] == pytest.approx(-ranking[1]["score"], abs=1e-3)
    level = rank([("a", "b", "tie", 1.0)] * 4 + [("b", "c", 0.5, 1.0)] * 4)
    assert all(r["score"] == pytest.approx(0.0, abs=1e-3) for r in level)
    few = rank([("a", "b", "left", 1.0)] * 3 + [("a", "b", "right", 1.0)])
    many = rank([("a", "b", "left", 1.0)] * 30 + [("a", "b", "right", 1.0)] * 10)
    # The same 3:1 record: more evidence, a narrower interval (and less pull from the prior).
    assert [r["id"] for r in few] == [r["id"] for r in many] == ["a", "b"]
    width = [r["interval"][1] - r["interval"][0] for r in (many[0], few[0])]
    assert width[0] < width[1] / 2
    assert many[0]["score"] > few[0]["score"] > 0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("a", "b", "maybe", 1.0)], "outcome must be left/right/tie"),
        ([("a", "b", True, 1.0)], "outcome must be"),
        ([("a", "a", "left", 1.0)], "compares 'a' with itself"),
        ([("a", "b", "left", 0)], "weight must be a positive number"),
        ([("a", "b", "left")], r"must be \(a_id, b_id, outcome, weight\[, worker\]\)"),
    ],
)
def test_bad_comparisons(rows, message):
    with pytest.raises(ValueError, match=message):
        rank(rows)


def test_no_comparisons_no_ranking():
    assert rank([]) == []

"""bounding_box: question, validation with messages naming the bad part, gold F1, and the
aggregation's hand-computed cases (IoU clusters, weighted median, skill-weighted keep rule)."""

from __future__ import annotations

import math

import pytest

from tasks.annotation.bounding_box import TYPE
from tasks.annotation.errors import InvalidAnswer, InvalidQuestion
from tasks.annotation.registry import TYPES

QUESTION = TYPE.question({"type": "bounding_box", "labels": ["car", "person"], "min_size": 4})
PAYLOAD = {"image": "https://example.com/a.png", "image_width": 100, "image_height": 80}
CONTEXT = TYPE.context(QUESTION, PAYLOAD)
SKILL_08 = math.log(4.0)  # the vote weight of a worker of skill 0.8


def box(label="car", x=10, y=10, w=20, h=20):
    return {"label": label, "x": x, "y": y, "w": w, "h": h}


def answer(*boxes):
    return TYPE.answer(QUESTION, {"boxes": list(boxes)}, CONTEXT)


def test_registered_with_defaults():
    assert TYPES["bounding_box"] is TYPE
    q = TYPE.question({"type": "bounding_box", "labels": [{"value": "car", "label": "Car"}]})
    assert q == {"type": "bounding_box", "image_field": "image",
                 "labels": [{"value": "car", "label": "Car"}], "min_size": 1,
                 "allow_empty": True, "iou_threshold": 0.5, "gold_threshold": 0.8}  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "bounding_box"}, "question.labels must list at least one label"),
        ({"type": "bounding_box", "labels": ["a", "a"]}, r"labels\[1\].value is empty, repeated"),
        ({"type": "bounding_box", "labels": ["a"], "min_size": -1}, "question.min_size"),
        ({"type": "bounding_box", "labels": ["a"], "iou_threshold": 0}, "iou_threshold"),
        ({"type": "bounding_box", "labels": ["a"], "allow_empty": "yes"}, "allow_empty"),
        ({"type": "bounding_box", "labels": [{"value": "a", "hotkey": "ab"}]}, "hotkey"),
    ],
)
def test_bad_questions(raw, message):
    with pytest.raises(InvalidQuestion, match=message):
        TYPE.question(raw)


def test_answer_is_normalised():
    got = answer({"label": "car", "x": 10.0, "y": 20, "w": 30.5, "h": 40, "id": "tool-7"})
    assert got == {"boxes": [{"label": "car", "x": 10, "y": 20, "w": 30.5, "h": 40}]}
    assert answer() == {"boxes": []}  # nothing to mark


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        ([box(x=90, w=20)], r"boxes\[0\] lies outside the 100x80 image \(it ends at 110, 30\)"),
        ([box(), box(y=70, h=20)], r"boxes\[1\] lies outside the 100x80 image"),
        ([box(), box(label="truck")], r"boxes\[1\].label 'truck' is not one of: car, person"),
        ([box(w=3, h=10)], r"boxes\[0\] is 3x10 pixels: width and height must be at least 4"),
        ([box(x=-1)], r"boxes\[0\] starts outside the image"),
        ([box(x=float("nan"))], r"boxes\[0\].x must be a finite number"),
        ([box(h=True)], r"boxes\[0\].h must be a finite number"),
        ([box(y="10")], r"boxes\[0\].y must be a finite number"),
        (["car"], r"boxes\[0\] must be an object"),
        ([box()] * 501, "boxes: at most 500 are allowed, got 501"),
    ],
)
def test_bad_answers_name_the_bad_box(boxes, message):
    with pytest.raises(InvalidAnswer, match=message) as caught:
        TYPE.answer(QUESTION, {"boxes": boxes}, CONTEXT)
    assert caught.value.code == "invalid_answer"


def test_answer_shape_and_empty_rule():
    with pytest.raises(InvalidAnswer, match=r'answer must be an object \{"boxes": \[...\]\}'):
        TYPE.answer(QUESTION, [box()], CONTEXT)
    strict = TYPE.question({"type": "bounding_box", "labels": ["car"], "allow_empty": False})
    with pytest.raises(InvalidAnswer, match="draw at least one box"):
        TYPE.answer(strict, {"boxes": []}, TYPE.context(strict, PAYLOAD))


def test_image_size_from_uploaded_media_or_unknown():
    media = {"_media": {"image": {"key": "k", "width": 50, "height": 40, "content_type": "x"}}}
    ctx = TYPE.context(QUESTION, media)
    assert ctx.image_size == (50, 40)
    with pytest.raises(InvalidAnswer, match="outside the 50x40 image"):
        TYPE.answer(QUESTION, {"boxes": [box(x=40)]}, ctx)
    unknown = TYPE.context(QUESTION, {"image": "https://example.com/b.png"})
    assert unknown.image_size is None
    assert TYPE.answer(QUESTION, {"boxes": [box(x=900, w=300)]}, unknown)["boxes"][0]["x"] == 900
    assert TYPE.context(QUESTION, {"image_width": "640", "image_height": "480"}).image_size == (
        640,
        480,
    )


def test_gold_is_f1_at_iou():
    gold = answer(box(), box("person", 50, 40, 20, 30))
    # One match (IoU 18x20 / 440 = 0.82, same label); the person box carries the wrong label.
    mine = answer(box(x=12), box("car", 50, 40, 20, 30))
    assert TYPE.gold_score(QUESTION, mine, gold) == pytest.approx(0.5)
    assert not TYPE.gold_passes(QUESTION, 0.5)
    assert TYPE.gold_score(QUESTION, gold, gold) == 1.0
    assert TYPE.gold_passes(QUESTION, 1.0)
    # Shifted too far: IoU 10x20 / 600 = 1/3 < 0.5.
    assert TYPE.gold_score(QUESTION, answer(box(x=20)), answer(box())) == 0.0
    assert TYPE.gold_score(QUESTION, answer(), answer()) == 1.0
    assert TYPE.gold_score(QUESTION, answer(box()), answer()) == 0.0


def test_three_workers_agree_the_box_sits_at_the_median():
    answers = [answer(box(x=10, y=10)), answer(box(x=12, y=10)), answer(box(x=11, y=12, h=22))]
    agg = TYPE.aggregate(QUESTION, answers, [0.8, 0.8, 0.8], CONTEXT)
    # x1 {10, 12, 11} -> 11, y1 {10, 10, 12} -> 10, x2 {30, 32, 31} -> 31, y2 {30, 30, 34} -> 30.
    # P(exists) = sigmoid(3 log 4) = 64/65; P(car) among the three = 64/65.
    (only,) = agg.label["boxes"]
    assert only == {"label": "car", "x": 11, "y": 10, "w": 20, "h": 20,
                    "confidence": round((64 / 65) ** 2, 4)}  # fmt: skip
    assert agg.confidence == pytest.approx((64 / 65) ** 2, abs=1e-5)
    assert agg.method == "box_vote"
    assert agg.agreement == (1.0, 1.0, 1.0)


def test_a_spammers_one_big_box_is_dropped():
    good = [answer(box()), answer(box(x=12)), answer(box(x=11, y=12))]
    spam = answer(box("person", 0, 0, 100, 80))
    agg = TYPE.aggregate(QUESTION, [*good, spam], [0.8, 0.8, 0.8, 0.3], CONTEXT)
    assert [b["label"] for b in agg.label["boxes"]] == ["car"]
    # The dropped candidate is a sure "no" (64/65); the kept box is the weakest decision.
    assert agg.confidence == pytest.approx((64 / 65) ** 2, abs=1e-5)
    assert agg.agreement[3] == 0.0


def test_support_must_pass_half_the_weight():
    shared, lonely = box(), box("person", 60, 40, 20, 20)
    answers = [answer(shared, lonely), answer(shared), answer()]
    agg = TYPE.aggregate(QUESTION, answers, [0.8, 0.8, 0.8], CONTEXT)
    # The shared box: 2 of 3 equal workers, P(exists) = sigmoid(log 4) = 0.8, P(car) = 16/17.
    (kept,) = agg.label["boxes"]
    assert kept["label"] == "car"
    assert kept["confidence"] == round(0.8 * 16 / 17, 4)
    # The lonely box: 1 of 3, dropped with P(no) = 0.8.
    assert agg.confidence == pytest.approx(min(0.8 * 16 / 17, 0.8))
    assert agg.agreement == pytest.approx((2 / 3, 1.0, 0.0))


def test_exactly_half_the_weight_is_not_enough():
    agg = TYPE.aggregate(QUESTION, [answer(box()), answer()], [0.8, 0.8], CONTEXT)
    assert agg.label == {"boxes": []}
    assert agg.confidence == pytest.approx(0.5)
    assert agg.agreement == (0.0, 1.0)


def test_a_skilled_worker_outweighs_two_weak_ones():
    answers = [
        answer(box(x=10, y=10, w=30, h=30)),
        answer(box(x=20, y=10, w=20, h=30)),
        answer(box(x=22, y=10, w=18, h=30)),
    ]
    agg = TYPE.aggregate(QUESTION, answers, [0.95, 0.6, 0.6], CONTEXT)
    # x1 {10 (weight log 19 = 2.94), 20, 22 (log 1.5 = 0.41 each)}: half the weight is 1.88,
    # reached by the first value already.
    assert agg.label["boxes"][0]["x"] == 10


def test_label_vote_and_its_tie_rule():
    votes = [answer(box("person")), answer(box("person", x=11)), answer(box("car", x=12))]
    agg = TYPE.aggregate(QUESTION, votes, [0.8, 0.8, 0.8], CONTEXT)
    assert agg.label["boxes"][0]["label"] == "person"
    tie = TYPE.aggregate(QUESTION, [votes[0], votes[2]], [0.8, 0.8], CONTEXT)
    # Equal support: the label listed first in the question wins, at posterior 1/2.
    assert tie.label["boxes"][0]["label"] == "car"
    assert tie.label["boxes"][0]["confidence"] == round(16 / 17 * 0.5, 4)


def test_empty_and_single_answers():
    nothing = TYPE.aggregate(QUESTION, [answer(), answer(), answer()], [0.8, 0.8, 0.8], CONTEXT)
    assert nothing.label == {"boxes": []}
    assert nothing.confidence == pytest.approx(64 / 65)  # three workers sure there is nothing
    assert nothing.agreement == (1.0, 1.0, 1.0)
    one = TYPE.aggregate(QUESTION, [answer(box())], [0.8], CONTEXT)
    assert one.label["boxes"][0]["x"] == 10
    assert one.confidence == pytest.approx(0.8 * 0.8)
    none = TYPE.aggregate(QUESTION, [], [], CONTEXT)
    assert none.label == {"boxes": []}
    assert none.confidence == 0.0


def test_weights_must_match_the_answers():
    with pytest.raises(ValueError, match="1 answers but 2 weights"):
        TYPE.aggregate(QUESTION, [answer()], [0.8, 0.8], CONTEXT)
    with pytest.raises(ValueError, match="finite"):
        TYPE.aggregate(QUESTION, [answer()], [float("nan")], CONTEXT)

"""polygon: validation, gold F1 on rasterised masks, and the skill-weighted pixel vote back to
polygons and COCO RLE, on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tasks.annotation.errors import InvalidAnswer
from tasks.annotation.masks import rle_decode
from tasks.annotation.polygon import TYPE
from tasks.annotation.registry import TYPES

QUESTION = TYPE.question({"type": "polygon", "labels": ["lane", "car"]})
PAYLOAD = {"image": "https://example.com/road.png", "image_width": 20, "image_height": 20}
CONTEXT = TYPE.context(QUESTION, PAYLOAD)
GOOD = math.log(4.0)


def square(x0, y0, x1, y1, label="lane"):
    return {"label": label, "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}


def answer(*polygons, context=CONTEXT):
    return TYPE.answer(QUESTION, {"polygons": list(polygons)}, context)


def test_registered_with_defaults():
    assert TYPES["polygon"] is TYPE
    assert QUESTION == {"type": "polygon", "image_field": "image",
                        "labels": [{"value": "lane", "label": "lane"},
                                   {"value": "car", "label": "car"}],
                        "allow_empty": True, "iou_threshold": 0.5,
                        "gold_threshold": 0.8}  # fmt: skip


def test_answer_is_normalised():
    raw = {"label": "lane", "points": [[1.0, 1], [5, 1], [5, 5.5], [1.0, 1]]}
    assert answer(raw) == {"polygons": [{"label": "lane", "points": [[1, 1], [5, 1], [5, 5.5]]}]}


@pytest.mark.parametrize(
    ("polygons", "message"),
    [
        ([{"label": "lane", "points": [[1, 1], [5, 1]]}], r"polygons\[0\] needs at least 3"),
        ([square(1, 1, 5, 5), square(15, 15, 25, 18)],
         r"polygons\[1\].points\[1\] \(25, 15\) lies outside the 20x20 image"),
        ([{"label": "lane", "points": [[1, 1], [5, 5], [9, 9]]}],
         r"polygons\[0\] encloses no area"),
        ([{"label": "lane", "points": [[1, 1], [5, "x"], [9, 1]]}],
         r"polygons\[0\].points\[1\] must be \[x, y\] with finite numbers"),
        ([{"label": "lane", "points": [[1, 1], [5, 1, 2], [9, 1]]}],
         r"polygons\[0\].points\[1\] must be \[x, y\]"),
        ([square(1, 1, 5, 5, label="tree")], r"polygons\[0\].label 'tree' is not one of"),
        ([{"label": "lane", "points": "1,1 5,1 5,5"}], r"polygons\[0\].points must be a list"),
        ([{"label": "lane", "points": [[1, 1]] * 2002}], r"at most 2000 \[x, y\] points"),
    ],
)  # fmt: skip
def test_bad_answers_name_the_bad_part(polygons, message):
    with pytest.raises(InvalidAnswer, match=message):
        TYPE.answer(QUESTION, {"polygons": polygons}, CONTEXT)


def test_gold_is_f1_at_mask_iou():
    gold = answer(square(2, 2, 10, 10))
    # Shifted by 2: 48 shared pixels of 80 covered, IoU 0.6. By 5: 24 of 104, IoU 0.23.
    assert TYPE.gold_score(QUESTION, answer(square(4, 2, 12, 10)), gold) == 1.0
    assert TYPE.gold_score(QUESTION, answer(square(7, 2, 15, 10)), gold) == 0.0
    assert TYPE.gold_score(QUESTION, answer(square(4, 2, 12, 10, "car")), gold) == 0.0
    two = answer(square(2, 2, 10, 10), square(12, 12, 18, 18, "car"))
    assert TYPE.gold_score(QUESTION, gold, two) == pytest.approx(2 / 3)
    assert TYPE.gold_passes(QUESTION, 0.8) and not TYPE.gold_passes(QUESTION, 2 / 3)


def test_pixel_vote_hand_computed():
    a, b = answer(square(2, 2, 10, 10)), answer(square(4, 2, 12, 10))
    spam = answer(square(0, 0, 20, 20, "lane"))
    agg = TYPE.aggregate(QUESTION, [a, b, a, spam], [0.8, 0.8, 0.8, 0.3], CONTEXT)
    # Columns 2-3 have 2 of 3 votes, 4-9 all three, 10-11 only b: the lane is columns 2-9; the
    # spammer (skill 0.3, at chance) weighs nothing.
    (lane,) = agg.label["polygons"]
    assert lane["label"] == "lane"
    assert lane["points"] == [[2, 2], [10, 2], [10, 10], [2, 10]]
    assert lane["area"] == 64
    expected = np.zeros((20, 20), dtype=bool)
    expected[2:10, 2:10] = True
    assert lane["rle"]["size"] == [20, 20]
    assert (rle_decode(lane["rle"]) == expected).all()
    # Its pixels: 16 at posterior 0.8, 48 at 64/65.
    assert lane["confidence"] == round((16 * 0.8 + 48 * 64 / 65) / 64, 4)
    # Item: every covered pixel's decision; the spammer covered all 400 pixels, and the 320
    # outside the squares are a sure "no" (64/65); columns 10-11 a "no" at 0.8.
    sure_no = 1 - 1 / (1 + math.exp(-(-3 * GOOD)))
    assert agg.confidence == pytest.approx((32 * 0.8 + 48 * 64 / 65 + 320 * sure_no) / 400)
    assert agg.agreement == pytest.approx((1.0, 48 / 80, 1.0, 64 / 400))


def test_labels_are_voted_apart_and_specks_dropped():
    answers = [
        answer(square(2, 2, 10, 10), square(14, 14, 15, 15, "car")),
        answer(square(2, 2, 10, 10), square(14, 14, 15, 15, "car")),
        answer(square(12, 12, 18, 18, "car")),
    ]
    agg = TYPE.aggregate(QUESTION, answers, [0.8, 0.8, 0.8], CONTEXT)
    # The lane: 2 of 3. The car: a one-pixel part agreed by two workers is a speck, dropped;
    # the third worker's car is 1 of 3.
    assert [(p["label"], p["area"]) for p in agg.label["polygons"]] == [("lane", 64)]


def test_unknown_image_size_uses_the_drawn_window():
    context = TYPE.context(QUESTION, {"image": "https://example.com/x.png"})
    answers = [answer(square(2, 3, 10, 12), context=context)] * 2
    agg = TYPE.aggregate(QUESTION, answers, [0.8, 0.8], context)
    (lane,) = agg.label["polygons"]
    assert lane["rle"]["size"] == [12, 10]  # height, width up to the far corner
    assert rle_decode(lane["rle"]).sum() == 72


def test_empty_and_no_answers():
    agg = TYPE.aggregate(QUESTION, [answer(), answer()], [0.8, 0.8], CONTEXT)
    assert agg.label == {"polygons": []}
    assert agg.confidence == pytest.approx(16 / 17)
    assert agg.agreement == (1.0, 1.0)
    assert TYPE.aggregate(QUESTION, [], [], CONTEXT).confidence == 0.0

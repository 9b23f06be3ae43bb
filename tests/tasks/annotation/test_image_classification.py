"""image_classification: question, answers, gold and the skill-weighted vote, by hand.

With skill s among K classes a vote weighs log((K-1) s / (1-s)), so the posterior is a ratio of
products of (K-1) s / (1-s): at s = 0.8 and K = 3 each vote multiplies its class by 8; at K = 2
by 4."""

from __future__ import annotations

import pytest

from tasks.annotation.base import ItemContext
from tasks.annotation.image_classification import TYPE
from tasks.schema import InvalidAnswer, InvalidQuestion

NONE = ItemContext(payload={})


def q(**raw):
    return TYPE.question({"type": "image_classification", "choices": ["a", "b", "c"], **raw})


def test_question_is_canonical_with_defaults():
    assert q() == {
        "type": "image_classification",
        "image_field": "image",
        "choices": [{"value": v, "label": v} for v in "abc"],
        "multiple": False,
    }
    multi = q(multiple=True, image_field="photo")
    assert (multi["image_field"], multi["min_selected"], multi["max_selected"]) == ("photo", 1, 3)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"choices": ["a"]}, "at least two"),
        ({"multiple": "yes"}, "multiple must be true or false"),
        ({"min_selected": 1}, "need multiple: true"),
        ({"multiple": True, "max_selected": 4}, "must fit the choices"),
        ({"image_field": "_media"}, "reserved"),
        ({"choices": ["a", "a"]}, "repeated"),
    ],
)
def test_bad_questions_say_what_is_wrong(raw, message):
    with pytest.raises(InvalidQuestion, match=message):
        q(**raw)


def test_answers_are_checked_and_normalised():
    assert TYPE.answer(q(), "b", NONE) == "b"
    with pytest.raises(InvalidAnswer, match="one of: a, b, c"):
        TYPE.answer(q(), "zebra", NONE)
    multi = q(multiple=True, max_selected=2)
    assert TYPE.answer(multi, ["c", "a", "c"], NONE) == ["a", "c"]  # choice order, once each
    with pytest.raises(InvalidAnswer, match="unknown choice value"):
        TYPE.answer(multi, ["a", "zebra"], NONE)
    with pytest.raises(InvalidAnswer, match="between 1 and 2"):
        TYPE.answer(multi, ["a", "b", "c"], NONE)


def test_gold_is_all_or_nothing():
    assert TYPE.gold_score(q(), "a", "a") == 1.0
    assert TYPE.gold_score(q(), "a", "b") == 0.0
    multi = q(multiple=True)
    assert TYPE.gold_score(multi, ["a", "b"], ["b", "a"]) == 1.0
    assert TYPE.gold_score(multi, ["a"], ["a", "b"]) == 0.0
    assert TYPE.gold_passes(multi, 1.0) and not TYPE.gold_passes(multi, 0.0)


def test_vote_two_of_three_at_skill_point_eight():
    # a: 8 * 8 = 64, b: 8, c: 1  ->  64 / 73
    result = TYPE.aggregate(q(), ["a", "a", "b"], [0.8, 0.8, 0.8], NONE)
    assert result.label == "a"
    assert result.confidence == pytest.approx(64 / 73, abs=1e-5)
    assert result.agreement == (1.0, 1.0, 0.0)


def test_one_answer_is_as_sure_as_its_worker():
    # a: 8, b: 1, c: 1  ->  8 / 10 = the skill itself
    result = TYPE.aggregate(q(), ["c"], [0.8], NONE)
    assert (result.label, result.confidence) == ("c", pytest.approx(0.8, abs=1e-5))


def test_a_skilled_worker_outweighs_a_weak_one_and_ties_go_to_the_first_choice():
    two = TYPE.question({"type": "image_classification", "choices": ["a", "b"]})
    # a: 0.9 / 0.1 = 9, b: 0.6 / 0.4 = 1.5  ->  9 / 10.5
    result = TYPE.aggregate(two, ["b", "a"], [0.6, 0.9], NONE)
    assert (result.label, result.confidence) == ("a", pytest.approx(9 / 10.5, abs=1e-5))
    tie = TYPE.aggregate(two, ["b", "a"], [0.7, 0.7], NONE)
    assert (tie.label, tie.confidence) == ("a", pytest.approx(0.5))


def test_multiple_votes_per_choice_and_multiplies_the_confidences():
    # a and b: chosen 2 to 1 (16 / 20 = 0.8 each); c: left out 3 to 0 (64 / 65)
    multi = q(multiple=True)
    result = TYPE.aggregate(multi, [["a"], ["a", "b"], ["b"]], [0.8, 0.8, 0.8], NONE)
    assert result.label == ["a", "b"]
    assert result.confidence == pytest.approx(0.8 * 0.8 * 64 / 65, abs=1e-5)
    assert result.agreement == pytest.approx((2 / 3, 1.0, 2 / 3))


def test_no_answers_no_label():
    result = TYPE.aggregate(q(), [], [], NONE)
    assert (result.label, result.confidence) == (None, 0.0)


def test_context_reads_the_image_size_from_media_or_payload_numbers():
    question = q(image_field="photo")
    media = {"_media": {"photo": {"key": "k", "width": 640, "height": 480}}}
    assert TYPE.context(question, media).image_size == (640, 480)
    # a CSV upload gives numerals as text
    assert TYPE.context(question, {"photo_width": "320", "photo_height": 240}).image_size == (
        320,
        240,
    )
    assert TYPE.context(question, {"photo": "https://example.com/x.png"}).image_size is None
    assert TYPE.context(question, {"photo_width": -1, "photo_height": 5}).image_size is None

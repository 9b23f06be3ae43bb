"""transcription: normalisation, gold by edit distance, normalised majority, then ROVER.

For two classes a vote of skill s multiplies its class by s / (1 - s) (0.8 -> 4, 0.7 -> 7/3),
so two of three agreeing workers of equal skill s give the majority s."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.annotation.base import ItemContext
from tasks.annotation.text_align import align, codes_of, edit_distance, rover, text_similarity
from tasks.annotation.transcription import TYPE, normalise
from tasks.schema import InvalidAnswer, InvalidQuestion

NONE = ItemContext(payload={})
ALL_RULES = ["case", "whitespace", "punctuation"]


def q(**raw):
    return TYPE.question({"type": "transcription", **raw})


def test_question_defaults_and_rule_order():
    assert q() == {
        "type": "transcription",
        "media_field": "image",
        "normalize": ["case", "whitespace"],
        "gold_threshold": 0.9,
        "max_length": 2000,
    }
    assert q(normalize=["whitespace", "punctuation"], media_field="audio")["normalize"] == [
        "punctuation",
        "whitespace",
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"normalize": ["case", "accents"]}, "unknown rule.*accents"),
        ({"normalize": "case"}, "must be a list"),
        ({"gold_threshold": 0}, r"gold_threshold must be a number in \(0, 1\]"),
        ({"gold_threshold": True}, "gold_threshold"),
        ({"max_length": 5001}, "max_length must be 1..5000"),
    ],
)
def test_bad_questions_say_what_is_wrong(raw, message):
    with pytest.raises(InvalidQuestion, match=message):
        q(**raw)


def test_answers_are_trimmed_text_within_the_length():
    assert TYPE.answer(q(), "  A line.\n", NONE) == "A line."
    with pytest.raises(InvalidAnswer, match="non-empty text"):
        TYPE.answer(q(), "   ", NONE)
    with pytest.raises(InvalidAnswer, match="non-empty text"):
        TYPE.answer(q(), ["a"], NONE)
    with pytest.raises(InvalidAnswer, match="longer than 5 characters"):
        TYPE.answer(q(max_length=5), "abcdef", NONE)


def test_normalisation_rules():
    text = "  Hello,   World! "
    assert normalise(q(normalize=ALL_RULES), text) == "hello world"
    assert normalise(q(normalize=["whitespace"]), text) == "Hello, World!"
    assert normalise(q(normalize=[]), text) == text


def test_gold_by_normalised_edit_distance():
    question = q(normalize=ALL_RULES)
    # kitten -> sitting: 3 edits over 7 characters
    assert TYPE.gold_score(question, "kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert TYPE.gold_score(question, "The quick brown fox!", "the quick  brown fox") == 1.0
    # one letter of 19 wrong passes at 0.9; four of 19 missing does not
    near = TYPE.gold_score(question, "the quick brown box", "The quick brown fox")
    assert near == pytest.approx(18 / 19)
    assert TYPE.gold_passes(question, near)
    far = TYPE.gold_score(question, "the quick brown", "The quick brown fox")
    assert far == pytest.approx(15 / 19)
    assert not TYPE.gold_passes(question, far)


def test_normalised_majority_spelled_by_its_most_skilled_worker():
    question = q()
    # "hello world" twice against "goodbye" once, skill 0.7: 7/3 * 7/3 : 7/3 -> 0.7
    result = TYPE.aggregate(question, ["Hello world", "hello  world", "goodbye"], [0.7] * 3, NONE)
    assert result.method == "normalised_majority"
    assert (result.label, result.confidence) == ("Hello world", pytest.approx(0.7, abs=1e-5))
    assert result.agreement[:2] == (1.0, 1.0)
    assert result.agreement[2] == pytest.approx(text_similarity("goodbye", "hello world"))
    spelled = TYPE.aggregate(question, ["hello world", "Hello World"], [0.6, 0.9], NONE)
    assert spelled.label == "Hello World"
    # both agree: 1.5 * 9 = 13.5 against the one other class of 1 -> 13.5 / 14.5
    assert spelled.confidence == pytest.approx(13.5 / 14.5, abs=1e-5)


def test_one_answer_is_as_sure_as_its_worker():
    result = TYPE.aggregate(q(), ["a b c"], [0.8], NONE)
    assert (result.label, result.confidence) == ("a b c", pytest.approx(0.8, abs=1e-5))


def test_rover_votes_word_by_word_when_no_text_has_a_majority():
    # Three different texts (1/3 each). The medoid "the cat sat" is the backbone; "cat" beats
    # "hat" and "sat" beats "sit" 2 to 1 (4 * 4 : 4 -> 0.8 each); confidence 0.8 * 0.8.
    result = TYPE.aggregate(q(), ["the cat sit", "the hat sat", "the cat sat"], [0.8] * 3, NONE)
    assert result.method == "rover"
    assert result.label == "the cat sat"
    assert result.confidence == pytest.approx(0.64, abs=1e-5)
    assert result.agreement == pytest.approx((10 / 11, 10 / 11, 1.0))


def test_rover_drops_a_minority_insertion_and_keeps_the_written_spelling():
    question = q(normalize=ALL_RULES)
    texts = ["A b, c", "a x b c", "a b c d"]
    result = TYPE.aggregate(question, texts, [0.8] * 3, NONE)
    # gaps: "x" inserted by one of three, "d" appended by one of three: both out (0.8 each)
    assert result.method == "rover"
    assert result.label == "A b, c"
    assert result.confidence == pytest.approx(0.64, abs=1e-5)


def test_rover_tie_keeps_the_backbone():
    result = TYPE.aggregate(q(), ["one two", "one three"], [0.7, 0.7], NONE)
    assert (result.method, result.label) == ("rover", "one two")
    assert result.confidence == pytest.approx(0.5)


def test_no_answers_no_label():
    assert TYPE.aggregate(q(), [], [], NONE).label is None


def test_edit_distance_and_alignment_by_hand():
    assert edit_distance(codes_of("kitten"), codes_of("sitting")) == 3
    assert edit_distance(codes_of(""), codes_of("abc")) == 3
    assert text_similarity("", "") == 1.0
    # hyp [1, 2, 3] against ref [1, 3]: 2 is inserted before ref position 1
    assert align([1, 2, 3], [1, 3]) == ([1, 3], [[], [2], []])
    # hyp [1, 3] against ref [1, 2, 3]: ref position 1 is deleted
    assert align([1, 3], [1, 2, 3]) == ([1, None, 3], [[], [], [], []])
    assert align([0, 1, 2, 3], [1, 2]) == ([1, 2], [[0], [], [3]])


def test_rover_on_codes():
    combined = rover([[1, 2, 3], [1, 2, 4], [1, 5, 3]], [0.9, 0.6, 0.6])
    assert combined.backbone == 0
    assert combined.tokens == [1, 2, 3]
    # slot 2: 2 (0.9 + 0.6) against 5 (0.6): 9 * 1.5 : 1.5 -> 0.9; slot 3 the same
    assert combined.confidence == pytest.approx(0.9 * 0.9, abs=1e-5)
    assert np.isfinite(combined.confidence)

"""text_spans: validation (offsets, labels, overlaps), span-level F1 gold, and the skill-weighted
character vote with spans as maximal runs, on hand-computed cases."""

from __future__ import annotations

import pytest

from tasks.annotation.errors import InvalidAnswer
from tasks.annotation.registry import TYPES
from tasks.annotation.text_spans import TYPE, span_f1

QUESTION = TYPE.question({"type": "text_spans", "labels": ["PER", "LOC"]})
TEXT = "Alice met Bob in Paris"  # Alice 0-5, met 6-9, Bob 10-13, in 14-16, Paris 17-22
CONTEXT = TYPE.context(QUESTION, {"text": TEXT})


def span(start, end, label="PER"):
    return {"start": start, "end": end, "label": label}


def answer(*spans, question=QUESTION, context=CONTEXT):
    return TYPE.answer(question, {"spans": list(spans)}, context)


def test_registered_with_defaults():
    assert TYPES["text_spans"] is TYPE
    assert QUESTION["text_field"] == "text"
    assert QUESTION["allow_overlap"] is False
    assert CONTEXT.text == TEXT


def test_answer_sorted_and_repeats_dropped():
    got = answer(span(17, 22, "LOC"), span(0, 5), span(17, 22, "LOC"))
    assert got == {"spans": [span(0, 5), span(17, 22, "LOC")]}
    assert answer() == {"spans": []}


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([span(17, 23, "LOC")], r"spans\[0\] \(17-23\) ends past the text \(22 characters\)"),
        ([span(0, 5), span(3, 9)],
         r"spans\[1\] \(3-9\) overlaps spans\[0\] \(0-5\); this question does not allow"),
        ([span(10, 13), span(0, 12, "LOC")], r"spans\[0\] \(10-13\) overlaps spans\[1\] \(0-12\)"),
        ([span(0, 5, "ORG")], r"spans\[0\].label 'ORG' is not one of: PER, LOC"),
        ([span(5, 5)], r"spans\[0\] \(5-5\) must have 0 <= start < end"),
        ([span(-1, 5)], r"spans\[0\] \(-1-5\) must have 0 <= start < end"),
        ([span(0, 5.0)], r"spans\[0\].start and .end must be integers"),
        ([span(True, 5)], r"spans\[0\].start and .end must be integers"),
        ([[0, 5, "PER"]], r"spans\[0\] must be an object"),
    ],
)  # fmt: skip
def test_bad_answers_name_the_bad_span(spans, message):
    with pytest.raises(InvalidAnswer, match=message):
        answer(*spans)


def test_overlap_when_allowed_and_text_unknown():
    nested = TYPE.question({"type": "text_spans", "labels": ["PER", "LOC"],
                            "allow_overlap": True})  # fmt: skip
    got = answer(span(0, 13), span(10, 13, "LOC"), question=nested,
                 context=TYPE.context(nested, {"text": TEXT}))  # fmt: skip
    assert got["spans"] == [span(0, 13), span(10, 13, "LOC")]
    unknown = TYPE.context(QUESTION, {"other": "field"})
    assert unknown.text is None
    assert answer(span(100, 120), context=unknown)["spans"] == [span(100, 120)]


def test_gold_is_exact_span_f1():
    gold = answer(span(0, 5), span(10, 13), span(17, 22, "LOC"))
    # One exact match (Alice); "Bob" one character short; Paris with the wrong label.
    mine = answer(span(0, 5), span(10, 12), span(17, 22))
    assert TYPE.gold_score(QUESTION, mine, gold) == pytest.approx(2 * 1 / 6)
    assert TYPE.gold_score(QUESTION, gold, gold) == 1.0
    assert TYPE.gold_score(QUESTION, answer(), answer()) == 1.0
    assert span_f1([], [span(0, 5)]) == 0.0
    assert TYPE.gold_passes(QUESTION, 0.8) and not TYPE.gold_passes(QUESTION, 0.79)


def test_character_vote_hand_computed():
    a = answer(span(0, 5), span(10, 13), span(17, 22, "LOC"))
    b = answer(span(0, 5), span(17, 22, "LOC"))
    c = answer(span(0, 9), span(10, 13))  # "Alice met": a boundary slip
    agg = TYPE.aggregate(QUESTION, [a, b, c], [0.8, 0.8, 0.8], CONTEXT)
    # PER: Alice 3 votes, " met" 1 vote, Bob 2 votes; LOC: Paris 2 votes. Each span's least
    # sure decision: Alice's neighbour " " is "out" at 0.8; Bob and Paris are "in" at 0.8.
    assert agg.label == {"spans": [
        {"start": 0, "end": 5, "label": "PER", "confidence": 0.8},
        {"start": 10, "end": 13, "label": "PER", "confidence": 0.8},
        {"start": 17, "end": 22, "label": "LOC", "confidence": 0.8},
    ]}  # fmt: skip
    assert agg.confidence == pytest.approx(0.8)
    assert agg.method == "char_vote"
    assert agg.agreement == pytest.approx((1.0, 0.8, 0.4))


def test_unanimous_spans_are_sure():
    a = answer(span(0, 5), span(17, 22, "LOC"))
    agg = TYPE.aggregate(QUESTION, [a, a, a], [0.8, 0.8, 0.8], CONTEXT)
    assert [s["confidence"] for s in agg.label["spans"]] == [round(64 / 65, 4)] * 2
    assert agg.confidence == pytest.approx(64 / 65)


def test_adjacent_spans_stay_apart_when_most_put_a_boundary():
    question = TYPE.question({"type": "text_spans", "labels": ["ORG"]})
    context = TYPE.context(question, {"text": "ACMEBANK"})
    split = answer(span(0, 4, "ORG"), span(4, 8, "ORG"), question=question, context=context)
    whole = answer(span(0, 8, "ORG"), question=question, context=context)
    agg = TYPE.aggregate(question, [split, split, whole], [0.8, 0.8, 0.8], context)
    assert [(s["start"], s["end"]) for s in agg.label["spans"]] == [(0, 4), (4, 8)]
    merged = TYPE.aggregate(question, [split, whole, whole], [0.8, 0.8, 0.8], context)
    assert [(s["start"], s["end"]) for s in merged.label["spans"]] == [(0, 8)]


def test_nothing_marked_and_no_answers():
    agg = TYPE.aggregate(QUESTION, [answer(), answer()], [0.8, 0.8], CONTEXT)
    assert agg.label == {"spans": []}
    assert agg.confidence == pytest.approx(16 / 17)
    assert TYPE.aggregate(QUESTION, [], [], CONTEXT).confidence == 0.0

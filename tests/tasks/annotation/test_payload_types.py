"""The integration works against the `AnnotationType` protocol alone: a tiny span type that,
like A2's `text_spans`, needs the item's text, registered for these tests only, goes through
upload (gold judged against the row's text), submit (answers judged against the claimed item's
text, on both the long and the one-statement path), gold scoring with feedback, the per-item
decision of dynamic overlap, the whole-bundle run and the results, with per-span confidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tasks.annotation.base import Aggregate, ItemContext
from tasks.annotation.registry import TYPES
from tasks.models import Assignment, Item, ItemState, WorkerBundleStats
from tasks.quality.bundle_aggregation import bundle_aggregate
from tasks.schema import InvalidAnswer, InvalidQuestion
from tests.conftest import client_for
from tests.factories import WorkerFactory

from .conftest import bundle_create, claim, fund_and_publish, results, submit, upload_jsonl

pytestmark = pytest.mark.django_db


def _key(span: Mapping[str, Any]) -> tuple[int, int, str]:
    return (span["start"], span["end"], span["label"])


def _f1(found: set, wanted: set) -> float:
    if not found and not wanted:
        return 1.0
    hits = len(found & wanted)
    return 2 * hits / (len(found) + len(wanted))


class FakeSpans:
    """Spans over the payload's text: exact-match F1 for gold (passes at 0.8), and a vote per
    span keeping those with more than half the skill, each with its share as confidence."""

    name = "fake_spans"

    def question(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        labels = raw.get("labels")
        if not isinstance(labels, list) or not labels:
            raise InvalidQuestion("question.labels must list labels.")
        return {"type": self.name, "text_field": raw.get("text_field", "text"), "labels": labels}

    def context(self, question: Mapping[str, Any], payload: Mapping[str, Any]) -> ItemContext:
        text = payload.get(question["text_field"])
        return ItemContext(payload=payload, text=text if isinstance(text, str) else None)

    def answer(self, question: Mapping[str, Any], raw: Any, context: ItemContext) -> Any:
        if context.text is None:
            raise InvalidAnswer("the item has no text to mark.")
        if not isinstance(raw, dict) or not isinstance(raw.get("spans"), list):
            raise InvalidAnswer('answer must be {"spans": [...]}.')
        spans = []
        for i, span in enumerate(raw["spans"]):
            if span.get("label") not in question["labels"]:
                raise InvalidAnswer(f"spans[{i}].label {span.get('label')!r} is not a label.")
            if not 0 <= span["start"] < span["end"] <= len(context.text):
                raise InvalidAnswer(
                    f"spans[{i}] ends past the text ({len(context.text)} characters)."
                )
            spans.append({"start": span["start"], "end": span["end"], "label": span["label"]})
        return {"spans": sorted(spans, key=_key)}

    def gold_score(self, question: Mapping[str, Any], answer: Any, gold: Any) -> float:
        return _f1({_key(s) for s in answer["spans"]}, {_key(s) for s in gold["spans"]})

    def gold_passes(self, question: Mapping[str, Any], score: float) -> bool:
        return score >= 0.8

    def aggregate(
        self,
        question: Mapping[str, Any],
        answers: Sequence[Any],
        weights: Sequence[float],
        context: ItemContext,
    ) -> Aggregate:
        assert context.text is not None  # the integration passes the item's context
        total = sum(weights)
        support: dict[tuple, float] = {}
        for answer, weight in zip(answers, weights, strict=True):
            for span in answer["spans"]:
                support[_key(span)] = support.get(_key(span), 0.0) + weight
        kept = sorted(k for k, w in support.items() if w > total / 2)
        spans = [
            {"start": s, "end": e, "label": lab, "confidence": support[(s, e, lab)] / total}
            for s, e, lab in kept
        ]
        confidence = 1.0
        for w in support.values():
            confidence *= max(w, total - w) / total
        agreement = tuple(_f1({_key(s) for s in a["spans"]}, set(kept)) for a in answers)
        return Aggregate({"spans": spans}, confidence, "fake_vote", agreement)


@pytest.fixture(autouse=True)
def fake_type(monkeypatch):
    monkeypatch.setitem(TYPES, FakeSpans.name, FakeSpans())


QUESTION = {"type": "fake_spans", "labels": ["PER", "ORG"]}
TEXT = "Ada met Bob at Acme"  # Ada 0-3, Bob 8-11, Acme 15-19
ADA, BOB, ACME = (
    {"start": 0, "end": 3, "label": "PER"},
    {"start": 8, "end": 11, "label": "PER"},
    {"start": 15, "end": 19, "label": "ORG"},
)
GOLD_TEXT = "Cy joined Dell"
GOLD = {"spans": [{"start": 0, "end": 2, "label": "PER"}, {"start": 10, "end": 14, "label": "ORG"}]}


def test_a_payload_needing_type_runs_end_to_end(requester, draw):
    req = client_for(requester)
    bundle = bundle_create(
        req, QUESTION, min_overlap=2, max_overlap=3, target_confidence=0.9, gold_rate=0.5,
        gold_feedback_expected=True,
    )  # fmt: skip
    past = {"spans": [{"start": 10, "end": 20, "label": "ORG"}]}
    refused = upload_jsonl(
        req, bundle["id"], [{"external_id": "g0", "payload": {"text": GOLD_TEXT}, "gold": past}]
    )
    assert refused.status_code == 400
    assert "gold: spans[0] ends past the text (14 characters)" in refused.json()["detail"]
    # r2 is never finished here: it keeps the bundle live for the gold answer below (a bundle
    # whose items are all complete is completed).
    rows = [{"external_id": "r1", "payload": {"text": TEXT}}]
    rows += [{"external_id": "g1", "payload": {"text": GOLD_TEXT}, "gold": GOLD}]
    rows += [{"external_id": "r2", "payload": {"text": TEXT}}]
    assert upload_jsonl(req, bundle["id"], rows).json() == {"created": 3, "gold": 1}
    fund_and_publish(req, requester, bundle["id"])
    w1, w2, w3 = (WorkerFactory() for _ in range(3))

    # Answers are judged against the claimed item's own text.
    task = claim(w1, bundle["id"])
    for bad, message in (
        ({"spans": [{"start": 15, "end": 25, "label": "ORG"}]}, "spans[0] ends past the text"),
        ({"spans": [ADA, {"start": 8, "end": 11, "label": "LOC"}]}, "spans[1].label 'LOC'"),
        ({"boxes": []}, 'answer must be {"spans": [...]}'),
    ):
        response = submit(w1, task["id"], bad)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_answer"
        assert message in response.json()["detail"]
    assert submit(w1, task["id"], {"spans": [BOB, ADA, ACME]}).status_code == 200
    item = Item.objects.get(external_id="r1")
    item.refresh_from_db()
    # one answer at skill 0.7 weighs all of the skill: every span has share 1
    assert item.state == ItemState.OPEN and item.judgments_submitted == 1

    # The second worker agrees (submitting with ?next=1, the loop's path): complete.
    task = claim(w2, bundle["id"])
    assert submit(w2, task["id"], {"spans": [ADA, BOB, ACME]}, next_task=True).status_code == 200
    item.refresh_from_db()
    assert item.state == ItemState.COMPLETE
    assert item.result.method == "fake_vote"
    assert item.result.label == {"spans": [dict(s, confidence=1.0) for s in (ADA, BOB, ACME)]}

    # Gold: scored by the type (F1 1/2 of 2/3 spans: 2 * 1 / (1 + 2)), feedback shows it.
    draw.gold()
    task = claim(w3, bundle["id"])
    assert task["feedback_expected"] is None
    done = submit(w3, task["id"], {"spans": [GOLD["spans"][0]]})
    assert done.status_code == 200
    assert done.json()["feedback"] == "incorrect"
    assert done.json()["feedback_expected"] == {"answer": GOLD, "score": pytest.approx(2 / 3)}
    stored = Assignment.objects.get(pk=task["id"])
    assert (stored.gold_correct, stored.gold_score) == (False, pytest.approx(2 / 3))
    stats = WorkerBundleStats.objects.get(worker=w3, bundle_id=bundle["id"])
    assert (stats.gold_seen, stats.gold_correct) == (1, 0)

    # The whole-bundle run and the results: the shaped label, each span with its confidence.
    bundle_aggregate(bundle_id=bundle["id"])
    rows = results(req, bundle["id"])
    assert rows["r1"]["method"] == "fake_vote+skills"
    assert [s["confidence"] for s in rows["r1"]["label"]["spans"]] == [1.0, 1.0, 1.0]
    assert rows["r1"]["confidence"] == 1.0
    assert [j["answer"] for j in rows["r1"]["judgments"]] == [{"spans": [ADA, BOB, ACME]}] * 2
    assert rows["g1"]["method"] == "gold"
    assert rows["g1"]["label"] == {"spans": [dict(s, confidence=1.0) for s in GOLD["spans"]]}
    # skills: the prior is the crowd's pooled gold record, 0 of 1, shrunk toward 0.7:
    # (0 + 4 * 0.7) / (1 + 4) = 0.56; w1 and w2 agreed once: (0.5 * 1 + 4 * 0.56) / 4.5.
    skills = dict(
        WorkerBundleStats.objects.filter(bundle_id=bundle["id"]).values_list(
            "worker_id", "estimated_accuracy"
        )
    )
    assert skills[w1.pk] == pytest.approx(2.74 / 4.5)
    assert skills[w2.pk] == pytest.approx(2.74 / 4.5)


def test_skill_from_gold_weighs_the_vote(requester, draw):
    """A worker whose gold was right outweighs one whose gold was wrong where they disagree."""
    req = client_for(requester)
    bundle = bundle_create(req, QUESTION, overlap=2, gold_rate=0.5)
    rows = [{"external_id": "r1", "payload": {"text": TEXT}}]
    rows += [{"external_id": f"g{n}", "payload": {"text": GOLD_TEXT}, "gold": GOLD} for n in (1, 2)]
    upload_jsonl(req, bundle["id"], rows)
    fund_and_publish(req, requester, bundle["id"])
    good, bad = WorkerFactory(), WorkerFactory()
    for worker, answer in ((good, GOLD), (bad, {"spans": []})):
        draw.gold()
        assert submit(worker, claim(worker, bundle["id"])["id"], answer).status_code == 200
        draw.real()
        mine = {"spans": [ADA]} if worker is good else {"spans": [BOB]}
        assert submit(worker, claim(worker, bundle["id"])["id"], mine).status_code == 200
    bundle_aggregate(bundle_id=bundle["id"])
    # prior: pooled gold 1 of 2 shrunk, (1 + 4 * 0.7) / 6 = 0.6333; good (1 + 2.5333) / 5,
    # bad (0 + 2.5333) / 5 before agreement; good's ADA is kept, bad's BOB is not.
    label = results(req, bundle["id"])["r1"]["label"]
    assert [(s["start"], s["end"]) for s in label["spans"]] == [(0, 3)]

"""Exports of text spans (spaCy JSONL, CoNLL JSONL, Label Studio) and preference pairs (pairs
JSONL as reward-model trainers read it, and the candidate ranking)."""

from __future__ import annotations

import json

import pytest

from tasks import exports
from tasks.exports.labelstudio import labelstudio_answer
from tasks.exports.spans import bio_tags, entities
from tasks.models import WorkerBundleStats
from tasks.selectors import worker_public_id
from tests.factories import BundleFactory, ItemFactory, RequesterFactory
from tests.tasks.annotated import PAIRS, SPANS, judge, result

pytestmark = pytest.mark.django_db

TEXT = "Ada Lovelace met Charles Babbage in London."
ADA = {"start": 0, "end": 12, "label": "PER", "confidence": 0.95}
BABBAGE = {"start": 17, "end": 32, "label": "PER", "confidence": 0.7}
LONDON = {"start": 36, "end": 42, "label": "LOC", "confidence": 0.88}
LOVELACE = {"start": 4, "end": 12, "label": "ORG", "confidence": 0.4}  # overlaps ADA


def _lines(bundle, fmt: str) -> list[dict]:
    _, chunks = exports.bundle_results_export(bundle, fmt)
    return [json.loads(line) for line in "".join(chunks).splitlines()]


@pytest.fixture
def ner():
    bundle = BundleFactory(requester=RequesterFactory(), question=dict(SPANS))
    item = ItemFactory(bundle=bundle, external_id="s1", payload={"text": TEXT})
    judge(item, [{"spans": [ADA, LONDON]}, {"spans": [ADA, BABBAGE, LONDON]}])
    result(item, {"spans": [LONDON, ADA, BABBAGE, LOVELACE]}, 0.83, "span_vote")
    ItemFactory(bundle=bundle, payload={"text": "not labelled yet"})
    return {"bundle": bundle, "item": item}


def test_spacy_lines_have_text_spans_entities_and_judgments(ner):
    [line] = _lines(ner["bundle"], "spacy")
    assert line["text"] == TEXT
    assert line["spans"] == [ADA, LOVELACE, BABBAGE, LONDON]  # text order, every span
    assert line["entities"] == [[0, 12, "PER"], [17, 32, "PER"], [36, 42, "LOC"]]
    assert [TEXT[s:e] for s, e, _ in line["entities"]] == [
        "Ada Lovelace", "Charles Babbage", "London"
    ]  # fmt: skip
    assert line["meta"]["confidence"] == 0.83 and line["meta"]["external_id"] == "s1"
    assert [len(j["answer"]["spans"]) for j in line["judgments"]] == [2, 3]


def test_conll_lines_tag_tokens_in_iob2(ner):
    [line] = _lines(ner["bundle"], "conll")
    assert line["tokens"] == ["Ada", "Lovelace", "met", "Charles", "Babbage", "in", "London", "."]
    assert line["ner_tags"] == ["B-PER", "I-PER", "O", "B-PER", "I-PER", "O", "B-LOC", "O"]
    assert line["token_offsets"][1] == [4, 12]
    assert line["id"] == "s1"


def test_adjacent_entities_of_one_label_each_start_with_b():
    tokens, tags, _ = bio_tags("Paris Rome", [{"start": 0, "end": 5, "label": "LOC"},
                                             {"start": 6, "end": 10, "label": "LOC"}])  # fmt: skip
    assert (tokens, tags) == (["Paris", "Rome"], ["B-LOC", "B-LOC"])
    assert entities(
        [{"start": 0, "end": 3, "label": "A"}, {"start": 2, "end": 9, "label": "B"}]
    ) == [[2, 9, "B"]]


def test_label_studio_spans_carry_text_and_come_back(ner):
    tasks = json.loads("".join(exports.bundle_results_export(ner["bundle"], "labelstudio")[1]))
    assert len(tasks) == 2  # every item is a task, labelled or not
    task = next(t for t in tasks if t["id"] == ner["item"].pk)
    regions = task["predictions"][0]["result"]
    london = regions[0]
    assert london["type"] == "labels" and london["to_name"] == "text"
    assert london["value"] == {"start": 36, "end": 42, "labels": ["LOC"], "text": "London"}
    back = labelstudio_answer(ner["bundle"].question, regions)
    assert back == {"spans": [LONDON, ADA, BABBAGE, LOVELACE]}
    assert len(task["annotations"]) == 2


@pytest.fixture
def duel():
    bundle = BundleFactory(requester=RequesterFactory(), question=dict(PAIRS))
    won = ItemFactory(bundle=bundle, external_id="p1",
                      payload={"prompt": "Say hi", "a": "Hello!", "b": "Go away.",
                               "a_id": "polite", "b_id": "rude"})  # fmt: skip
    judge(won, [{"choice": "left"}, {"choice": "left", "reason": "kinder"}, {"choice": "right"}])
    result(won, {"choice": "left"}, 0.9, "pair_vote")
    lost = ItemFactory(bundle=bundle, payload={"a": "Go away.", "b": "Hi there",
                                               "a_id": "rude", "b_id": "warm"})  # fmt: skip
    judge(lost, [{"choice": "right"}, {"choice": "right"}, {"choice": "right"}])
    result(lost, {"choice": "right"}, 0.97, "pair_vote")
    tie = ItemFactory(bundle=bundle, payload={"a": "Hello!", "b": "Hi there",
                                              "a_id": "polite", "b_id": "warm"})  # fmt: skip
    judge(tie, [{"choice": "tie"}, {"choice": "left"}, {"choice": "right"}])
    result(tie, {"choice": "tie"}, 0.5, "pair_vote")
    return {"bundle": bundle, "won": won, "lost": lost, "tie": tie}


def test_pairs_are_chosen_and_rejected_lines_with_prompt_and_judgments(duel):
    first, second = _lines(duel["bundle"], "pairs")  # the tie has no chosen side
    assert {k: first[k] for k in ("prompt", "chosen", "rejected", "chosen_id", "rejected_id")} == {
        "prompt": "Say hi", "chosen": "Hello!", "rejected": "Go away.", "chosen_id": "polite",
        "rejected_id": "rude",
    }  # fmt: skip
    assert first["confidence"] == 0.9 and len(first["judgments"]) == 3
    assert first["judgments"][1]["answer"]["reason"] == "kinder"
    assert "prompt" not in second
    assert (second["chosen"], second["rejected"]) == ("Hi there", "Go away.")
    assert (second["chosen_id"], second["rejected_id"]) == ("warm", "rude")


def test_ranking_orders_candidates_from_every_counted_judgment(duel):
    [document] = _lines(duel["bundle"], "ranking")
    assert document["method"] == "noisy_bradley_terry" and document["comparisons"] == 9
    order = [entry["id"] for entry in document["ranking"]]
    assert order[-1] == "rude"  # lost all four comparisons it was in, 7 of 8 judgments
    assert all(low <= e["score"] <= high for e in document["ranking"]
               for low, high in [e["interval"]])  # fmt: skip
    # A blocked worker's judgments leave the fit.
    spammer = duel["lost"].assignments.order_by("id").first()
    WorkerBundleStats.objects.create(worker=spammer.worker, bundle=duel["bundle"], blocked=True)
    [document] = _lines(duel["bundle"], "ranking")
    assert document["comparisons"] == 8
    assert worker_public_id(duel["bundle"].requester_id, spammer.worker_id)

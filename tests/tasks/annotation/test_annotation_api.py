"""image_classification and transcription through the API, as a requester and workers use it:
create, upload with gold, publish, claim, submit (valid and not), gold scoring and feedback,
dynamic overlap, results."""

from __future__ import annotations

import pytest
from django.test import TestCase

from tasks.models import Assignment, Bundle, BundleStatus, Item, ItemState, WorkerBundleStats
from tasks.quality.bundle_aggregation import bundles_needing_aggregation
from tests.conftest import client_for
from tests.factories import WorkerFactory

from .conftest import (
    bundle_create,
    claim,
    fund_and_publish,
    results,
    submit,
    upload_csv,
    upload_jsonl,
)

pytestmark = pytest.mark.django_db
URL = "https://example.com/img/{}.png"


def test_image_classification_from_upload_to_results(requester, workers, draw):
    req = client_for(requester)
    question = {"type": "image_classification", "image_field": "photo", "choices": ["cat", "dog"]}
    bundle = bundle_create(req, question, overlap=3, gold_rate=0.2)
    assert bundle["question"] == {
        "type": "image_classification",
        "image_field": "photo",
        "choices": [{"value": "cat", "label": "cat"}, {"value": "dog", "label": "dog"}],
        "multiple": False,
    }
    bad = upload_csv(req, bundle["id"], f"external_id,photo,gold\ng0,{URL.format(0)},zebra\n")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_upload"
    assert "gold: answer must be one of: cat, dog" in bad.json()["detail"]
    good = upload_csv(
        req,
        bundle["id"],
        "external_id,photo,gold\n"
        f"r1,{URL.format(1)},\nr2,{URL.format(2)},\ng1,{URL.format(3)},cat\n",
    )
    assert good.json() == {"created": 3, "gold": 1}
    assert Item.objects.get(external_id="g1").gold == "cat"
    fund_and_publish(req, requester, bundle["id"])

    truth = {"r1": ["cat", "cat", "cat"], "r2": ["dog", "dog", "cat"]}
    for n, worker in enumerate(workers):
        for _ in range(2):
            task = claim(worker, bundle["id"])
            external_id = Item.objects.get(pk=task["item"]["id"]).external_id
            refused = submit(worker, task["id"], "zebra")
            assert refused.status_code == 400
            assert refused.json()["code"] == "invalid_answer"
            assert "answer must be one of: cat, dog" in refused.json()["detail"]
            assert submit(worker, task["id"], truth[external_id][n]).status_code == 200

    ids = [a.pk for a in Assignment.objects.filter(bundle_id=bundle["id"])]
    with TestCase.captureOnCommitCallbacks(execute=True):  # completes, then aggregates
        reviewed = req.post(
            "/api/v1/assignments/review/", {"ids": ids, "action": "approve"}, format="json"
        )
    assert reviewed.json()["errors"] == {}
    rows = results(req, bundle["id"])
    assert (rows["r1"]["label"], rows["r2"]["label"]) == ("cat", "dog")
    # The whole-bundle run: skills start at the prior 0.7 (no gold answered); agreement with
    # the aggregate counts half a gold answer: workers 1 and 2 agreed twice,
    # (0.5 * 2 + 4 * 0.7) / (0.5 * 2 + 4) = 0.76; worker 3 once, (0.5 + 2.8) / 5 = 0.66.
    # r2 then is dog (0.76, 0.76) against cat (0.66), odds s / (1 - s) multiplied per class.
    dog, cat = (0.76 / 0.24) ** 2, 0.66 / 0.34
    assert rows["r2"]["confidence"] == pytest.approx(dog / (dog + cat))
    assert rows["r1"]["confidence"] > rows["r2"]["confidence"]
    assert rows["r1"]["method"] == "one_coin+skills"
    assert [j["answer"] for j in rows["r2"]["judgments"]] == ["dog", "dog", "cat"]


def test_multiple_image_classification_gold_from_csv_and_list_answers(requester, workers):
    req = client_for(requester)
    question = {"type": "image_classification", "choices": ["cat", "dog", "car"], "multiple": True}
    bundle = bundle_create(req, question, overlap=1)
    uploaded = upload_csv(req, bundle["id"], f"image,gold\n{URL.format(1)},car|cat\n{URL},\n")
    assert uploaded.json() == {"created": 2, "gold": 1}
    assert Item.objects.get(is_gold=True).gold == ["cat", "car"]  # the question's order
    fund_and_publish(req, requester, bundle["id"])
    task = claim(workers[0], bundle["id"])
    refused = submit(workers[0], task["id"], ["cat", "zebra"])
    assert refused.status_code == 400
    assert "unknown choice value(s): zebra" in refused.json()["detail"]
    done = submit(workers[0], task["id"], ["dog", "cat"])
    assert done.status_code == 200
    assert done.json()["answer"] == ["cat", "dog"]


GOLD = {
    # gold text: (answer, score, passes at 0.9)
    "The quick brown fox": ("the quick brown box", 18 / 19, True),
    "Hello there": ("hello", 5 / 11, False),
}


def test_transcription_gold_scored_by_edit_distance_with_the_expected_text_after(requester, draw):
    req = client_for(requester)
    question = {"type": "transcription", "normalize": ["case", "whitespace", "punctuation"]}
    bundle = bundle_create(req, question, overlap=1, gold_rate=0.5, gold_feedback_expected=True)
    assert bundle["gold_feedback_expected"] is True
    # three real items at gold rate 0.5 buy three gold judgments
    rows = [{"external_id": f"r{n}", "payload": {"image": URL.format(n)}} for n in range(3)]
    rows += [
        {"external_id": f"g{n}", "payload": {"image": URL.format(n)}, "gold": text}
        for n, text in enumerate(GOLD)
    ]
    assert upload_jsonl(req, bundle["id"], rows).json() == {"created": 5, "gold": 2}
    fund_and_publish(req, requester, bundle["id"])

    worker = WorkerFactory()
    api = client_for(worker)
    for _ in GOLD:
        draw.gold()
        task = claim(worker, bundle["id"])
        gold = Item.objects.get(pk=task["item"]["id"]).gold
        assert task["feedback_expected"] is None and task["feedback"] is None
        assert gold not in str(task)
        answer, score, passes = GOLD[gold]
        done = submit(worker, task["id"], answer)
        assert done.status_code == 200
        body = done.json()
        assert body["feedback"] == ("correct" if passes else "incorrect")
        assert body["feedback_expected"] == {"answer": gold, "score": pytest.approx(score)}
        again = api.get(f"/api/v1/work/assignments/{task['id']}/").json()
        assert again["feedback_expected"] == body["feedback_expected"]
        stored = Assignment.objects.get(pk=task["id"])
        assert (stored.gold_correct, stored.gold_score) == (passes, pytest.approx(score))
    stats = WorkerBundleStats.objects.get(worker=worker, bundle_id=bundle["id"])
    assert (stats.gold_seen, stats.gold_correct) == (2, 1)
    seen = req.get(f"/api/v1/bundles/{bundle['id']}/assignments/?is_gold=true").json()
    assert sorted(a["gold_score"] for a in seen["results"]) == pytest.approx([5 / 11, 18 / 19])

    draw.real()
    task = claim(worker, bundle["id"])
    done = submit(worker, task["id"], "a line").json()
    assert (done["feedback"], done["feedback_expected"]) == (None, None)


def test_expected_answer_is_opt_in_and_for_annotation_types_only(requester, draw):
    req = client_for(requester)
    plain = req.post(
        "/api/v1/bundles/",
        {
            "title": "t", "question": {"type": "text"}, "reward": 5, "overlap": 1,
            "gold_feedback_expected": True,
        },
        format="json",
    )  # fmt: skip
    assert plain.status_code == 400
    assert plain.json()["code"] == "invalid_setting"
    bundle = bundle_create(req, {"type": "transcription"}, overlap=1, gold_rate=0.2)
    assert bundle["gold_feedback_expected"] is False
    rows = [
        {"payload": {"image": URL.format(1)}},
        {"payload": {"image": URL.format(2)}, "gold": "The quick brown fox"},
    ]
    upload_jsonl(req, bundle["id"], rows)
    fund_and_publish(req, requester, bundle["id"])
    draw.gold()
    worker = WorkerFactory()
    task = claim(worker, bundle["id"])
    done = submit(worker, task["id"], "the quick brown box").json()
    assert (done["feedback"], done["feedback_expected"]) == (None, None)
    assert "quick brown fox" not in str(done)


def test_dynamic_overlap_completes_a_transcription_item_once_confident(requester):
    req = client_for(requester)
    bundle = bundle_create(
        req, {"type": "transcription"}, min_overlap=2, max_overlap=4, target_confidence=0.9
    )
    upload_jsonl(req, bundle["id"], [{"external_id": "r1", "payload": {"image": URL}}])
    fund_and_publish(req, requester, bundle["id"])
    item = Item.objects.get(bundle_id=bundle["id"])
    w1, w2, w3, w4 = (WorkerFactory() for _ in range(4))

    # Skill 0.7 for workers with no gold (the prior): n agreeing answers give
    # 0.7^n / (0.7^n + 0.3^n): 0.845 for two (under 0.9), 0.927 for three.
    for worker, text in ((w1, "Hello world"), (w2, "hello  world")):
        assert submit(worker, claim(worker, bundle["id"])["id"], text).status_code == 200
    item.refresh_from_db()
    assert (item.state, item.slots_open, item.judgments_submitted) == (ItemState.OPEN, 1, 2)
    assert item.result.confidence == pytest.approx(0.49 / 0.58)
    task = claim(w3, bundle["id"])
    assert submit(w3, task["id"], "HELLO WORLD", next_task=True).json()["no_next"]["code"] == (
        "no_tasks_available"
    )
    item.refresh_from_db()
    assert (item.state, item.slots_open) == (ItemState.COMPLETE, 0)
    none_left = client_for(w4).post(f"/api/v1/work/bundles/{bundle['id']}/claim/")
    assert none_left.json()["code"] == "no_tasks_available"

    # Its only item complete, the bundle is completed (issue 13, item 6: review goes on after
    # it), and its whole-bundle run writes the result: each worker agreed fully once, at half
    # a gold answer's weight: (0.5 * 1 + 4 * 0.7) / (0.5 + 4) = 3.3 / 4.5
    assert Bundle.objects.get(pk=bundle["id"]).status == BundleStatus.COMPLETED
    assert bundle["id"] not in bundles_needing_aggregation()
    row = results(req, bundle["id"])["r1"]
    assert (row["label"], row["method"]) == ("Hello world", "normalised_majority+skills")
    assert len(row["judgments"]) == 3
    skills = WorkerBundleStats.objects.filter(bundle_id=bundle["id"]).values_list(
        "estimated_accuracy", flat=True
    )
    assert list(skills) == pytest.approx([3.3 / 4.5] * 3)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (
            {"type": "image_classification", "choices": [str(n) for n in range(101)]},
            "question.choices may list at most 100 entries",
        ),
        (
            {"type": "transcription", "labels": [str(n) for n in range(51)]},
            "question.labels may list at most 50 entries",
        ),
        (
            {"type": "image_classification", "choices": ["a" * 101, "b"]},
            "longer than 100 characters",
        ),
        ({"type": "transcription", "normalize": ["accents"]}, "unknown rule(s) accents"),
        ({"type": "transcription", "prompt": "x" * 2001}, "question.prompt must be text"),
        ({"type": "boxes"}, "question.type must be one of"),
    ],
)
def test_bad_annotation_questions_are_refused_with_a_reason(requester, question, message):
    created = client_for(requester).post(
        "/api/v1/bundles/", {"title": "t", "question": question, "reward": 5}, format="json"
    )
    assert created.status_code == 400
    assert created.json()["code"] == "invalid_question"
    assert message in created.json()["detail"]


def test_the_gold_rule_blocks_on_an_annotation_bundle_by_the_types_own_pass(requester, draw):
    """Gold accuracy counts the type's passes (here edit distance at 0.9): two failed gold
    transcriptions put even the upper end of the Wilson interval (0.66) under 0.8."""
    req = client_for(requester)
    bundle = bundle_create(
        req, {"type": "transcription"}, overlap=1, gold_rate=0.5, min_gold_accuracy=0.8,
        min_gold_answers=2,
    )  # fmt: skip
    rows = [{"payload": {"image": URL.format(n)}} for n in range(3)]
    rows += [{"payload": {"image": URL.format(9)}, "gold": text} for text in GOLD]
    upload_jsonl(req, bundle["id"], rows)
    fund_and_publish(req, requester, bundle["id"])
    worker = WorkerFactory()
    draw.gold()
    for _ in GOLD:
        task = claim(worker, bundle["id"])
        assert submit(worker, task["id"], "something else entirely").status_code == 200
    stats = WorkerBundleStats.objects.get(worker=worker, bundle_id=bundle["id"])
    assert (stats.gold_seen, stats.gold_correct, stats.blocked) == (2, 0, True)
    draw.real()
    refused = client_for(worker).post(f"/api/v1/work/bundles/{bundle['id']}/claim/")
    assert (refused.status_code, refused.json()["code"]) == (403, "blocked")

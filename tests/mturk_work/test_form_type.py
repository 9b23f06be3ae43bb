"""The "form" question type: MTurk HIT answers as field -> value objects."""

import json

import pytest

from tasks.annotation.form import MAX_FIELDS, MAX_VALUE_CHARS, TYPE
from tasks.schema import InvalidAnswer, answer_validate, gold_judge, question_validate
from tests.mturk_work.xml_samples import CROWD_FORM, QUESTION_FORM, html_question

QUESTION = {"type": "form", "gold_threshold": 1.0}


def test_question_canonical():
    assert question_validate({"type": "form"}) == QUESTION
    with pytest.raises(Exception, match="gold_threshold"):
        question_validate({"type": "form", "gold_threshold": 2})


def test_answer_is_an_object_of_texts():
    answer = {"label": "cat", "tags": ["a", "b"], "empty": ""}
    assert answer_validate(QUESTION, answer, payload={}) == answer


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("cat", "object of form fields"),
        ([], "object of form fields"),
        ({"n": 3}, "text or a list"),
        ({"n": ["a", 1]}, "list holds"),
        ({"n": "x" * (MAX_VALUE_CHARS + 1)}, "longer than"),
        ({f"f{i}": "v" for i in range(MAX_FIELDS + 1)}, "more than"),
        ({"n": "a\x00b"}, "control characters"),
        ({"": "x"}, "field names"),
    ],
)
def test_bad_answers_are_refused(answer, message):
    with pytest.raises(InvalidAnswer, match=message):
        answer_validate(QUESTION, answer, payload={})


def test_html_question_answers_are_taken_as_sent():
    payload = {"mturk_question": html_question(CROWD_FORM)}
    assert answer_validate(QUESTION, {"anything": "x"}, payload=payload) == {"anything": "x"}


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"likelytowin": "likely"}, "nextmove: an answer is required"),
        ({"nextmove": "B22", "likelytowin": "likely"}, "at most 2 characters"),
        ({"nextmove": "B2", "likelytowin": "maybe"}, "choose from notlikely"),
        ({"nextmove": "B2", "likelytowin": ["likely", "unsure"]}, "between 1 and 1"),
        ({"nextmove": "B2", "likelytowin": "likely", "age": "12"}, "at least 18"),
        ({"nextmove": "B2", "likelytowin": "likely", "age": "old"}, "whole number"),
        ({"nextmove": "B2", "likelytowin": "likely", "other": "x"}, "unknown question"),
    ],
)
def test_question_form_answers_must_fit_the_form(answer, message):
    with pytest.raises(InvalidAnswer, match=message):
        answer_validate(QUESTION, answer, payload={"mturk_question": QUESTION_FORM})


def test_question_form_answer_that_fits():
    answer = {"nextmove": "B2", "likelytowin": "likely", "pieces": ["x", "o"], "age": "30"}
    payload = {"mturk_question": QUESTION_FORM}
    assert answer_validate(QUESTION, answer, payload=payload) == answer


def test_aggregate_is_a_per_field_weighted_majority():
    answers = [
        {"label": "cat", "tags": ["b", "a"], "comment": "nice"},
        {"label": "cat ", "tags": ["a", "b"], "comment": "meh"},
        {"label": "dog", "tags": ["a"]},
    ]
    result = TYPE.aggregate(QUESTION, answers, [0.8, 0.8, 0.9], TYPE.context(QUESTION, {}))
    assert result.method == "per_field_majority"
    assert result.label["label"] == "cat" and sorted(result.label["tags"]) == ["a", "b"]
    # every comment differs: still a label, with a low confidence that shows it
    assert "comment" in result.label and result.confidence < 0.6
    assert result.agreement[0] == 1.0 and result.agreement[2] == 0.0


def test_aggregate_leaves_out_fields_most_answers_lack_and_handles_none():
    answers = [{"a": "1"}, {"a": "1"}, {"a": "1", "rare": "x"}]
    result = TYPE.aggregate(QUESTION, answers, [0.7, 0.7, 0.7], TYPE.context(QUESTION, {}))
    assert result.label == {"a": "1"} and result.confidence > 0.9
    empty = TYPE.aggregate(QUESTION, [], [], TYPE.context(QUESTION, {}))
    assert empty.label is None and empty.confidence == 0.0


def test_gold_is_the_share_of_gold_fields_matched():
    gold = {"label": "cat", "tags": ["a", "b"]}
    assert gold_judge(QUESTION, {"label": "cat", "tags": ["b", "a"], "x": "y"}, gold) == (True, 1.0)
    assert gold_judge(QUESTION, {"label": "dog", "tags": ["a", "b"]}, gold) == (False, 0.5)
    lenient = question_validate({"type": "form", "gold_threshold": 0.5})
    assert gold_judge(lenient, {"label": "dog", "tags": ["a", "b"]}, gold) == (True, 0.5)


@pytest.mark.django_db
def test_form_bundle_results_export_labels_and_judgments(api):
    from tasks import review, services, work
    from tests.factories import WorkerFactory
    from tests.mturk_work.helpers import hit_bundle
    from tests.mturk_work.xml_samples import PLAIN_FORM

    bundle = hit_bundle([html_question(PLAIN_FORM)], overlap=3)
    answers = [{"label": "cat", "tags": ["a"]}, {"label": "cat", "tags": ["a"]}, {"label": "dog"}]
    for answer in answers:
        worker = WorkerFactory()
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer=answer)
        review.assignment_approve(assignment_id=claimed.pk, by=bundle.requester)
    from tasks.quality.bundle_aggregation import bundle_aggregate

    bundle_aggregate(bundle_id=bundle.pk)  # what the re-aggregation beat runs
    api.force_authenticate(bundle.requester)
    data = api.get(f"/api/v1/bundles/{bundle.pk}/results/?format=json")
    assert data.status_code == 200
    text = b"".join(data.streaming_content).decode() if data.streaming else data.content.decode()
    (row,) = json.loads(text)
    assert row["label"] == {"label": "cat", "tags": ["a"]}
    assert row["method"].startswith("per_field_majority") and 0 < row["confidence"] < 1
    assert [j["answer"] for j in row["judgments"]] == answers
    csv_export = api.get(f"/api/v1/bundles/{bundle.pk}/results/?format=csv")
    assert csv_export.status_code == 200
    body = b"".join(csv_export.streaming_content) if csv_export.streaming else csv_export.content
    assert b"cat" in body

"""Issue 16, findings 4 and 9: the OpenAPI schema describes a bundle's question by type, with
the bounds the validation enforces (read from the same constants), so fuzzing probes them."""

from __future__ import annotations

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from tasks import schema as question_rules
from tests.conftest import client_for
from tests.factories import RequesterFactory

V = "v" * question_rules.MAX_VALUE_LENGTH


@pytest.fixture(scope="module")
def openapi():
    return SchemaGenerator().get_schema(request=None, public=True)


def _component(openapi, name):
    return openapi["components"]["schemas"][name]


def _allowed(openapi, question) -> bool:
    """Whether the request schema of `question` (refs resolved in the document) allows it."""
    document = {"$ref": "#/components/schemas/QuestionRequest", **openapi}
    try:
        jsonschema.validate(question, document)
    except jsonschema.ValidationError:
        return False
    return True


def _create(question):
    body = {"title": "Bounds", "instructions": "Answer.", "question": question, "reward": 5,
            "currency": "usd", "time_limit_seconds": 600}  # fmt: skip
    return client_for(RequesterFactory()).post("/api/v1/bundles/", body, format="json")


def test_the_bundle_question_is_one_of_its_types(openapi):
    ref = _component(openapi, "BundleRequest")["properties"]["question"]["$ref"]
    question = _component(openapi, ref.rsplit("/", 1)[1])
    types = (*question_rules.QUESTION_TYPES, *question_rules.ANNOTATION_TYPES)
    assert question["discriminator"]["propertyName"] == "type"
    assert set(question["discriminator"]["mapping"]) == set(types)
    assert len(question["oneOf"]) == len(types)


def test_each_component_carries_the_validation_bounds(openapi):
    single = _component(openapi, "SingleChoiceQuestionRequest")["properties"]
    assert single["choices"]["maxItems"] == question_rules.MAX_CHOICES
    assert single["choices"]["minItems"] == 2
    entry = single["choices"]["items"]["oneOf"]
    assert entry[0]["maxLength"] == question_rules.MAX_VALUE_LENGTH
    assert entry[1]["properties"]["label"]["maxLength"] == question_rules.MAX_LABEL_LENGTH
    assert single["prompt"]["maxLength"] == question_rules.MAX_PROMPT_LENGTH
    rating = _component(openapi, "RatingQuestionRequest")["properties"]
    assert rating["max"]["maximum"] == question_rules.MAX_RATING_VALUE
    assert rating["min"]["minimum"] == -question_rules.MAX_RATING_VALUE
    text = _component(openapi, "TextQuestionRequest")["properties"]
    assert text["max_length"]["maximum"] == question_rules.TEXT_MAX_LENGTH
    number = _component(openapi, "NumberQuestionRequest")["properties"]
    assert number["max"]["maximum"] == question_rules.MAX_NUMBER
    boxes = _component(openapi, "BoundingBoxQuestionRequest")["properties"]
    assert boxes["labels"]["maxItems"] == question_rules.MAX_LABELS
    # Responses describe the same shapes.
    response = _component(openapi, "Bundle")["properties"]["question"]["$ref"]
    assert response.endswith("/Question")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "question",
    [
        {"type": "single_choice", "choices": [f"{i}{V}"[:100] for i in range(100)]},
        {"type": "multiple_choice", "choices": ["a", {"value": "b", "label": "L" * 200}],
         "min_selected": 0, "max_selected": 2, "prompt": "p" * 2000},
        {"type": "rating", "min": 999_900, "max": 1_000_000},
        {"type": "rating", "min": -1_000_000, "max": -999_900},
        {"type": "text", "max_length": question_rules.TEXT_MAX_LENGTH, "prompt": ""},
        {"type": "number", "min": -1e15, "max": 1e15},
        {"type": "bounding_box", "labels": [f"l{i}" for i in range(50)]},
        {"type": "image_classification", "choices": ["cat", "dog"]},
    ],
    ids=lambda q: q["type"],
)  # fmt: skip
def test_a_question_at_the_schemas_bounds_is_accepted(openapi, question):
    assert _allowed(openapi, question)
    response = _create(question)
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "question",
    [
        {"type": "single_choice", "choices": [f"c{i}" for i in range(101)]},
        {"type": "single_choice", "choices": ["a", "v" * 101]},
        {"type": "single_choice", "choices": ["a", {"value": "b", "label": "L" * 201}]},
        {"type": "rating", "min": 1, "max": 1_000_001},
        {"type": "text", "max_length": question_rules.TEXT_MAX_LENGTH + 1},
        {"type": "number", "max": 1e16},
        {"type": "text", "prompt": "p" * 2001},
        {"type": "bounding_box", "labels": [f"l{i}" for i in range(51)]},
    ],
    ids=lambda q: q["type"],
)
def test_a_question_past_a_bound_is_refused_by_both(openapi, question):
    assert not _allowed(openapi, question)
    response = _create(question)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_question"

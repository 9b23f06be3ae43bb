"""Issue 16, finding 4: every question parameter is bounded (a rating up to 10^9 or 10,000
choices made a task page take seconds and tens of MB)."""

import pytest

from tasks.schema import InvalidQuestion, question_validate

CHOICES = [f"c{i}" for i in range(10_000)]


@pytest.mark.parametrize(
    "question",
    [
        {"type": "rating", "min": 1, "max": 1_000_000_000},
        {"type": "rating", "min": 1, "max": 200_000},
        {"type": "rating", "min": -(10**12), "max": -(10**12) + 5},
        {"type": "single_choice", "choices": CHOICES},
        {"type": "multiple_choice", "choices": CHOICES},
        {"type": "single_choice", "choices": ["a", "x" * 5000]},
        {"type": "single_choice", "choices": [{"value": "a", "label": "y" * 5000}, "b"]},
        {"type": "single_choice", "choices": ["a", "b"], "prompt": "p" * 50_000},
        {"type": "text", "prompt": "p" * 50_000},
        {"type": "number", "min": -1e300, "max": 1e300},
        {"type": "number", "min": float("nan")},
        {"type": "text", "max_length": 10_001},
        {"type": "bounding_box", "labels": [f"l{i}" for i in range(51)]},
        {"type": "bounding_box", "labels": ["car", "x" * 101]},
    ],
    ids=lambda q: f"{q['type']}",
)
def test_an_oversized_parameter_is_refused(question):
    with pytest.raises(InvalidQuestion):
        question_validate(question)


@pytest.mark.parametrize(
    "question",
    [
        {"type": "rating", "min": 1, "max": 10},
        {"type": "rating", "min": 0, "max": 100},
        {"type": "single_choice", "choices": [f"c{i}" for i in range(100)]},
        {"type": "number", "min": -1000, "max": 1e9},
        {"type": "text", "max_length": 10_000, "prompt": "Say why."},
        {"type": "bounding_box", "labels": [f"l{i}" for i in range(50)]},
    ],
    ids=lambda q: f"{q['type']}",
)
def test_reasonable_parameters_still_pass(question):
    assert question_validate(question)["type"] == question["type"]

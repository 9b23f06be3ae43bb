"""The OpenAPI description of a bundle's `question`: one component per question type, chosen by
its `type`, each field carrying the bounds `tasks.schema.question_validate` enforces.

The bounds are read from `tasks.schema`'s constants (never copied here), so the schema a client
or a fuzzer reads and the validation the server runs cannot drift apart. These serializers only
describe: the server still validates with `question_validate`, which also checks what a JSON
schema cannot say (distinct choice values, `min_selected <= max_selected`, a rating's span,
the question's size overall).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from tasks.schema import (
    ANNOTATION_TYPES,
    MAX_CHOICES,
    MAX_LABEL_LENGTH,
    MAX_LABELS,
    MAX_NUMBER,
    MAX_PROMPT_LENGTH,
    MAX_RATING_STEPS,
    MAX_RATING_VALUE,
    MAX_VALUE_LENGTH,
    TEXT_MAX_LENGTH,
)

#: A choice or a label: its value as text, or `{value, label}`.
CHOICE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH},
        {
            "type": "object",
            "properties": {
                "value": {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH},
                "label": {"type": "string", "maxLength": MAX_LABEL_LENGTH},
            },
            "required": ["value"],
        },
    ]
}


@extend_schema_field(CHOICE_SCHEMA)
class ChoiceEntryField(serializers.JSONField):
    """One entry of `choices` or `labels` (described only)."""


def _type_field(name: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=[name])


def _prompt() -> serializers.CharField:
    return serializers.CharField(
        max_length=MAX_PROMPT_LENGTH, required=False, allow_null=True, allow_blank=True
    )


def _choices(*, required: bool = True, limit: int = MAX_CHOICES) -> serializers.ListField:
    return serializers.ListField(
        child=ChoiceEntryField(),
        min_length=2 if required else None,
        max_length=limit,
        required=required,
    )


def _selected() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_CHOICES, required=False)


class SingleChoiceQuestionSerializer(serializers.Serializer):
    type = _type_field("single_choice")
    prompt = _prompt()
    choices = _choices()


class MultipleChoiceQuestionSerializer(serializers.Serializer):
    type = _type_field("multiple_choice")
    prompt = _prompt()
    choices = _choices()
    min_selected = _selected()
    max_selected = _selected()


class TextQuestionSerializer(serializers.Serializer):
    type = _type_field("text")
    prompt = _prompt()
    max_length = serializers.IntegerField(min_value=1, max_value=TEXT_MAX_LENGTH, required=False)


class NumberQuestionSerializer(serializers.Serializer):
    type = _type_field("number")
    prompt = _prompt()
    min = serializers.FloatField(
        min_value=-MAX_NUMBER, max_value=MAX_NUMBER, required=False, allow_null=True
    )
    max = serializers.FloatField(
        min_value=-MAX_NUMBER, max_value=MAX_NUMBER, required=False, allow_null=True
    )


class RatingQuestionSerializer(serializers.Serializer):
    type = _type_field("rating")
    prompt = _prompt()
    min = serializers.IntegerField(
        min_value=-MAX_RATING_VALUE,
        max_value=MAX_RATING_VALUE,
        required=False,
        help_text=f"Below `max`, at most {MAX_RATING_STEPS} steps from it.",
    )
    max = serializers.IntegerField(
        min_value=-MAX_RATING_VALUE,
        max_value=MAX_RATING_VALUE,
        required=False,
        help_text=f"Above `min`, at most {MAX_RATING_STEPS} steps from it.",
    )


def _annotation_serializer(name: str) -> type[serializers.Serializer]:
    """An annotation type's bounded parameters (labels, choices, prompt); its own parameters
    (field names, thresholds) are checked by its module and listed in DESIGN.md."""
    fields: dict[str, Any] = {
        "type": _type_field(name),
        "prompt": _prompt(),
        "labels": _choices(required=False, limit=MAX_LABELS),
        "choices": _choices(required=False),
        "__doc__": f"A `{name}` question (annotation).",
    }
    class_name = "".join(part.title() for part in name.split("_")) + "QuestionSerializer"
    return type(class_name, (serializers.Serializer,), fields)


PLAIN_QUESTION_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "single_choice": SingleChoiceQuestionSerializer,
    "multiple_choice": MultipleChoiceQuestionSerializer,
    "text": TextQuestionSerializer,
    "number": NumberQuestionSerializer,
    "rating": RatingQuestionSerializer,
}
QUESTION_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    **PLAIN_QUESTION_SERIALIZERS,
    **{name: _annotation_serializer(name) for name in ANNOTATION_TYPES},
}

QUESTION_SCHEMA = PolymorphicProxySerializer(
    component_name="Question",
    serializers={name: cls() for name, cls in QUESTION_SERIALIZERS.items()},
    resource_type_field_name="type",
    many=False,
)


@extend_schema_field(QUESTION_SCHEMA)
class QuestionField(serializers.JSONField):
    """A bundle's question: plain JSON on the wire, validated by `tasks.schema` (which also caps
    its serialised size at MAX_QUESTION_CHARS); described in OpenAPI by type."""


__all__ = ["QUESTION_SERIALIZERS", "QuestionField"]

"""The question schema of a bundle, and validation of answers and gold against it.

One module decides what a valid answer is, so the API, the web form, uploads (gold) and the
quality engine can never disagree. Answers are normalised here (multiple choice as a sorted
list of values, numbers as int when integral), so equality of normalised answers is agreement.

The plain types (choices, text, number, rating) are defined here. The annotation types (images,
boxes, polygons, spans, transcription, preference pairs) are modules of `tasks.annotation`,
found by `type` in its registry: this module bounds their parameters, hands them the item's
context (its payload) where an answer needs it, and scores gold by their own measure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from tasks.annotation.base import AnnotationType
from tasks.annotation.errors import InvalidAnswer, InvalidQuestion
from tasks.annotation.registry import TYPES

QUESTION_TYPES = ("single_choice", "multiple_choice", "text", "number", "rating")
#: The annotation question types, in the registry's order.
ANNOTATION_TYPES = tuple(TYPES)
TEXT_MAX_LENGTH = 10_000
#: Bounds of an annotation question's parameters (see `_bounds_check`).
MAX_LABELS = 50
MAX_CHOICES = 100
MAX_VALUE_LENGTH = 100
MAX_LABEL_LENGTH = 200
MAX_PROMPT_LENGTH = 2000
MAX_QUESTION_CHARS = 20_000
# A rating is a row of buttons: at most MAX_RATING_STEPS + 1 of them, its ends within
# +-MAX_RATING_VALUE. A number question's bounds are finite and within +-MAX_NUMBER.
MAX_RATING_STEPS = 100
MAX_RATING_VALUE = 1_000_000
MAX_NUMBER = 1e15

__all__ = [
    "ANNOTATION_TYPES",
    "QUESTION_TYPES",
    "InvalidAnswer",
    "InvalidQuestion",
    "annotation_type",
    "answer_from_text",
    "answer_validate",
    "answers_agree",
    "gold_judge",
    "question_validate",
    "text_normalise",
]


def annotation_type(question: Mapping[str, Any]) -> AnnotationType | None:
    """The module of an annotation question (None for the plain types)."""
    return TYPES.get(question.get("type"))  # type: ignore[arg-type]


def question_validate(raw: Any) -> dict[str, Any]:
    """Return the canonical form of a question schema or raise InvalidQuestion."""
    if not isinstance(raw, dict):
        raise InvalidQuestion("question must be an object with a type.")
    qtype = raw.get("type")
    if qtype in TYPES:
        return _annotation_question(TYPES[qtype], raw)
    if qtype not in QUESTION_TYPES:
        raise InvalidQuestion(
            f"question.type must be one of {', '.join((*QUESTION_TYPES, *ANNOTATION_TYPES))}."
        )
    _bounds_check(raw)
    question: dict[str, Any] = {"type": qtype}
    if raw.get("prompt") is not None:
        if not isinstance(raw["prompt"], str) or len(raw["prompt"]) > MAX_PROMPT_LENGTH:
            raise InvalidQuestion(
                f"question.prompt must be text of at most {MAX_PROMPT_LENGTH} characters."
            )
        question["prompt"] = raw["prompt"]
    if qtype in ("single_choice", "multiple_choice"):
        choices = raw.get("choices")
        if not isinstance(choices, list) or len(choices) < 2:
            raise InvalidQuestion("question.choices must list at least two choices.")
        seen: set[str] = set()
        canonical = []
        for i, choice in enumerate(choices):
            if isinstance(choice, str):
                choice = {"value": choice, "label": choice}
            if not isinstance(choice, dict) or not isinstance(choice.get("value"), str):
                raise InvalidQuestion(f"question.choices[{i}] needs a text value.")
            value = choice["value"]
            if not value or value in seen:
                raise InvalidQuestion(f"question.choices[{i}].value is empty or repeated.")
            seen.add(value)
            label = choice.get("label", value)
            if not isinstance(label, str):
                raise InvalidQuestion(f"question.choices[{i}].label must be text.")
            canonical.append({"value": value, "label": label})
        question["choices"] = canonical
        if qtype == "multiple_choice":
            low = raw.get("min_selected", 1)
            high = raw.get("max_selected", len(canonical))
            if not (_is_int(low) and _is_int(high) and 0 <= low <= high <= len(canonical)):
                raise InvalidQuestion("min_selected / max_selected must fit the choices.")
            question["min_selected"], question["max_selected"] = low, high
    elif qtype == "text":
        max_length = raw.get("max_length", 1000)
        if not _is_int(max_length) or not 1 <= max_length <= TEXT_MAX_LENGTH:
            raise InvalidQuestion(f"question.max_length must be 1..{TEXT_MAX_LENGTH}.")
        question["max_length"] = max_length
    elif qtype == "number":
        low, high = raw.get("min"), raw.get("max")
        for name, bound in (("min", low), ("max", high)):
            if bound is not None and not (
                _is_number(bound) and math.isfinite(bound) and abs(bound) <= MAX_NUMBER
            ):
                raise InvalidQuestion(f"question.{name} must be a number within +-{MAX_NUMBER:g}.")
        if low is not None and high is not None and low > high:
            raise InvalidQuestion("question.min must not exceed question.max.")
        question["min"], question["max"] = low, high
    else:  # rating
        low, high = raw.get("min", 1), raw.get("max", 5)
        if not (_is_int(low) and _is_int(high) and low < high):
            raise InvalidQuestion("rating min and max must be integers with min < max.")
        if high - low > MAX_RATING_STEPS or max(abs(low), abs(high)) > MAX_RATING_VALUE:
            raise InvalidQuestion(
                f"a rating spans at most {MAX_RATING_STEPS} steps, within +-{MAX_RATING_VALUE}."
            )
        question["min"], question["max"] = low, high
    return question


def _annotation_question(kind: AnnotationType, raw: dict[str, Any]) -> dict[str, Any]:
    """An annotation type's canonical question, its parameters bounded before and after the
    type reads them (the type may fill in defaults), the optional prompt kept."""
    _bounds_check(raw)
    question = kind.question(raw)
    if question.get("type") != kind.name:
        raise InvalidQuestion(f"question.type must stay {kind.name}.")
    prompt = raw.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, str) or len(prompt) > MAX_PROMPT_LENGTH:
            raise InvalidQuestion(
                f"question.prompt must be text of at most {MAX_PROMPT_LENGTH} characters."
            )
        question.setdefault("prompt", prompt)
    _bounds_check(question)
    return question


def _bounds_check(question: Mapping[str, Any]) -> None:
    """Annotation questions travel with every task: at most MAX_LABELS labels and MAX_CHOICES
    choices, short values and labels, short field names, a bounded size overall."""
    try:
        size = len(json.dumps(question))
    except (TypeError, ValueError) as exc:
        raise InvalidQuestion("question must be plain JSON.") from exc
    if size > MAX_QUESTION_CHARS:
        raise InvalidQuestion(f"question is too large (over {MAX_QUESTION_CHARS} characters).")
    for key, limit in (("labels", MAX_LABELS), ("choices", MAX_CHOICES)):
        entries = question.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise InvalidQuestion(f"question.{key} must be a list.")
        if len(entries) > limit:
            raise InvalidQuestion(f"question.{key} may list at most {limit} entries.")
        for i, entry in enumerate(entries):
            value = entry.get("value") if isinstance(entry, dict) else entry
            label = entry.get("label", "") if isinstance(entry, dict) else ""
            if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
                raise InvalidQuestion(
                    f"question.{key}[{i}].value is longer than {MAX_VALUE_LENGTH} characters."
                )
            if isinstance(label, str) and len(label) > MAX_LABEL_LENGTH:
                raise InvalidQuestion(
                    f"question.{key}[{i}].label is longer than {MAX_LABEL_LENGTH} characters."
                )
    for key, value in question.items():
        if key.endswith("_field") and isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            raise InvalidQuestion(f"question.{key} is longer than {MAX_VALUE_LENGTH} characters.")


def answer_validate(
    question: dict[str, Any], answer: Any, *, payload: Mapping[str, Any] | None = None
) -> Any:
    """Return the normalised answer or raise InvalidAnswer with a reason a person can act on.

    Annotation types judge the answer against the item's context, made from `payload` (boxes
    need the image's size, spans the text); the plain types never look at it, so their callers
    need not read it."""
    qtype = question["type"]
    kind = TYPES.get(qtype)
    if kind is not None:
        return kind.answer(question, answer, kind.context(question, payload or {}))
    if qtype == "single_choice":
        values = [c["value"] for c in question["choices"]]
        if not isinstance(answer, str) or answer not in values:
            raise InvalidAnswer(f"answer must be one of: {', '.join(values)}.")
        return answer
    if qtype == "multiple_choice":
        values = [c["value"] for c in question["choices"]]
        if isinstance(answer, str):
            answer = [answer]
        if not isinstance(answer, list) or not all(isinstance(a, str) for a in answer):
            raise InvalidAnswer("answer must be a list of choice values.")
        unknown = [a for a in answer if a not in values]
        if unknown:
            raise InvalidAnswer(f"unknown choice value(s): {', '.join(unknown)}.")
        chosen = sorted(set(answer), key=values.index)
        if not question["min_selected"] <= len(chosen) <= question["max_selected"]:
            raise InvalidAnswer(
                f"choose between {question['min_selected']} and {question['max_selected']}."
            )
        return chosen
    if qtype == "text":
        if not isinstance(answer, str) or not answer.strip():
            raise InvalidAnswer("answer must be non-empty text.")
        if len(answer) > question["max_length"]:
            raise InvalidAnswer(f"answer is longer than {question['max_length']} characters.")
        return answer
    if qtype == "number":
        if not _is_number(answer) or not math.isfinite(answer):
            raise InvalidAnswer("answer must be a number.")
        if question.get("min") is not None and answer < question["min"]:
            raise InvalidAnswer(f"answer must be at least {question['min']}.")
        if question.get("max") is not None and answer > question["max"]:
            raise InvalidAnswer(f"answer must be at most {question['max']}.")
        return int(answer) if float(answer).is_integer() else float(answer)
    # rating
    if not _is_int(answer) or not question["min"] <= answer <= question["max"]:
        raise InvalidAnswer(
            f"answer must be an integer from {question['min']} to {question['max']}."
        )
    return answer


def answer_from_text(
    question: dict[str, Any], raw: str, *, payload: Mapping[str, Any] | None = None
) -> Any:
    """Parse an answer written as text (a CSV cell, a form field) and validate it.

    Multiple choice (and image classification with `multiple`): a JSON list or values
    separated by `|`. Numbers and ratings: a numeral. Transcription: the text itself. Other
    annotation types: their answer as JSON (`{"boxes": [...]}`).
    """
    qtype = question["type"]
    text = raw.strip()
    if qtype in TYPES:
        return _annotation_from_text(question, raw, payload)
    if qtype == "multiple_choice":
        if text.startswith("["):
            try:
                parsed: Any = json.loads(text)
            except ValueError as exc:
                raise InvalidAnswer("not a JSON list of choice values.") from exc
        else:
            parsed = [part.strip() for part in text.split("|") if part.strip()]
        return answer_validate(question, parsed)
    if qtype in ("number", "rating"):
        try:
            number: Any = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError as exc:
                raise InvalidAnswer(f"{raw!r} is not a number.") from exc
        return answer_validate(question, number)
    return answer_validate(question, raw if qtype == "text" else text)


def _annotation_from_text(
    question: dict[str, Any], raw: str, payload: Mapping[str, Any] | None
) -> Any:
    text = raw.strip()
    parsed: Any = text
    if question["type"] == "transcription":
        parsed = raw
    elif question["type"] == "image_classification":
        if question.get("multiple"):
            parsed = _json_or(text, lambda: [p.strip() for p in text.split("|") if p.strip()])
    else:
        parsed = _json_or(text, None)
    return answer_validate(question, parsed, payload=payload)


def _json_or(text: str, fallback: Any) -> Any:
    """`text` parsed as JSON when it looks like a list or an object (InvalidAnswer when it is
    not valid JSON); otherwise `fallback()`, or InvalidAnswer when there is none."""
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidAnswer(f"not valid JSON: {exc.msg} at character {exc.pos}.") from exc
    if fallback is None:
        raise InvalidAnswer("the answer must be JSON, e.g. {...} in this question's shape.")
    return fallback()


def gold_judge(question: dict[str, Any], answer: Any, gold: Any) -> tuple[bool, float | None]:
    """Score a normalised answer against gold: (correct, score). Annotation types score by
    their own measure in [0, 1] (F1 of shapes, edit distance, ...) and say whether it passes;
    the plain types are right or wrong (`answers_agree`) and have no score."""
    kind = TYPES.get(question["type"])
    if kind is None:
        return bool(answers_agree(question, answer, gold)), None
    score = float(kind.gold_score(question, answer, gold))
    return bool(kind.gold_passes(question, score)), score


def answers_agree(question: dict[str, Any], a: Any, b: Any) -> bool:
    """Whether two normalised answers count as the same (gold scoring, agreement).

    Multiple choice: the exact set. Text: case-folded with whitespace collapsed. Annotation
    types: the second passes as gold for the first (their own measure and threshold; an
    aggregated label's extra `confidence` fields are ignored by them). Others: equal.
    """
    kind = TYPES.get(question["type"])
    if kind is not None:
        return bool(kind.gold_passes(question, kind.gold_score(question, a, b)))
    if question["type"] == "text":
        return text_normalise(a) == text_normalise(b)
    if question["type"] == "multiple_choice":
        return set(a) == set(b)
    return a == b


def text_normalise(value: Any) -> str:
    return " ".join(str(value).casefold().split())


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

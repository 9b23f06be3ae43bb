"""The question schema of a bundle, and validation of answers and gold against it.

One module decides what a valid answer is, so the API, the web form, uploads (gold) and the
quality engine can never disagree. Answers are normalised here (multiple choice as a sorted
list of values, numbers as int when integral), so equality of normalised answers is agreement.
"""

from __future__ import annotations

import json
import math
from typing import Any

from marketplace.errors import DomainError

QUESTION_TYPES = ("single_choice", "multiple_choice", "text", "number", "rating")
TEXT_MAX_LENGTH = 10_000


class InvalidQuestion(DomainError):
    code = "invalid_question"


class InvalidAnswer(DomainError):
    code = "invalid_answer"


def question_validate(raw: Any) -> dict[str, Any]:
    """Return the canonical form of a question schema or raise InvalidQuestion."""
    if not isinstance(raw, dict):
        raise InvalidQuestion("question must be an object with a type.")
    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES:
        raise InvalidQuestion(f"question.type must be one of {', '.join(QUESTION_TYPES)}.")
    question: dict[str, Any] = {"type": qtype}
    if raw.get("prompt") is not None:
        if not isinstance(raw["prompt"], str):
            raise InvalidQuestion("question.prompt must be text.")
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
            if bound is not None and not _is_number(bound):
                raise InvalidQuestion(f"question.{name} must be a number.")
        if low is not None and high is not None and low > high:
            raise InvalidQuestion("question.min must not exceed question.max.")
        question["min"], question["max"] = low, high
    else:  # rating
        low, high = raw.get("min", 1), raw.get("max", 5)
        if not (_is_int(low) and _is_int(high) and low < high):
            raise InvalidQuestion("rating min and max must be integers with min < max.")
        question["min"], question["max"] = low, high
    return question


def answer_validate(question: dict[str, Any], answer: Any) -> Any:
    """Return the normalised answer or raise InvalidAnswer with a reason a person can act on."""
    qtype = question["type"]
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


def answer_from_text(question: dict[str, Any], raw: str) -> Any:
    """Parse an answer written as text (a CSV cell, a form field) and validate it.

    Multiple choice: a JSON list or values separated by `|`. Numbers and ratings: a numeral.
    """
    qtype = question["type"]
    text = raw.strip()
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


def answers_agree(question: dict[str, Any], a: Any, b: Any) -> bool:
    """Whether two normalised answers count as the same (gold scoring, agreement).

    Multiple choice: the exact set. Text: case-folded with whitespace collapsed. Others: equal.
    """
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

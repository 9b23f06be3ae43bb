"""Question and answer parts of the shape types (boxes, polygons, spans, pairs) on top of
`fields`: label lists, thresholds, the answer's list, numbers, and the skills `aggregate` gets.

Messages name the bad part the way a requester or a client developer looks for it
(`question.labels[2].value`, `boxes[1].w`), since they come back as the API's `detail`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidAnswer, InvalidQuestion
from .fields import MAX_LABEL_LENGTH, MAX_VALUE_LENGTH

#: Largest coordinate (pixels) a shape may reach when the image's size is unknown: it bounds
#: rasterising, so a stray coordinate cannot make the server allocate gigabytes.
MAX_COORDINATE = 20_000
#: Default F1 (or score) at which a gold answer counts as passed.
DEFAULT_GOLD_THRESHOLD = 0.8


def is_number(value: Any) -> bool:
    """A finite JSON number (bools are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def plain_number(value: float) -> int | float:
    """Integral numbers as int, so `10.0` and `10` normalise alike."""
    return int(value) if float(value).is_integer() else float(value)


def labels_parse(raw: Mapping[str, Any]) -> list[dict[str, str]]:
    """Canonical `labels`: [{"value", "label"}], at least one (a detector of cars alone is a
    real bundle), values unique, non-empty and short; a plain string stands for
    {"value": s, "label": s}. Optional `hotkey` (one character) and `color` (short text) are
    kept for the drawing tools."""
    given = raw.get("labels")
    if not isinstance(given, list) or not given:
        raise InvalidQuestion("question.labels must list at least one label.")
    seen: set[str] = set()
    out: list[dict[str, str]] = []
    for i, entry in enumerate(given):
        if isinstance(entry, str):
            entry = {"value": entry, "label": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("value"), str):
            raise InvalidQuestion(f"question.labels[{i}] needs a text value.")
        value = entry["value"]
        if not value.strip() or value in seen or len(value) > MAX_VALUE_LENGTH:
            raise InvalidQuestion(
                f"question.labels[{i}].value is empty, repeated or longer than "
                f"{MAX_VALUE_LENGTH} characters."
            )
        seen.add(value)
        label = entry.get("label", value)
        if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
            raise InvalidQuestion(
                f"question.labels[{i}].label must be text of at most {MAX_LABEL_LENGTH} characters."
            )
        canonical = {"value": value, "label": label}
        for key, limit in (("hotkey", 1), ("color", 32)):
            extra = entry.get(key)
            if extra is None:
                continue
            if not isinstance(extra, str) or not extra or len(extra) > limit:
                raise InvalidQuestion(
                    f"question.labels[{i}].{key} must be text of at most {limit} character(s)."
                )
            canonical[key] = extra
        out.append(canonical)
    return out


def label_values(question: Mapping[str, Any]) -> list[str]:
    return [entry["value"] for entry in question["labels"]]


def fraction(raw: Mapping[str, Any], key: str, default: float) -> float:
    """A number in (0, 1] (an IoU threshold, a gold threshold)."""
    value = raw.get(key, default)
    if not is_number(value) or not 0 < value <= 1:
        raise InvalidQuestion(f"question.{key} must be a number in (0, 1].")
    return float(value)


def bounded_int(raw: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = raw.get(key, default)
    if not is_int(value) or not low <= value <= high:
        raise InvalidQuestion(f"question.{key} must be an integer from {low} to {high}.")
    return int(value)


def answer_list(raw: Any, key: str, limit: int) -> list[Any]:
    """The list under `key` of an answer object (`{"boxes": [...]}`), at most `limit` long."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get(key), list):
        raise InvalidAnswer(f'answer must be an object {{"{key}": [...]}}.')
    items = raw[key]
    if len(items) > limit:
        raise InvalidAnswer(f"{key}: at most {limit} are allowed, got {len(items)}.")
    return items


def entry_object(entry: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(entry, Mapping):
        raise InvalidAnswer(f"{where} must be an object.")
    return entry


def known_label(value: Any, where: str, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidAnswer(f"{where}.label {value!r} is not one of: {', '.join(allowed)}.")
    return value


def skills_check(answers: Sequence[Any], weights: Sequence[float]) -> list[float]:
    """The skills given to `aggregate`, one per answer, clipped into (0, 1] (an estimate of 0
    or a little over 1 is an estimator's edge, not an error); a missing or non-finite skill is a
    caller's bug and raises ValueError."""
    skills = [float(w) for w in weights]
    if len(skills) != len(answers):
        raise ValueError(f"{len(answers)} answers but {len(skills)} weights")
    if not all(math.isfinite(w) for w in skills):
        raise ValueError("weights must be finite worker skills in (0, 1]")
    return [min(max(w, 1e-6), 1.0) for w in skills]

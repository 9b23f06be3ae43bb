"""Parts of annotation questions that several types share: payload field names, choice lists,
flags, and the image size an item's payload gives. Pure: no models, no queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import MEDIA_KEY
from .errors import InvalidQuestion

#: Bounds of a question's parameters (a question is stored on the bundle and sent with every
#: task, so it must stay small).
MAX_CHOICES = 100
MAX_VALUE_LENGTH = 100
MAX_LABEL_LENGTH = 200
MAX_FIELD_LENGTH = 100


def field_name(raw: Mapping[str, Any], key: str, default: str) -> str:
    """The payload field a question reads (`image_field`, `media_field`, ...): a short name,
    never the reserved `_media` key nor any other name starting with `_`."""
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise InvalidQuestion(f"question.{key} must name a payload field.")
    value = value.strip()
    if len(value) > MAX_FIELD_LENGTH or value.startswith("_"):
        raise InvalidQuestion(
            f"question.{key} must be at most {MAX_FIELD_LENGTH} characters and not start "
            "with '_' (reserved)."
        )
    return value


def flag(raw: Mapping[str, Any], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise InvalidQuestion(f"question.{key} must be true or false.")
    return value


def choices_parse(raw: Any, *, key: str = "choices", limit: int = MAX_CHOICES) -> list[dict]:
    """Canonical `[{"value", "label"}, ...]` from a list of objects or plain strings: at least
    two, at most `limit`, values non-empty, unique and short."""
    if not isinstance(raw, list) or len(raw) < 2:
        raise InvalidQuestion(f"question.{key} must list at least two choices.")
    if len(raw) > limit:
        raise InvalidQuestion(f"question.{key} may list at most {limit} choices.")
    seen: set[str] = set()
    canonical = []
    for i, choice in enumerate(raw):
        if isinstance(choice, str):
            choice = {"value": choice, "label": choice}
        if not isinstance(choice, dict) or not isinstance(choice.get("value"), str):
            raise InvalidQuestion(f"question.{key}[{i}] needs a text value.")
        value = choice["value"]
        if not value or value in seen or len(value) > MAX_VALUE_LENGTH:
            raise InvalidQuestion(
                f"question.{key}[{i}].value is empty, repeated or longer than "
                f"{MAX_VALUE_LENGTH} characters."
            )
        seen.add(value)
        label = choice.get("label", value)
        if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
            raise InvalidQuestion(
                f"question.{key}[{i}].label must be text of at most {MAX_LABEL_LENGTH} characters."
            )
        canonical.append({"value": value, "label": label})
    return canonical


def image_size(payload: Mapping[str, Any], field: str) -> tuple[int, int] | None:
    """(width, height) in pixels of the image in `field`: from uploaded media's metadata
    (`payload["_media"][field]`), else from `<field>_width` / `<field>_height` in the payload
    (numbers, or numerals as a CSV upload gives them); None when unknown or not positive."""
    media = payload.get(MEDIA_KEY)
    if isinstance(media, Mapping) and isinstance(media.get(field), Mapping):
        meta = media[field]
        size = _positive_int(meta.get("width")), _positive_int(meta.get("height"))
    else:
        size = (
            _positive_int(payload.get(f"{field}_width")),
            _positive_int(payload.get(f"{field}_height")),
        )
    width, height = size
    return (width, height) if width is not None and height is not None else None


def gold_threshold_passes(question: Mapping[str, Any], score: float) -> bool:
    """The gold rule of the graded types (shapes, spans, transcription): a score at or above
    the question's `gold_threshold`, with a float tolerance so an exact threshold passes."""
    return score >= question["gold_threshold"] - 1e-9


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and value > 0 and float(value).is_integer():
        return int(value)
    return None

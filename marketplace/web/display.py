"""Turning domain values into what a page shows: payloads, question options, estimates (money:
`marketplace.web.money`).

Templates get plain strings and lists from here (autoescaped when rendered), so no template
ever needs `|safe` and nothing a requester uploads is rendered as HTML."""

from __future__ import annotations

import json
import re
from typing import Any

from tasks.annotation.base import MEDIA_KEY
from tasks.media import payload_for_viewer, payload_media

from . import annotation
from .forms import is_image_url
from .markdown import MAX_CHARS, sanitise_html

HTML_SNIPPET = re.compile(r"^\s*<[a-zA-Z][^>]*>")


def payload_fields(payload: Any) -> list[dict[str, Any]]:
    """An item payload as labelled fields: text, an image (http(s) URL to an image file), an
    HTML snippet (a string that starts with a tag; rendered only after nh3 sanitising), or
    structured data shown as JSON text. Nothing else is marked safe."""
    if not isinstance(payload, dict):
        payload = {"value": payload}
    fields = []
    for key, value in payload.items():
        if is_image_url(value):
            fields.append({"key": key, "kind": "image", "value": value.strip()})
        elif isinstance(value, str) and HTML_SNIPPET.match(value):
            fields.append({"key": key, "kind": "html", "value": sanitise_html(value[:MAX_CHARS])})
        elif isinstance(value, dict | list):
            fields.append({"key": key, "kind": "json", "value": json.dumps(value, indent=2)})
        else:
            fields.append({"key": key, "kind": "text", "value": "" if value is None else value})
    return fields


def item_fields(item_id: int, payload: Any) -> list[dict[str, Any]]:
    """An item's payload as a page shows it: `payload_fields` of the viewer's payload, where an
    uploaded file is a signed, access-checked URL (an image, or audio with a player)."""
    media = payload_media(payload)
    fields = payload_fields(payload_for_viewer(item_id=item_id, payload=payload))
    for field in fields:
        entry = media.get(field["key"])
        if entry is not None:
            audio = str(entry.get("content_type", "")).startswith("audio/")
            field["kind"] = "audio" if audio else "image"
    return fields


def task_fields(
    question: dict[str, Any], item_id: int | None, payload: Any
) -> list[dict[str, Any]]:
    """The payload fields shown above a task: for annotation types, without the fields the
    tool itself shows (the image, the text to mark, the pair) and the bookkeeping keys. A
    preview (no item yet) shows the sample payload as it is."""
    fields = payload_fields(payload) if item_id is None else item_fields(item_id, payload)
    if not annotation.is_annotation(question):
        return fields
    hidden = annotation.tool_fields(question)
    return [f for f in fields if f["key"] not in hidden]


def tool_payload(item_id: int, payload: Any) -> Any:
    """The payload an annotation tool is configured from: uploaded media fields as signed,
    access-checked URLs, with each file's size beside its URL (never its storage key)."""
    shown = payload_for_viewer(item_id=item_id, payload=payload)
    media = payload_media(payload)
    if not media or not isinstance(shown, dict):
        return shown
    shown[MEDIA_KEY] = {
        field: {"url": shown[field], "width": entry.get("width"), "height": entry.get("height")}
        for field, entry in media.items()
    }
    return shown


def question_options(question: dict[str, Any]) -> list[dict[str, Any]]:
    """Options of a choice or rating question (image classification included), each with the
    digit key that picks it (1-9)."""
    if question["type"] in ("single_choice", "multiple_choice", "image_classification"):
        pairs = [(c["value"], c["label"]) for c in question["choices"]]
    elif question["type"] == "rating":
        pairs = [(str(v), str(v)) for v in range(question["min"], question["max"] + 1)]
    else:
        return []
    return [
        {"value": value, "label": label, "key": str(n) if n <= 9 else ""}
        for n, (value, label) in enumerate(pairs, start=1)
    ]


def answer_text(question: dict[str, Any], answer: Any) -> str:
    """A stored answer as the labels a person recognises."""
    if answer is None:
        return ""
    if annotation.is_annotation(question):
        return annotation.answer_summary(question, answer)
    labels = {c["value"]: c["label"] for c in question.get("choices", [])}
    if isinstance(answer, list):
        return ", ".join(labels.get(a, str(a)) for a in answer)
    return labels.get(answer, str(answer)) if isinstance(answer, str) else str(answer)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return (
        f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    )

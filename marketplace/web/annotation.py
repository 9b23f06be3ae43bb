"""The annotation question types on web pages: what the worker tools need to draw (task page and
the create form's live preview), and the answer a task form posts, parsed into the DESIGN
shape ("Annotation answers").

Pure functions of a question and a payload, no queries. Validation proper (a box outside the
image, an unknown label) is the type modules' job behind `tasks.schema.answer_validate`; here
we only turn form fields into the answer's shape and say what is missing in words a worker
can act on. Coordinates stay in the image's own pixels: the browser tool converts from
screen pixels, so nothing here depends on how large the image is displayed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tasks.annotation.base import MEDIA_KEY
from tasks.schema import InvalidAnswer

ANNOTATION_TYPES = (
    "image_classification",
    "bounding_box",
    "polygon",
    "text_spans",
    "transcription",
    "pairwise",
)
TYPE_LABELS = {
    "image_classification": "Image classification",
    "bounding_box": "Bounding boxes (object detection)",
    "polygon": "Polygons (segmentation)",
    "text_spans": "Text spans (named entities)",
    "transcription": "Transcription",
    "pairwise": "Pairwise preference",
}
#: Types whose answer is an object of shapes, posted by the tool as JSON in the `answer` field.
SHAPE_KEYS = {"bounding_box": "boxes", "polygon": "polygons", "text_spans": "spans"}
#: One colour per label (in the question's order), distinguishable for colour-blind people
#: (Okabe-Ito, then a few more), the same on the task page, the preview and the review page.
PALETTE = (
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00",
    "#56b4e9", "#8c6d00", "#6a3d9a", "#b2182b", "#01665e",
)  # fmt: skip
AUDIO_EXTENSIONS = (".mp3", ".wav", ".ogg", ".oga", ".m4a", ".aac", ".flac", ".opus", ".weba")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".bmp")
PAIR_CHOICES = ("left", "right", "tie")
MEDIA_TYPES = ("image_classification", "bounding_box", "polygon", "transcription")


def is_annotation(question: Any) -> bool:
    return isinstance(question, dict) and question.get("type") in ANNOTATION_TYPES


def media_field(question: dict[str, Any]) -> str | None:
    """The payload key of the question's image (or audio), if it has one."""
    field = question.get("image_field") or question.get("media_field")
    if field is None and question.get("type") in MEDIA_TYPES:
        field = "image"
    return field if isinstance(field, str) else None


def media_source(payload: Any, field: str | None) -> str | None:
    """Where the browser loads a payload's media from: an http(s) or site-relative URL in the
    field, or the `url` that the media layer put next to an uploaded file's entry in `_media`
    (an access-checked address; the storage key itself is never shown)."""
    if not isinstance(payload, dict) or not field:
        return None
    entry = _media_entry(payload, field)
    if isinstance(entry, dict) and isinstance(entry.get("url"), str):
        return entry["url"]
    value = payload.get(field)
    if not isinstance(value, str):
        return None
    value = value.strip()
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https") or (value.startswith("/") and not value.startswith("//")):
        return value
    return None


def image_size(payload: Any, field: str | None) -> tuple[int, int] | None:
    """(width, height) of the field's image as the payload states it (uploaded media's entry,
    or `<field>_width`/`<field>_height`, numbers or numerals as a CSV gives them); None when
    unknown, and then the tool measures the image it loads."""
    if not isinstance(payload, dict) or not field:
        return None
    entry = _media_entry(payload, field)
    if entry:
        size = _size(entry.get("width"), entry.get("height"))
        if size:
            return size
    return _size(payload.get(f"{field}_width"), payload.get(f"{field}_height"))


def _media_entry(payload: dict[str, Any], field: str) -> dict[str, Any] | None:
    media = payload.get(MEDIA_KEY)
    entry = media.get(field) if isinstance(media, dict) else None
    return entry if isinstance(entry, dict) else None


def _size(width: Any, height: Any) -> tuple[int, int] | None:
    w, h = _positive_int(width), _positive_int(height)
    return (w, h) if w and h else None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value > 0 else None


def is_audio(source: str | None, payload: Any, field: str | None) -> bool:
    if not source:
        return False
    entry = _media_entry(payload, field) if isinstance(payload, dict) and field else None
    if entry and isinstance(entry.get("content_type"), str):
        return entry["content_type"].startswith("audio/")
    return urlsplit(source).path.lower().endswith(AUDIO_EXTENSIONS)


def labels(question: dict[str, Any]) -> list[dict[str, str]]:
    """The question's labels with their hotkey (1-9) and colour."""
    raw = question.get("labels") or []
    out = []
    for n, entry in enumerate(raw):
        if isinstance(entry, str):
            entry = {"value": entry, "label": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            continue
        out.append(
            {
                "value": entry["value"],
                "label": str(entry.get("label") or entry["value"]),
                "key": str(n + 1) if n < 9 else "",
                "color": PALETTE[n % len(PALETTE)],
                "color_class": f"lc{n % len(PALETTE)}",
            }
        )
    return out


def tool_fields(question: dict[str, Any]) -> set[str]:
    """Payload keys the tool shows itself (so the payload list does not repeat them), plus the
    bookkeeping keys a worker has no use for."""
    keys = {MEDIA_KEY}
    for name in ("image_field", "media_field", "text_field", "left_field", "right_field"):
        if isinstance(question.get(name), str):
            keys.add(question[name])
    field = media_field(question)
    if field:
        keys |= {field, f"{field}_width", f"{field}_height"}
    if question.get("type") == "pairwise":
        for side in ("left_field", "right_field"):
            side_field = question.get(side)
            if isinstance(side_field, str):
                keys |= {f"{side_field}_id", f"{side_field}_width", f"{side_field}_height"}
    return keys


def _side(payload: dict[str, Any], field: Any) -> dict[str, Any]:
    """One side of a pair: an image when the value is an image URL, else text."""
    value = payload.get(field) if isinstance(field, str) else None
    source = media_source(payload, field) if isinstance(field, str) else None
    if source and urlsplit(source).path.lower().endswith(IMAGE_EXTENSIONS):
        size = image_size(payload, field)
        return {"kind": "image", "src": source, "size": list(size) if size else None}
    if source and isinstance(field, str) and _media_entry(payload, field):
        return {"kind": "image", "src": source, "size": None}
    return {"kind": "text", "text": "" if value is None else str(value)}


def tool_config(question: dict[str, Any], payload: Any) -> dict[str, Any]:
    """Everything the browser tool of one task needs, as JSON-ready data (the template writes
    it with `json_script`, never as markup)."""
    payload = payload if isinstance(payload, dict) else {"value": payload}
    qtype = question["type"]
    config: dict[str, Any] = {"type": qtype, "labels": labels(question)}
    field = media_field(question)
    if qtype in MEDIA_TYPES:
        source = media_source(payload, field)
        size = image_size(payload, field)
        config["media"] = {
            "field": field,
            "src": source,
            "kind": "audio" if is_audio(source, payload, field) else "image",
            "width": size[0] if size else None,
            "height": size[1] if size else None,
        }
    if qtype == "bounding_box":
        config["min_size"] = _positive_int(question.get("min_size")) or 1
        config["allow_empty"] = bool(question.get("allow_empty", False))
    elif qtype == "text_spans":
        text = payload.get(question.get("text_field") or "text")
        config["text"] = "" if text is None else str(text)
        config["allow_overlap"] = bool(question.get("allow_overlap", False))
    elif qtype == "pairwise":
        config["sides"] = [
            {
                "side": "left",
                "key": "1",
                "arrow": "←",
                **_side(payload, question.get("left_field")),
            },
            {
                "side": "right",
                "key": "2",
                "arrow": "→",
                **_side(payload, question.get("right_field")),
            },
        ]
        config["allow_tie"] = bool(question.get("allow_tie", True))
        config["reason"] = reason_mode(question)
    return config


def reason_mode(question: dict[str, Any]) -> str | None:
    """Whether a pairwise question asks for a reason: "optional", "required" or None."""
    reason = question.get("reason")
    if reason is True:
        return "optional"
    return reason if reason in ("optional", "required") else None


def answer_from_post(question: dict[str, Any], post: Any) -> Any:
    """The answer an annotation task form posted, in the DESIGN shape (validated afterwards by
    the type module in the service). Raises InvalidAnswer naming what is missing."""
    qtype = question["type"]
    if qtype in SHAPE_KEYS:
        raw = post.get("answer", "")
        if not raw.strip():
            raise InvalidAnswer(_NOTHING_DRAWN[qtype])
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise InvalidAnswer("The answer could not be read; reload the task.") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get(SHAPE_KEYS[qtype]), list):
            raise InvalidAnswer("The answer could not be read; reload the task.")
        return answer
    if qtype == "image_classification":
        if question.get("multiple"):
            chosen = [v for v in post.getlist("answer") if v]
            if not chosen:
                raise InvalidAnswer("Pick at least one option.")
            return chosen
        value = post.get("answer", "")
        if not value:
            raise InvalidAnswer("Pick an option.")
        return value
    if qtype == "transcription":
        text = post.get("answer", "")
        if not text.strip():
            raise InvalidAnswer("Type what you hear or see.")
        return text
    # pairwise
    choice = post.get("choice", "")
    allowed = PAIR_CHOICES if question.get("allow_tie", True) else PAIR_CHOICES[:2]
    if choice not in allowed:
        raise InvalidAnswer("Pick the better one" + (", or a tie." if "tie" in allowed else "."))
    pair: dict[str, Any] = {"choice": choice}
    mode = reason_mode(question)
    reason = post.get("reason", "").strip()
    if mode == "required" and not reason:
        raise InvalidAnswer("Say briefly why.")
    if mode and reason:
        pair["reason"] = reason
    return pair


def posted_shapes(question: dict[str, Any], post: Any) -> Any:
    """The shapes a refused form posted (to draw them again), or None when there are none."""
    if question.get("type") not in SHAPE_KEYS:
        return None
    try:
        return answer_from_post(question, post)
    except InvalidAnswer:
        return None


_NOTHING_DRAWN = {
    "bounding_box": "Draw at least one box (or tick “Nothing to mark” when it is allowed).",
    "polygon": "Draw at least one polygon.",
    "text_spans": "Mark at least one span.",
}


def shapes(question: dict[str, Any], answer: Any) -> list[dict[str, Any]]:
    """The shapes of a box, polygon or span answer (or aggregated label), [] when none."""
    key = SHAPE_KEYS.get(question.get("type", ""))
    if key is None or not isinstance(answer, dict) or not isinstance(answer.get(key), list):
        return []
    return [s for s in answer[key] if isinstance(s, dict)]


def shape_labels(question: dict[str, Any], answer: Any) -> list[str]:
    """The label of each shape (what a label chart counts for shape types)."""
    names = {entry["value"]: entry["label"] for entry in labels(question)}
    return [names.get(str(s.get("label")), str(s.get("label"))) for s in shapes(question, answer)]


def answer_summary(question: dict[str, Any], answer: Any) -> str:
    """An annotation answer in a few words: "2 boxes: Car, Person", "Left", the text."""
    qtype = question.get("type")
    if qtype in SHAPE_KEYS:
        found = shape_labels(question, answer)
        noun = {"bounding_box": "box", "polygon": "polygon", "text_spans": "span"}[qtype]
        if not found:
            return f"no {noun}es" if noun == "box" else f"no {noun}s"
        plural = noun + ("es" if noun == "box" else "s") if len(found) != 1 else noun
        return f"{len(found)} {plural}: {', '.join(found)}"
    if qtype == "pairwise" and isinstance(answer, dict):
        choice = str(answer.get("choice", "")).capitalize()
        return f"{choice} — {answer['reason']}" if answer.get("reason") else choice
    if qtype == "image_classification":
        names = {c["value"]: c["label"] for c in question.get("choices", []) if isinstance(c, dict)}
        values = answer if isinstance(answer, list) else [answer]
        return ", ".join(names.get(v, str(v)) for v in values)
    return "" if answer is None else str(answer)

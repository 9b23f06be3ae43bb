"""What every export shares: result rows as a requester may see them, the question's labels,
the shapes of a label, and where an item's image is.

Rows come from `tasks.selectors.bundle_result_rows` (label in the DESIGN's answer shape, each
shape with its `confidence`; gold items carry their gold with method "gold"). No export ever
writes a storage key: media fields become signed URLs (`tasks.media`), and formats that name
files use the name the manifest gave (or the URL's last part) and a stem made from the item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from tasks.annotation.base import MEDIA_KEY
from tasks.media import image_size, is_http_url, media_summary, payload_for_viewer, payload_media
from tasks.models import Bundle
from tasks.selectors import bundle_result_rows

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def plain_number(value: float) -> float | int:
    """A coordinate rounded to hundredths, written as an integer when it is one."""
    rounded = round(value, 2)
    return int(rounded) if rounded == int(rounded) else rounded


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def result_rows(bundle: Bundle) -> Iterator[dict[str, Any]]:
    return bundle_result_rows(bundle)


def public_row(row: Mapping[str, Any], *, base_url: str = "") -> dict[str, Any]:
    """A result row as the requester downloads it: uploaded media as signed URLs, `_media`
    removed, and (when the item has uploaded media) `media` with each file's name in the zip,
    URL, size and type."""
    shown = dict(row)
    payload = row.get("payload")
    shown["payload"] = payload_for_viewer(item_id=row["item_id"], payload=payload,
                                          base_url=base_url)  # fmt: skip
    if payload_media(payload):
        shown["media"] = media_summary(item_id=row["item_id"], payload=payload, base_url=base_url)
    return shown


def label_values(question: Mapping[str, Any]) -> list[str]:
    """The question's label values in order (`labels`, or `choices` for choice questions)."""
    found = question.get("labels") or question.get("choices") or []
    return [str(v["value"]) if isinstance(v, dict) else str(v) for v in found]


def label_names(question: Mapping[str, Any]) -> dict[str, str]:
    found = question.get("labels") or question.get("choices") or []
    names = {}
    for v in found:
        if isinstance(v, dict):
            names[str(v["value"])] = str(v.get("label", v["value"]))
        else:
            names[str(v)] = str(v)
    return names


def shapes(label: Any, key: str) -> list[dict[str, Any]] | None:
    """The shapes under `key` ("boxes", "polygons", "spans") of a label; None when the label is
    not of that shape (no result yet, another type)."""
    if not isinstance(label, dict) or not isinstance(label.get(key), list):
        return None
    return [s for s in label[key] if isinstance(s, dict)]


def shape_key(question: Mapping[str, Any]) -> str | None:
    return {"bounding_box": "boxes", "polygon": "polygons", "text_spans": "spans"}.get(
        str(question.get("type"))
    )


def judgments_of(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(j) for j in row.get("judgments") or []]


@dataclass(frozen=True)
class ImageRef:
    """Where an item's image is, for formats that name image files."""

    field: str
    name: str  # the file name as the requester knows it (zip name, or the URL's last part)
    url: str | None  # a signed URL for uploaded media, the requester's URL otherwise
    size: tuple[int, int] | None
    stem: str  # a unique, file-system-safe name for this item's files in an export zip
    extension: str
    storage_key: str | None  # for reading the file into an export zip; never written out

    @property
    def file_name(self) -> str:
        return self.stem + self.extension


def image_ref(
    row: Mapping[str, Any], question: Mapping[str, Any], *, base_url: str = ""
) -> ImageRef:
    field = str(question.get("image_field") or question.get("media_field") or "image")
    found = row.get("payload")
    payload: dict[str, Any] = found if isinstance(found, dict) else {}
    value = payload.get(field)
    entry = payload_media(payload).get(field)
    url: str | None = None
    storage_key = None
    if entry is not None:
        shown = payload_for_viewer(item_id=row["item_id"], payload=payload, base_url=base_url)
        url, storage_key = shown[field], entry.get("key")
        name = str(value) if isinstance(value, str) and value else f"{row['item_id']}"
        extension = _extension(str(entry.get("key", ""))) or _extension(name)
    elif is_http_url(value):
        url = str(value).strip()
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or f"{row['item_id']}"
        extension = _extension(name) or ".jpg"
    else:
        name, extension = f"{row['item_id']}", ""
    external = _UNSAFE.sub("_", str(row.get("external_id") or "")).strip("._")[:80]
    stem = f"{row['item_id']}-{external}" if external else str(row["item_id"])
    return ImageRef(field, name, url, image_size(payload, field), stem, extension, storage_key)


def _extension(name: str) -> str:
    tail = name.rsplit("/", 1)[-1]
    if "." not in tail:
        return ""
    ext = "." + tail.rsplit(".", 1)[-1].lower()
    return ext if re.fullmatch(r"\.[a-z0-9]{1,5}", ext) else ""


def payload_text(row: Mapping[str, Any], field: str) -> str | None:
    payload = row.get("payload")
    value = payload.get(field) if isinstance(payload, dict) else None
    return value if isinstance(value, str) else None


def visible_payload_keys(keys: list[str]) -> list[str]:
    return [k for k in keys if k != MEDIA_KEY]

"""Signed media URLs and the payload a person or client sees.

A URL names an item and a payload field, signed with the project's SECRET_KEY and timestamped
(`django.core.signing`), so it cannot be forged or enumerated and stops working after
`MEDIA_URL_MAX_AGE_SECONDS`. It carries no storage key. Who may fetch it is decided on each
request by `tasks.media.access`, not by holding the URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.core import signing
from django.urls import reverse

from tasks.annotation.base import MEDIA_KEY

SALT = "tasks.media.v1"
#: Question keys that name a payload field holding media: an image, audio, or (pairwise) a
#: candidate that may be an image. Required ones must be a file or an http(s) URL.
REQUIRED_MEDIA_KEYS = ("image_field", "media_field")
OPTIONAL_MEDIA_KEYS = ("left_field", "right_field")
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.I)


def is_http_url(value: Any) -> bool:
    return isinstance(value, str) and bool(_HTTP_URL.match(value.strip()))


def media_fields(question: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(required, optional) media fields a question names. Required fields (an image to draw
    on, audio to transcribe) must hold a file or an http(s) URL; optional ones (pairwise
    candidates) are media when they name a file, and text otherwise."""
    required = tuple(
        dict.fromkeys(v for k in REQUIRED_MEDIA_KEYS if isinstance(v := question.get(k), str))
    )
    optional = tuple(
        v
        for k in OPTIONAL_MEDIA_KEYS
        if isinstance(v := question.get(k), str) and v not in required
    )
    return required, optional


def media_token(item_id: int, field: str) -> str:
    return signing.dumps([item_id, field], salt=SALT, compress=True)


def media_token_read(token: str, *, max_age: int) -> tuple[int, str] | None:
    """The (item id, field) a token names, or None when it is forged, damaged or expired."""
    try:
        value = signing.loads(token, salt=SALT, max_age=max_age)
    except (signing.BadSignature, ValueError):
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or type(value[0]) is not int
        or not isinstance(value[1], str)
    ):
        return None
    return value[0], value[1]


def media_url(item_id: int, field: str, *, base_url: str = "") -> str:
    """The signed URL of one media field of one item (absolute when `base_url` is given)."""
    path = reverse("media-file", args=[media_token(item_id, field)])
    return base_url.rstrip("/") + path if base_url else path


def payload_media(payload: Any) -> dict[str, dict[str, Any]]:
    """The `_media` entries of a payload ({} when it has none)."""
    media = payload.get(MEDIA_KEY) if isinstance(payload, dict) else None
    if not isinstance(media, dict):
        return {}
    return {f: e for f, e in media.items() if isinstance(f, str) and isinstance(e, dict)}


def payload_for_viewer(*, item_id: int, payload: Any, base_url: str = "") -> Any:
    """The payload as pages, API clients and exports show it: every uploaded media field
    replaced by its signed URL, `_media` removed. URL images and text stay as they are."""
    if not isinstance(payload, dict):
        return payload
    media = payload_media(payload)
    shown = {k: v for k, v in payload.items() if k != MEDIA_KEY}
    for field in media:
        shown[field] = media_url(item_id, field, base_url=base_url)
    return shown


def media_summary(*, item_id: int, payload: Any, base_url: str = "") -> dict[str, Any]:
    """Per uploaded media field, what a requester may know: the file's name in the zip, its
    signed URL, size and type. Never the storage key."""
    summary = {}
    original = payload if isinstance(payload, dict) else {}
    for field, entry in payload_media(payload).items():
        info = {
            "file": original.get(field),
            "url": media_url(item_id, field, base_url=base_url),
            "content_type": entry.get("content_type"),
        }
        if entry.get("width") is not None:
            info["width"], info["height"] = entry.get("width"), entry.get("height")
        summary[field] = info
    return summary


def image_size(payload: Any, field: str) -> tuple[int, int] | None:
    """An image field's (width, height): from `_media` for an uploaded file, else from the
    payload's `<field>_width`/`<field>_height` numbers; None when unknown."""
    entry = payload_media(payload).get(field)
    source: Any = entry if entry is not None else payload
    if not isinstance(source, dict):
        return None
    if entry is not None:
        width, height = _positive_int(source.get("width")), _positive_int(source.get("height"))
    else:
        width = _positive_int(source.get(f"{field}_width"))
        height = _positive_int(source.get(f"{field}_height"))
    return (width, height) if width and height else None


def _positive_int(value: Any) -> int | None:
    """A pixel count from JSON or a CSV cell ("640", 640, 640.0); None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and number > 0 else None

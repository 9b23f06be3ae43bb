"""Media in item payloads: images (and audio for transcription) uploaded with the items, stored
through Django's storage API and served only through an access-checked view.

Why it is built this way:

- A payload names an image either by an http(s) URL (shown as is; the requester hosts it) or,
  in a zip upload, by a file in the zip. An uploaded file is stored under an unguessable key
  and described in the reserved payload key `_media` (`tasks.annotation.base.MEDIA_KEY`):
  `{field: {"key", "width", "height", "content_type"}}` (audio has no width or height). The
  field itself keeps the file's name in the zip, so the requester can join results back.
- Nobody ever sees a storage key. Pages and API responses get the payload with each media
  field replaced by a signed URL (`django.core.signing`, with an expiry) and `_media` removed;
  the view behind that URL checks on every request that the caller may see that item's media:
  a worker holding a live claim on it, the bundle's requester, or staff. Everyone else gets
  404, whether the token is forged, expired, or valid but not theirs.
- Types are read from the bytes (Pillow for images, magic numbers for audio), never from a
  file name or a client's content type, and sizes and pixel counts are bounded by settings.

Modules: `files` (what a file is), `store` (storage keys), `links` (signed URLs and the
payload a viewer sees), `access` (who may fetch what).
"""

from __future__ import annotations

from .access import MediaFile, media_for_viewer
from .files import MediaInfo, MediaRefused, media_inspect
from .links import (
    image_size,
    is_http_url,
    media_fields,
    media_summary,
    media_token,
    media_url,
    payload_for_viewer,
    payload_media,
)
from .store import media_delete, media_open, media_save

__all__ = [
    "MediaFile",
    "MediaInfo",
    "MediaRefused",
    "image_size",
    "is_http_url",
    "media_delete",
    "media_fields",
    "media_for_viewer",
    "media_inspect",
    "media_open",
    "media_save",
    "media_summary",
    "media_token",
    "media_url",
    "payload_for_viewer",
    "payload_media",
]

"""Where media files live: Django's `default` storage (local files under MEDIA_ROOT, or an
S3-compatible bucket when MEDIA_STORAGE=s3; see `marketplace.settings.media_storage`).

Keys are `media/b<bundle id>/<32 random hex digits><extension>`: unguessable, never derived
from the uploaded name, and scoped to the bundle, so the access view can refuse a key that a
payload names outside its own bundle."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import IO

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

logger = logging.getLogger(__name__)


def media_storage() -> Storage:
    return storages["default"]


def bundle_prefix(bundle_id: int) -> str:
    return f"media/b{bundle_id}/"


def key_in_bundle(key: object, bundle_id: int) -> bool:
    """Whether a stored key belongs to this bundle (and is a plain relative key)."""
    return (
        isinstance(key, str)
        and key.startswith(bundle_prefix(bundle_id))
        and ".." not in key
        and "\\" not in key
    )


def media_save(*, bundle_id: int, data: bytes, extension: str) -> str:
    """Store one file and return its key (what the storage actually used)."""
    key = f"{bundle_prefix(bundle_id)}{secrets.token_hex(16)}{extension}"
    return media_storage().save(key, ContentFile(data))


def media_open(key: str) -> IO[bytes]:
    return media_storage().open(key, "rb")


def media_delete(keys: Iterable[str]) -> int:
    """Delete stored files (an upload that failed); a file that is already gone is fine, and
    one that cannot be deleted is logged rather than hiding the error that led here."""
    storage = media_storage()
    deleted = 0
    for key in keys:
        try:
            storage.delete(key)
        except Exception:  # the original error matters more than a cleanup failure
            logger.exception("could not delete media file %s", key)
        else:
            deleted += 1
    return deleted

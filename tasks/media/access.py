"""Who may fetch an item's uploaded media, decided on every request.

Allowed: staff; the requester who owns the item's bundle; a worker holding a live claim on that
very item (status claimed, deadline not passed). Everyone else, anonymous included, gets the
same answer as for a token that never existed (None, so the view says 404): a valid link
reveals nothing to someone it was not meant for, and ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from tasks.models import Assignment, AssignmentStatus, Item

from .links import media_token_read, payload_media
from .store import key_in_bundle


@dataclass(frozen=True)
class MediaFile:
    key: str
    content_type: str


def media_for_viewer(*, user: Any, token: str) -> MediaFile | None:
    """The stored file a signed token names, when `user` may see it; None otherwise."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    named = media_token_read(token, max_age=settings.MEDIA_URL_MAX_AGE_SECONDS)
    if named is None:
        return None
    item_id, field = named
    row = (
        Item.objects.filter(pk=item_id)
        .values("bundle_id", "bundle__requester_id", "payload")
        .first()
    )
    if row is None:
        return None
    entry = payload_media(row["payload"]).get(field)
    if entry is None or not key_in_bundle(entry.get("key"), row["bundle_id"]):
        return None
    if not (user.is_staff or user.pk == row["bundle__requester_id"]):
        live_claim = Assignment.objects.filter(
            item_id=item_id,
            worker_id=user.pk,
            status=AssignmentStatus.CLAIMED,
            deadline__gt=timezone.now(),
        ).exists()
        if not live_claim:
            return None
    content_type = entry.get("content_type")
    return MediaFile(
        key=entry["key"],
        content_type=content_type
        if isinstance(content_type, str) and "/" in content_type
        else "application/octet-stream",
    )

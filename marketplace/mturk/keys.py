"""Requester access keys for the MTurk-compatible API: made, looked up and revoked here.

SigV4 signs with the secret itself (an HMAC key), so the server must be able to recompute the
signature: the secret is kept encrypted with Fernet under a key derived from SECRET_KEY (a
database dump alone gives no usable secret), shown once when made and never again.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import DomainError, NotFound

from .models import AccessKey

_ID_ALPHABET = string.ascii_uppercase + "234567"
MAX_ACTIVE_KEYS = 10


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"crowdmarket mturk access keys\0" + settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str | None:
    """The plain secret, or None when it cannot be decrypted (SECRET_KEY changed)."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


@transaction.atomic
def access_key_create(*, requester: User, label: str = "") -> tuple[AccessKey, str]:
    """A new key pair for a requester: (the row, the plain secret, to show exactly once).
    AWS's shapes: a 20-character id, a 40-character secret."""
    if not requester.is_requester:
        raise DomainError("Only requesters have API keys.", code="not_a_requester")
    User.objects.select_for_update().filter(pk=requester.pk).first()  # one count at a time
    active = AccessKey.objects.filter(requester=requester, revoked_at__isnull=True).count()
    if active >= MAX_ACTIVE_KEYS:
        raise DomainError(
            f"At most {MAX_ACTIVE_KEYS} active keys; revoke one first.", code="too_many_keys"
        )
    key_id = "AKCM" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    key = AccessKey.objects.create(
        requester=requester,
        access_key_id=key_id,
        secret_encrypted=secret_encrypt(secret),
        label=label.strip()[:100],
    )
    return key, secret


def access_key_revoke(*, requester: User | None, access_key_id: str) -> AccessKey:
    """Revoke a key now (idempotent). `requester` scopes it to its owner; None is an admin."""
    keys = AccessKey.objects.filter(access_key_id=access_key_id)
    if requester is not None:
        keys = keys.filter(requester=requester)
    key = keys.first()
    if key is None:
        raise NotFound("No such access key.", code="access_key_not_found")
    AccessKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key


def access_key_active(access_key_id: str) -> AccessKey | None:
    """The active key with this id (with its requester), or None."""
    return (
        AccessKey.objects.select_related("requester")
        .filter(access_key_id=access_key_id, revoked_at__isnull=True)
        .first()
    )


def access_key_touch(key: AccessKey) -> None:
    """Remember when a key was last used (at most once a minute, to keep requests cheap)."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        AccessKey.objects.filter(pk=key.pk).update(last_used_at=now)

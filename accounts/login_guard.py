"""Brute-force guard for the API token login: a per-account failure count and a temporary lock.

The address throttle alone can be spread over many addresses; counting failures per account
closes that. The count lives in the cache (shared between processes when CACHES names Redis,
as production should), so it is best-effort across a cache flush, never a permanent ban: the
lock expires by itself and the owner is told once per lock by email.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail

from accounts.models import User


def _failures_key(email: str) -> str:
    return f"login-failures:{email.lower()}"


def _lock_key(email: str) -> str:
    return f"login-locked:{email.lower()}"


def login_is_locked(*, email: str) -> bool:
    return bool(cache.get(_lock_key(email)))


def login_failure_record(*, email: str) -> bool:
    """Count one failed password for `email`; lock the account when the count reaches
    LOGIN_LOCK_AFTER_FAILURES within the window. Returns whether it is now locked."""
    window = settings.LOGIN_LOCK_SECONDS
    key = _failures_key(email)
    cache.add(key, 0, timeout=window)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        failures = 1
    if failures < settings.LOGIN_LOCK_AFTER_FAILURES:
        return False
    if cache.add(_lock_key(email), 1, timeout=window):
        _notify_owner(email=email)
    return True


def login_success_record(*, email: str) -> None:
    cache.delete(_failures_key(email))


def _notify_owner(*, email: str) -> None:
    """Only a real account gets mail: the lock itself is applied to any address so that the
    response does not reveal which addresses have accounts."""
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return
    minutes = max(1, settings.LOGIN_LOCK_SECONDS // 60)
    send_mail(
        subject="crowdmarket: your account is locked after repeated failed sign-ins",
        message=(
            f"There were {settings.LOGIN_LOCK_AFTER_FAILURES} failed sign-ins to your account "
            f"through the API. Token sign-in is locked for {minutes} minutes. If this was not "
            "you, consider changing your password."
        ),
        from_email=None,
        recipient_list=[user.email],
        fail_silently=True,
    )

"""Email notifications: one entry point, `notify`, for every message the platform sends a user
about their work (a message received, claims about to expire, a payout sent). Allauth sends its
own (verification, password reset) through the same Django email backend.

Mail leaves only after the caller's transaction commits, so a rolled-back state change never
announces itself; a failing mail server is logged and never undoes the change it reports."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from .models import User

logger = logging.getLogger(__name__)


def notify(user: User, subject: str, template: str, context: dict[str, Any]) -> None:
    """Email `user` the text template `notifications/<template>.txt` rendered with `context`
    (plus `site_url`), once the current transaction commits."""
    if not user.email or not user.is_active:
        return
    body = render_to_string(
        f"notifications/{template}.txt", {**context, "site_url": site_url(), "user": user}
    )
    recipient = user.email

    def send() -> None:
        try:
            send_mail(f"[crowdmarket] {subject}", body, None, [recipient])
        except Exception:
            logger.exception("notification %r to user %s failed", template, user.pk)

    transaction.on_commit(send)


def site_url() -> str:
    """The absolute base of links in mail (`SITE_URL`), without a trailing slash."""
    return str(getattr(settings, "SITE_URL", "http://127.0.0.1:8000")).rstrip("/")

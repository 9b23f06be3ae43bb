"""The unread-messages count in the navigation (one query per page, signed-in users only)."""

from __future__ import annotations

from django import template

from tasks import messaging

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_messages(context: template.Context) -> int:
    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return messaging.unread_count(user)

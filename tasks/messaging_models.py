"""Messaging (issue 15): one thread per (bundle, worker) between the requester and that
worker, its messages, and the claim-expiry reminders sent by email.

Registered through `tasks.models` (which imports this module); the foreign keys name models
by string, so this module imports nothing of tasks. Writes go through `tasks.messaging`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MessageThread(models.Model):
    """The one conversation between a bundle's requester and one worker (questions about the
    instructions, later appeals). Each side reads it under its own name for the other: the
    requester sees the worker's pseudonym, the worker sees the requester's public name; neither
    ever sees an email address. Unread counters change by `F()` in the posting transaction."""

    bundle = models.ForeignKey("tasks.Bundle", on_delete=models.CASCADE, related_name="threads")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="message_threads"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    requester_unread = models.PositiveIntegerField(default=0)
    worker_unread = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bundle", "worker"], name="message_thread_unique")
        ]
        indexes = [models.Index(fields=["worker", "-last_message_at"])]

    def __str__(self) -> str:
        return f"thread of bundle {self.bundle_id} with worker {self.worker_id}"


class Message(models.Model):
    """One message; `body` is plain text already cleaned (no markup, contact details hidden)."""

    thread = models.ForeignKey(MessageThread, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    from_requester = models.BooleanField()
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"message {self.pk} in thread {self.thread_id}"


class ClaimReminder(models.Model):
    """A long claim whose worker was told by email that it is about to expire: one row per
    claim, so the once-a-minute sweep tells them once."""

    assignment = models.OneToOneField(
        "tasks.Assignment", on_delete=models.CASCADE, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"expiry reminder for assignment {self.assignment_id}"

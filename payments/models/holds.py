"""Admins' holds on a worker's money (a clawback after fraud) and the audit row of each action.

While a worker's hold is active they are paid out nothing (a new request is refused, the weekly
run skips them, a transfer not yet sent goes back to their balance) and a transfer reversal is
credited to their `worker_held` account instead of `worker_available`. The admin's actions
move money between those accounts (services in `payments.payouts.holds`); every action writes a
WorkerHoldEvent: who, why, how much, and the ledger entry that moved it.

Imports nothing from `payments.models` (the package imports this module).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from ._append_only import AppendOnlyModel


class HoldAction(models.TextChoices):
    HOLD = "hold", "Hold (available -> held; payouts stop)"
    RELEASE = "release", "Release (held -> available; payouts resume)"
    WRITE_OFF = "write_off", "Write off (held -> platform clawbacks)"
    REVERSAL_HELD = "reversal_held", "Transfer reversal credited to held"


class WorkerHold(models.Model):
    """One row per worker ever held; `active` says whether the hold is on now. Changed only by
    the hold services, under the lock of the worker's available account."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="money_hold"
    )
    active = models.BooleanField(default=True, db_index=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"hold on {self.worker} ({'active' if self.active else 'lifted'})"


class WorkerHoldEvent(AppendOnlyModel):
    """The audit row of one hold action (append-only). One row per currency moved; an action
    that moved nothing still writes one row (amount 0, no entry)."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="money_hold_events"
    )
    action = models.CharField(max_length=16, choices=HoldAction.choices)
    reason = models.TextField(blank=True)
    amount_minor = models.BigIntegerField(default=0)
    currency = models.CharField(max_length=3, blank=True)
    entry = models.ForeignKey(
        "payments.JournalEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.amount_minor} {self.currency} ({self.worker_id})"

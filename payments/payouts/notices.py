"""Telling a worker their payout was sent (by Stripe transfer or in a manual bank batch)."""

from __future__ import annotations

from accounts.notifications import notify
from payments.ledger import money_text
from payments.models import Payout


def payout_notify_sent(payout_id: int) -> None:
    """Email the worker that a payout left (once its transaction commits)."""
    payout = Payout.objects.select_related("worker").get(pk=payout_id)
    notify(
        payout.worker,
        f"Payout sent: {money_text(payout.amount_minor, payout.currency)}",
        "payout_sent",
        {"amount": money_text(payout.amount_minor, payout.currency), "payout": payout},
    )

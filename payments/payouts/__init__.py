"""Paying workers out: reserve, commit, transfer, record; or a manual bank-transfer batch.

The order is what keeps money safe whatever crashes:

1. `payout_request` writes the Payout and the reserve entry (worker available -> in flight) in
   one transaction and enqueues the transfer with `transaction.on_commit`.
2. `payout_execute` claims the payout (conditional UPDATE, committed), then calls Stripe with
   `payout-<id>-transfer` outside any transaction.
3. The result is recorded in a new transaction: success posts in flight -> Stripe clearing;
   a permanent refusal posts in flight -> worker available (returned); a transient error
   schedules another attempt with backoff.

A crash after (1) leaves a pending payout whose `next_attempt_at` has passed; a crash after
Stripe answered leaves a `processing` payout whose claim goes stale. `payouts_retry_due` (beat)
picks both up and calls Stripe again with the same key: Stripe replays the first transfer, so
nothing is paid twice and nothing is lost. Outcome-unknown errors are never undone, only
retried.

Modules, by job: `request` (1), `transfers` (2, 3, retries, reversals), `manual` (batches
where Stripe is not configured), `onboarding` (workers' Connect accounts). This package is the
public entry: import from `payments.payouts`.
"""

from __future__ import annotations

from .manual import manual_batch_export, manual_batch_mark_paid
from .onboarding import connected_account_sync, connected_payout_failed, payout_account_onboard
from .request import ENQUEUE_GRACE, payout_minimum, payout_request, payouts_weekly
from .transfers import (
    MAX_BACKOFF_SECONDS,
    STALE_CLAIM,
    payout_execute,
    payout_record_paid,
    payout_return,
    payouts_retry_due,
    retry_delay_seconds,
    transfer_reversed,
)

__all__ = [
    "ENQUEUE_GRACE",
    "MAX_BACKOFF_SECONDS",
    "STALE_CLAIM",
    "connected_account_sync",
    "connected_payout_failed",
    "manual_batch_export",
    "manual_batch_mark_paid",
    "payout_account_onboard",
    "payout_execute",
    "payout_minimum",
    "payout_record_paid",
    "payout_request",
    "payout_return",
    "payouts_retry_due",
    "payouts_weekly",
    "retry_delay_seconds",
    "transfer_reversed",
]

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
nothing is paid twice and nothing is lost. Stripe forgets a key after about a day, so a retry
of a transfer first sent over an hour ago looks it up by `transfer_group` first. Outcome-unknown
errors are never undone, only retried, until the payout's retry window ends: then it waits in
`needs_attention` (logged at ERROR) for an admin's `payout_resolve`.

Modules, by job: `request` (1), `transfers` (2, 3, retries, reversals), `outcomes` (recording
each end of an attempt), `recovery` (looking a transfer up; the admin's resolve), `pauses` (why
a worker cannot be paid now), `holds` (an admin's hold on a worker's money), `manual` and
`details` (bank-transfer batches where Stripe is not configured, and the workers' encrypted
bank details), `onboarding` (workers' Connect accounts). This package is the public entry:
import from `payments.payouts`.
"""

from __future__ import annotations

from .details import BankDetails, payout_details_get, payout_details_set
from .holds import worker_hold, worker_hold_release, worker_hold_write_off
from .manual import manual_batch_export, manual_batch_mark_paid
from .onboarding import (
    connected_account_deauthorized,
    connected_account_sync,
    connected_payout_failed,
    payout_account_onboard,
)
from .outcomes import MAX_BACKOFF_SECONDS, payout_record_paid, payout_return, retry_delay_seconds
from .pauses import payout_pause_reason, worker_on_hold
from .recovery import payout_resolve
from .request import ENQUEUE_GRACE, payout_minimum, payout_request, payouts_weekly
from .transfers import STALE_CLAIM, payout_execute, payouts_retry_due, transfer_reversed

__all__ = [
    "ENQUEUE_GRACE",
    "MAX_BACKOFF_SECONDS",
    "STALE_CLAIM",
    "BankDetails",
    "connected_account_deauthorized",
    "connected_account_sync",
    "connected_payout_failed",
    "manual_batch_export",
    "manual_batch_mark_paid",
    "payout_account_onboard",
    "payout_details_get",
    "payout_details_set",
    "payout_execute",
    "payout_minimum",
    "payout_pause_reason",
    "payout_record_paid",
    "payout_request",
    "payout_resolve",
    "payout_return",
    "payouts_retry_due",
    "payouts_weekly",
    "retry_delay_seconds",
    "transfer_reversed",
    "worker_hold",
    "worker_hold_release",
    "worker_hold_write_off",
    "worker_on_hold",
]

"""Paying a reserved payout by Stripe Connect transfer, and what Stripe tells us afterwards.

`payout_execute` claims the payout (conditional UPDATE, committed), calls Stripe with
`payout-<id>-transfer` outside any transaction, then records the result in a new transaction.
A crash at any point leaves a payout `payouts_retry_due` picks up; Stripe replays the first
transfer for the same key, so nothing is paid twice.

Stripe keeps a key for about 24 hours, so a retry of a transfer first sent more than
`lookup_after()` ago (an hour) looks the transfer up by its `transfer_group` first and records
the one found instead of sending again. Transient failures are retried until the payout's
`retry_until`; then, like an `idempotency_error` with no transfer found, the payout waits for an
admin (`needs_attention`, logged at ERROR) with its money still in flight.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from marketplace.errors import DomainError

from .. import stripe_gateway as gateway
from ..ledger import lock_accounts, post_entry
from ..models import (
    AccountKind,
    EntryKind,
    HoldAction,
    Payout,
    PayoutMethod,
    PayoutStatus,
    WorkerHoldEvent,
)
from ._shared import ledger_account
from .outcomes import (
    MAX_BACKOFF_SECONDS,
    give_up_after,
    lookup_after,
    mark_needs_attention,
    payout_record_paid,
    payout_return,
    retry_delay_seconds,
    schedule_retry,
)
from .pauses import payout_pause_reason, worker_on_hold
from .recovery import find_transfer, transfer_group

logger = logging.getLogger(__name__)

#: A `processing` claim older than this belongs to a process that died mid-call.
STALE_CLAIM = timedelta(minutes=10)

__all__ = [
    "MAX_BACKOFF_SECONDS",
    "STALE_CLAIM",
    "payout_execute",
    "payout_record_paid",
    "payout_return",
    "payouts_retry_due",
    "retry_delay_seconds",
    "transfer_reversed",
]


def _claim(payout_id: int, now: datetime) -> bool:
    """Take the payout for one attempt; exactly one process wins. A stale claim (a process died
    between the Stripe call and the database update) may be taken over. The first claim fixes
    when the transfer was first sent and until when it is retried."""
    return bool(
        Payout.objects.filter(pk=payout_id, method=PayoutMethod.STRIPE)
        .filter(
            Q(status=PayoutStatus.PENDING)
            | Q(status=PayoutStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM)
        )
        .update(
            status=PayoutStatus.PROCESSING,
            claimed_at=now,
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), Value(now)),
            retry_until=Coalesce(F("retry_until"), Value(now + give_up_after())),
        )
    )


def payout_execute(*, payout_id: int, now: datetime | None = None) -> Payout:
    """One transfer attempt; safe to call any number of times, from any number of processes.
    Returns the payout as it stands afterwards (pending again = retry at `next_attempt_at`)."""
    now = now or timezone.now()
    if not _claim(payout_id, now):
        return Payout.objects.get(pk=payout_id)
    payout = Payout.objects.get(pk=payout_id)
    paused = payout_pause_reason(worker_id=payout.worker_id, stripe=True)
    if paused:
        return _close_without_sending(payout, now, reason=paused)
    first = payout.first_attempt_at
    if payout.attempts > 1 and first is not None and first <= now - lookup_after():
        try:
            found = find_transfer(payout)
        except gateway.GatewayError as exc:
            return schedule_retry(payout, exc, now)
        if found is not None:
            return payout_record_paid(
                payout_id=payout.pk, transfer_id=found.id, amount_minor=found.amount
            )
    try:
        result = gateway.create_transfer(
            amount_minor=payout.amount_minor,
            currency=payout.currency,
            destination=payout.destination,
            transfer_group=transfer_group(payout),
            idempotency_key=payout.transfer_idempotency_key,
            metadata={"payout_id": str(payout.pk), "worker_id": str(payout.worker_id)},
        )
    except (gateway.GatewayTransientError, gateway.GatewayNotConfigured) as exc:
        return schedule_retry(payout, exc, now)
    except gateway.GatewayPermanentError as exc:
        if exc.code == "idempotency_error":
            return _after_idempotency_error(payout, exc, now)
        return payout_return(
            payout_id=payout.pk, code=exc.code or "stripe_refused", reason=str(exc)
        )
    return payout_record_paid(
        payout_id=payout.pk, transfer_id=result.id, amount_minor=result.amount
    )


def _after_idempotency_error(
    payout: Payout, exc: gateway.GatewayPermanentError, now: datetime
) -> Payout:
    """Stripe holds this key for other parameters (an earlier release sent other metadata, or
    the key was reused): the first request may have paid. Record the transfer if Stripe made
    one; otherwise an admin decides, since retrying the key can only fail the same way."""
    logger.error("payout %s: idempotency error from Stripe: %s", payout.pk, exc)
    try:
        found = find_transfer(payout)
    except gateway.GatewayError as lookup_error:
        return schedule_retry(payout, lookup_error, now)
    if found is not None:
        return payout_record_paid(
            payout_id=payout.pk, transfer_id=found.id, amount_minor=found.amount
        )
    return mark_needs_attention(
        payout, code="idempotency_error", reason=f"no transfer at Stripe; Stripe said: {exc}"
    )


def _close_without_sending(payout: Payout, now: datetime, *, reason: str) -> Payout:
    """Payouts to this worker are paused (an admin's hold, a deauthorized or restricted Stripe
    account): give the money back instead of sending, unless an earlier attempt paid."""
    if payout.attempts > 1:  # sent before: only Stripe knows whether that attempt paid
        try:
            found = find_transfer(payout)
        except gateway.GatewayError as exc:
            return schedule_retry(payout, exc, now)
        if found is not None:
            return payout_record_paid(
                payout_id=payout.pk, transfer_id=found.id, amount_minor=found.amount
            )
    return payout_return(payout_id=payout.pk, code="payouts_paused", reason=reason)


def payouts_retry_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of Stripe payouts that need another attempt: pending past `next_attempt_at` (a
    transient failure, or a crash before the enqueue) or processing with a stale claim (a crash
    after the Stripe call). The caller runs `payout_execute` on each."""
    now = now or timezone.now()
    return list(
        Payout.objects.filter(method=PayoutMethod.STRIPE)
        .filter(
            Q(status=PayoutStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=PayoutStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM)
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def transfer_reversed(*, transfer: dict[str, Any]) -> Payout | None:
    """`transfer.reversed`: Stripe pulled (part of) a paid transfer back to our balance, so the
    worker did not get it: credit the newly reversed part back to them (Stripe clearing ->
    worker available, or worker held while an admin's hold is on: a clawback after fraud must
    not become withdrawable again). The event carries the cumulative `amount_reversed`; the key
    names that total, so duplicates and older events (smaller totals) move nothing."""
    transfer_id = str(transfer.get("id") or "")
    total = int(transfer.get("amount_reversed") or 0)
    with transaction.atomic():
        payout = Payout.objects.select_for_update().filter(transfer_id=transfer_id).first()
        if payout is None:
            metadata = transfer.get("metadata") or {}
            pid = str(metadata.get("payout_id", "")) if isinstance(metadata, dict) else ""
            payout = (
                Payout.objects.select_for_update().filter(pk=int(pid)).first()
                if pid.isdigit()
                else None
            )
        if payout is None or payout.status != PayoutStatus.PAID:
            # Not recorded as paid yet: the retry job records it first, then a replay of this
            # event (failed below) credits the reversal.
            if payout is not None:
                raise DomainError(
                    f"payout {payout.pk} is not recorded as paid yet", code="payout_not_paid"
                )
            return None
        delta = min(total, payout.amount_minor) - payout.reversed_minor
        if delta <= 0:
            return payout
        clearing = ledger_account(AccountKind.STRIPE_CLEARING, None, payout.currency)
        available = ledger_account(AccountKind.WORKER_AVAILABLE, payout.worker_id, payout.currency)
        held = ledger_account(AccountKind.WORKER_HELD, payout.worker_id, payout.currency)
        # The available account's lock is the one the hold services take: the hold decision
        # and this credit cannot interleave.
        lock_accounts([available, held])
        on_hold = worker_on_hold(worker_id=payout.worker_id)
        entry = post_entry(
            idempotency_key=f"transfer-{transfer_id}-reversed-{total}",
            kind=EntryKind.TRANSFER_REVERSED,
            postings=[(clearing, -delta), (held if on_hold else available, delta)],
            memo=f"transfer {transfer_id} of payout {payout.pk} reversed"
            + (" (held: the worker's money is on hold)" if on_hold else ""),
            reference_type="payout",
            reference_id=payout.pk,
            external_id=transfer_id,
        )
        if on_hold:
            WorkerHoldEvent.objects.create(
                worker_id=payout.worker_id,
                action=HoldAction.REVERSAL_HELD,
                reason=f"transfer {transfer_id} of payout {payout.pk} reversed",
                amount_minor=delta,
                currency=payout.currency,
                entry=entry,
            )
        fully = payout.reversed_minor + delta >= payout.amount_minor
        Payout.objects.filter(pk=payout.pk).update(
            reversed_minor=payout.reversed_minor + delta,
            status=PayoutStatus.RETURNED if fully else PayoutStatus.PAID,
            returned_at=timezone.now() if fully else None,
            failure_code="transfer_reversed" if fully else "",
        )
    payout.refresh_from_db()
    return payout

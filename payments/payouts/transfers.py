"""Paying a reserved payout by Stripe Connect transfer, and what Stripe tells us afterwards.

`payout_execute` claims the payout (conditional UPDATE, committed), calls Stripe with
`payout-<id>-transfer` outside any transaction, then records the result in a new transaction.
A crash at any point leaves a payout `payouts_retry_due` picks up; Stripe replays the first
transfer for the same key, so nothing is paid twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from marketplace.errors import DomainError

from .. import stripe_gateway as gateway
from ..ledger import post_entry
from ..models import AccountKind, EntryKind, Payout, PayoutMethod, PayoutStatus
from ._shared import ledger_account

logger = logging.getLogger(__name__)

#: A `processing` claim older than this belongs to a process that died mid-call.
STALE_CLAIM = timedelta(minutes=10)
MAX_BACKOFF_SECONDS = 3600


def retry_delay_seconds(attempts: int) -> int:
    """Exponential backoff: base x 2^(attempts-1), capped at an hour. PAYOUT_RETRY_BASE_SECONDS
    (default 30) is 0 in tests so fault runs never sleep."""
    base = int(getattr(settings, "PAYOUT_RETRY_BASE_SECONDS", 30))
    return min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))


def _claim(payout_id: int, now: datetime) -> bool:
    """Take the payout for one attempt; exactly one process wins. A stale claim (a process died
    between the Stripe call and the database update) may be taken over."""
    return bool(
        Payout.objects.filter(pk=payout_id, method=PayoutMethod.STRIPE)
        .filter(
            Q(status=PayoutStatus.PENDING)
            | Q(status=PayoutStatus.PROCESSING, claimed_at__lt=now - STALE_CLAIM)
        )
        .update(status=PayoutStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1)
    )


def payout_execute(*, payout_id: int, now: datetime | None = None) -> Payout:
    """One transfer attempt; safe to call any number of times, from any number of processes.
    Returns the payout as it stands afterwards (pending again = retry at `next_attempt_at`)."""
    now = now or timezone.now()
    if not _claim(payout_id, now):
        return Payout.objects.get(pk=payout_id)
    payout = Payout.objects.get(pk=payout_id)
    try:
        result = gateway.create_transfer(
            amount_minor=payout.amount_minor,
            currency=payout.currency,
            destination=payout.destination,
            transfer_group=f"payout-{payout.pk}",
            idempotency_key=payout.transfer_idempotency_key,
            metadata={"payout_id": str(payout.pk), "worker_id": str(payout.worker_id)},
        )
    except (gateway.GatewayTransientError, gateway.GatewayNotConfigured) as exc:
        return _schedule_retry(payout, exc, now)
    except gateway.GatewayPermanentError as exc:
        if exc.code == "idempotency_error":
            # Our parameters for this key changed, which the immutable amount rules out; the
            # first call may have paid, so nothing is undone: an operator must look.
            logger.error("payout %s: idempotency error from Stripe: %s", payout.pk, exc)
            Payout.objects.filter(pk=payout.pk).update(last_error=f"idempotency_error: {exc}")
            return Payout.objects.get(pk=payout.pk)
        return payout_return(
            payout_id=payout.pk, code=exc.code or "stripe_refused", reason=str(exc)
        )
    return payout_record_paid(
        payout_id=payout.pk, transfer_id=result.id, amount_minor=result.amount
    )


def _schedule_retry(payout: Payout, exc: Exception, now: datetime) -> Payout:
    attempts = Payout.objects.filter(pk=payout.pk).values_list("attempts", flat=True).first() or 1
    Payout.objects.filter(pk=payout.pk, status=PayoutStatus.PROCESSING).update(
        status=PayoutStatus.PENDING,
        next_attempt_at=now + timedelta(seconds=retry_delay_seconds(attempts)),
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
    )
    return Payout.objects.get(pk=payout.pk)


def payout_record_paid(*, payout_id: int, transfer_id: str, amount_minor: int) -> Payout:
    """Record a transfer Stripe made: in flight -> Stripe clearing, once
    (ledger key `payout-<id>-paid`)."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(pk=payout_id)
        if payout.status == PayoutStatus.RETURNED:
            logger.error(
                "payout %s was returned but Stripe reports transfer %s", payout_id, transfer_id
            )
            return payout
        if amount_minor != payout.amount_minor:
            raise DomainError(
                f"Transfer {transfer_id} is for {amount_minor}, payout {payout_id} for "
                f"{payout.amount_minor}.",
                code="transfer_mismatch",
            )
        clearing = ledger_account(AccountKind.STRIPE_CLEARING, None, payout.currency)
        in_flight = ledger_account(
            AccountKind.WORKER_PAYOUT_IN_FLIGHT, payout.worker_id, payout.currency
        )
        post_entry(
            idempotency_key=f"payout-{payout.pk}-paid",
            kind=EntryKind.PAYOUT_PAID,
            postings=[(in_flight, -payout.amount_minor), (clearing, payout.amount_minor)],
            memo=f"payout {payout.pk} transferred",
            reference_type="payout",
            reference_id=payout.pk,
            external_id=transfer_id,
        )
        if payout.status != PayoutStatus.PAID:
            Payout.objects.filter(pk=payout.pk).update(
                status=PayoutStatus.PAID,
                transfer_id=transfer_id,
                paid_at=timezone.now(),
                last_error="",
            )
    payout.refresh_from_db()
    return payout


def payout_return(*, payout_id: int, code: str, reason: str) -> Payout:
    """Final failure: give the money back to the worker (in flight -> worker available), once.
    Only for outcomes where no transfer exists (Stripe refused, or an admin cancelled a
    manual payout the bank returned)."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().get(pk=payout_id)
        if payout.status in (PayoutStatus.PAID, PayoutStatus.RETURNED):
            return payout
        available = ledger_account(AccountKind.WORKER_AVAILABLE, payout.worker_id, payout.currency)
        in_flight = ledger_account(
            AccountKind.WORKER_PAYOUT_IN_FLIGHT, payout.worker_id, payout.currency
        )
        post_entry(
            idempotency_key=f"payout-{payout.pk}-return",
            kind=EntryKind.PAYOUT_RETURN,
            postings=[(in_flight, -payout.amount_minor), (available, payout.amount_minor)],
            memo=f"payout {payout.pk} returned: {code}",
            reference_type="payout",
            reference_id=payout.pk,
        )
        Payout.objects.filter(pk=payout.pk).update(
            status=PayoutStatus.RETURNED,
            failure_code=code[:100],
            last_error=reason[:2000],
            returned_at=timezone.now(),
        )
    payout.refresh_from_db()
    return payout


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
    worker did not get it: credit the newly reversed part back to their available balance
    (Stripe clearing -> worker available). The event carries the cumulative `amount_reversed`;
    the key names that total, so duplicates and older events (smaller totals) move nothing."""
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
        post_entry(
            idempotency_key=f"transfer-{transfer_id}-reversed-{total}",
            kind=EntryKind.TRANSFER_REVERSED,
            postings=[(clearing, -delta), (available, delta)],
            memo=f"transfer {transfer_id} of payout {payout.pk} reversed",
            reference_type="payout",
            reference_id=payout.pk,
            external_id=transfer_id,
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

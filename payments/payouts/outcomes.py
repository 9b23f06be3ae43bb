"""How a Stripe payout attempt ends, recorded in the database: paid, returned, retried later
with backoff, or handed to an admin. Each is one transaction (ledger entry + status), and none
calls Stripe."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.errors import DomainError

from ..ledger import post_entry
from ..models import AccountKind, EntryKind, Payout, PayoutStatus
from ._shared import ledger_account
from .notices import payout_notify_sent

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600


def retry_delay_seconds(attempts: int) -> int:
    """Exponential backoff: base x 2^(attempts-1), capped at an hour. PAYOUT_RETRY_BASE_SECONDS
    (default 30) is 0 in tests so fault runs never sleep."""
    base = int(getattr(settings, "PAYOUT_RETRY_BASE_SECONDS", 30))
    return min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))


def lookup_after() -> timedelta:
    """A retry of a transfer first sent longer ago than this looks it up before sending again
    (PAYOUT_TRANSFER_LOOKUP_AFTER_SECONDS, default an hour): Stripe forgets idempotency keys
    after about 24 hours, and a retry must not depend on a key that may be gone."""
    return timedelta(seconds=int(getattr(settings, "PAYOUT_TRANSFER_LOOKUP_AFTER_SECONDS", 3600)))


def give_up_after() -> timedelta:
    """How long transient failures are retried before an admin must decide
    (PAYOUT_RETRY_GIVE_UP_SECONDS, default two days)."""
    return timedelta(seconds=int(getattr(settings, "PAYOUT_RETRY_GIVE_UP_SECONDS", 2 * 86400)))


def schedule_retry(payout: Payout, exc: Exception, now: datetime) -> Payout:
    """A transient failure: back to pending with backoff, or, past the payout's retry deadline,
    to an admin (the outcome of earlier attempts may be unknown, so nothing is undone)."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if payout.retry_until is not None and now >= payout.retry_until:
        return mark_needs_attention(
            payout, code="retries_exhausted", reason=f"retries gave up; last error {error}"
        )
    attempts = Payout.objects.filter(pk=payout.pk).values_list("attempts", flat=True).first() or 1
    Payout.objects.filter(pk=payout.pk, status=PayoutStatus.PROCESSING).update(
        status=PayoutStatus.PENDING,
        next_attempt_at=now + timedelta(seconds=retry_delay_seconds(attempts)),
        last_error=error,
    )
    return Payout.objects.get(pk=payout.pk)


def mark_needs_attention(payout: Payout, *, code: str, reason: str) -> Payout:
    """Stop retrying and alert: the money stays in flight (a transfer may exist) until an admin
    resolves the payout (`payout_resolve` looks the transfer up first)."""
    moved = Payout.objects.filter(pk=payout.pk, status=PayoutStatus.PROCESSING).update(
        status=PayoutStatus.NEEDS_ATTENTION,
        failure_code=code[:100],
        last_error=reason[:2000],
        next_attempt_at=None,
    )
    if moved:
        logger.error(
            "payout %s needs attention (%s): %s; %s %s stays reserved until an admin resolves "
            "it in admin (Payouts, status 'needs attention')",
            payout.pk,
            code,
            reason,
            payout.amount_minor,
            payout.currency,
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
                failure_code="",
            )
            payout_notify_sent(payout.pk)
    payout.refresh_from_db()
    return payout


def payout_return(*, payout_id: int, code: str, reason: str) -> Payout:
    """Final failure: give the money back to the worker (in flight -> worker available), once.
    Only for outcomes where no transfer exists (Stripe refused, a lookup found none, or an admin
    cancelled a manual payout the bank returned)."""
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
            next_attempt_at=None,
        )
    payout.refresh_from_db()
    return payout

"""Celery tasks for money. Thin and idempotent: each calls a service that may run any number of
times (claims are conditional updates, ledger entries have unique keys)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from . import payouts, reconciliation, services, webhooks
from . import stripe_gateway as gateway
from .models import PayoutStatus

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=None, acks_late=True)
def execute_payout_task(self: Any, payout_id: int) -> str:
    """One transfer attempt. A transient failure is retried with the payout's backoff through
    Celery when a broker runs; in eager mode (no broker) the retry job takes it instead, so a
    web request never waits through backoff."""
    payout = payouts.payout_execute(payout_id=payout_id)
    if payout.status == PayoutStatus.PENDING and not self.request.is_eager:
        # A pending Stripe payout always has next_attempt_at; None would mean "now".
        due = payout.next_attempt_at or timezone.now()
        countdown = max(0, int((due - timezone.now()).total_seconds()))
        raise self.retry(countdown=countdown)
    return payout.status


@shared_task
def retry_payouts_task() -> int:
    """Beat (every minute): attempt every payout that is due again or whose claim went stale
    (a crash between the ledger commit and the enqueue, or between Stripe and the database)."""
    due = payouts.payouts_retry_due()
    for payout_id in due:
        payouts.payout_execute(payout_id=payout_id)
    return len(due)


@shared_task
def weekly_payouts_task() -> int:
    """Beat (Mondays 06:00 UTC): pay every worker whose balance reaches the minimum."""
    return len(payouts.payouts_weekly())


@shared_task
def topup_charge_sync_task(topup_id: int) -> bool:
    """After a top-up's credit commits: look up its charge and book Stripe's fee. A Stripe
    error is logged, not raised (in eager mode it would surface in the webhook request): the
    beat sweep books it later. Returns whether the fee is booked."""
    try:
        return services.topup_charge_sync(topup_id=topup_id).stripe_fee_minor is not None
    except gateway.GatewayError as exc:
        logger.warning("charge sync of top-up %s failed, the sweep retries: %s", topup_id, exc)
        return False


@shared_task
def sync_topup_charges_task() -> int:
    """Beat (every 10 minutes): book Stripe's fee of every credited top-up still without it."""
    return services.topups_sync_charges()


@shared_task
def replay_stripe_events_task() -> int:
    """Beat (every 5 minutes): re-process failed and stuck webhook events."""
    return webhooks.events_replay_due()


@shared_task
def reconcile_stripe_task(since: str | None = None, until: str | None = None) -> int:
    """Beat (daily 03:00 UTC): compare yesterday's (or [since, until)) Stripe clearing movements
    with Stripe's balance transactions; stores a ReconciliationReport and returns its id."""
    end = (
        datetime.fromisoformat(until)
        if until
        else timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    )
    start = datetime.fromisoformat(since) if since else end - timedelta(days=1)
    report = reconciliation.reconcile(since=start, until=end)
    if not report.ok:
        logger.error(
            "Stripe reconciliation found %d differences (report %s)",
            len(report.differences),
            report.pk,
        )
    return report.pk

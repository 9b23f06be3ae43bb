"""Stripe webhooks: verify, store in the inbox, process idempotently.

Only an event whose signature verifies (and is fresh) is stored; anything else is rejected
before a row is written. The inbox row (unique Stripe event id) makes a redelivered event one
row; handlers are idempotent through ledger keys and conditional updates, so processing an event
twice (a replay, a duplicate that raced) changes nothing the second time. Order does not matter:
`account.updated` ignores statuses older than the one applied; `transfer.reversed` and
`charge.refunded` carry cumulative totals; a dispute's balance transactions are booked once by
id whichever event carries them; a top-up is credited once whether `expired` or `completed`
came first (a refund or dispute arriving before its top-up's credit fails and is replayed).

Handled types:
* checkout.session.completed: credit the top-up (Stripe clearing -> requester available, a
  debt paid first), store its PaymentIntent; after commit its charge and Stripe's fee are
  looked up and the fee booked (platform revenue -> Stripe clearing).
* checkout.session.expired: a pending top-up becomes expired.
* account.updated: refresh the worker's connected account flags and requirements (KYC);
  requirements due or a disabled reason pause payouts.
* account.application.deauthorized: the worker's account left our platform; payouts pause.
* transfer.reversed: credit the reversed part back to the worker (Stripe clearing -> worker
  available, or worker held while an admin holds their money).
* payout.failed: flag the worker's account (their bank payout failed; no ledger movement).
* charge.refunded: take the newly refunded part back from the requester (available first,
  the rest becomes debt); their live bundles pause while they owe anything.
* charge.dispute.created / funds_withdrawn / funds_reinstated / updated / closed: record the
  dispute and book each of its balance transactions (amount and dispute fee) against the
  requester; won = the amount back (paying the debt first), lost = final.
* payout.created / payout.failed / payout.canceled without `account` (the platform's own
  payout to its bank): Stripe clearing <-> platform bank.
Anything else is stored and marked processed without action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from . import payouts, services
from . import stripe_gateway as gateway
from .models import EventStatus, StripeEvent

logger = logging.getLogger(__name__)

MAX_AUTO_ATTEMPTS = 10
STUCK_AFTER = timedelta(minutes=10)


def _obj(event: dict[str, Any]) -> dict[str, Any]:
    return dict((event.get("data") or {}).get("object") or {})


def _checkout_completed(event: dict[str, Any]) -> None:
    services.topup_complete(session=_obj(event))


def _checkout_expired(event: dict[str, Any]) -> None:
    services.topup_expire(session=_obj(event))


def _account_updated(event: dict[str, Any]) -> None:
    payouts.connected_account_sync(data=_obj(event), as_of=int(event.get("created") or 0))


def _account_deauthorized(event: dict[str, Any]) -> None:
    payouts.connected_account_deauthorized(account_id=str(event.get("account") or ""))


def _transfer_reversed(event: dict[str, Any]) -> None:
    payouts.transfer_reversed(transfer=_obj(event))


def _payout_failed(event: dict[str, Any]) -> None:
    if not event.get("account"):  # the platform's own payout to its bank
        services.platform_payout_sync(payout=_obj(event))
        return
    payouts.connected_payout_failed(account_id=str(event.get("account") or ""), payout=_obj(event))


def _platform_payout(event: dict[str, Any]) -> None:
    if not event.get("account"):  # a connected account's payouts are not the platform's
        services.platform_payout_sync(payout=_obj(event))


def _charge_refunded(event: dict[str, Any]) -> None:
    services.charge_refunded(charge=_obj(event))


def _dispute(event: dict[str, Any]) -> None:
    services.dispute_sync(dispute=_obj(event))


HANDLERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.expired": _checkout_expired,
    "account.updated": _account_updated,
    "account.application.deauthorized": _account_deauthorized,
    "transfer.reversed": _transfer_reversed,
    "payout.failed": _payout_failed,
    "payout.created": _platform_payout,
    "payout.canceled": _platform_payout,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.funds_withdrawn": _dispute,
    "charge.dispute.funds_reinstated": _dispute,
    "charge.dispute.closed": _dispute,
}


def event_receive(*, payload: bytes, signature: str | None) -> StripeEvent:
    """Verify and store one delivery. Raises stripe_gateway.WebhookSignatureInvalid (forged,
    stale, malformed: reject with 400, nothing stored) or GatewayNotConfigured."""
    event = gateway.construct_webhook_event(payload, signature)
    try:
        with transaction.atomic():
            stored, _ = StripeEvent.objects.get_or_create(
                event_id=str(event["id"]),
                defaults={
                    "type": str(event.get("type") or ""),
                    "account": str(event.get("account") or ""),
                    "created": int(event.get("created") or 0),
                    "payload": event,
                },
            )
    except IntegrityError:
        stored = StripeEvent.objects.get(event_id=str(event["id"]))
    return stored


def event_process(*, event_id: int, force: bool = False) -> StripeEvent:
    """Process a stored event unless it is done or another process holds it. `force` (admin
    replay) also re-runs processed and in-progress events: handlers are idempotent."""
    now = timezone.now()
    claimable = Q(status__in=[EventStatus.RECEIVED, EventStatus.FAILED]) | Q(
        status=EventStatus.PROCESSING, started_at__lt=now - STUCK_AFTER
    )
    qs = StripeEvent.objects.filter(pk=event_id)
    if not force:
        qs = qs.filter(claimable)
    if not qs.update(status=EventStatus.PROCESSING, started_at=now, attempts=F("attempts") + 1):
        return StripeEvent.objects.get(pk=event_id)
    stored = StripeEvent.objects.get(pk=event_id)
    handler = HANDLERS.get(stored.type)
    try:
        with transaction.atomic():
            if handler is not None:
                handler(stored.payload)
            StripeEvent.objects.filter(pk=event_id).update(
                status=EventStatus.PROCESSED, processed_at=timezone.now(), error=""
            )
    except Exception as exc:  # recorded on the inbox row for replay; never lost
        logger.exception("Stripe event %s (%s) failed", stored.event_id, stored.type)
        StripeEvent.objects.filter(pk=event_id).update(
            status=EventStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:5000]
        )
    stored.refresh_from_db()
    return stored


def events_replay_due() -> int:
    """Retry failed events (up to MAX_AUTO_ATTEMPTS; beyond that an admin replays) and events
    stuck in processing by a process that died. Returns how many were attempted."""
    now = timezone.now()
    ids = list(
        StripeEvent.objects.filter(
            Q(status=EventStatus.FAILED, attempts__lt=MAX_AUTO_ATTEMPTS)
            | Q(status=EventStatus.PROCESSING, started_at__lt=now - STUCK_AFTER)
        )
        .order_by("created", "pk")
        .values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        event_process(event_id=pk)
    return len(ids)

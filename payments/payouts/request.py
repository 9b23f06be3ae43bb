"""Asking for a payout: reserve the money (worker available -> in flight) and, with Stripe,
enqueue the transfer on commit; without Stripe, the payout joins the open manual batch."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, DomainError

from .. import stripe_gateway as gateway
from ..ledger import LedgerInvariantError, lock_accounts, normalize_currency, post_entry
from ..models import (
    AccountKind,
    ConnectedAccount,
    EntryKind,
    LedgerAccount,
    Payout,
    PayoutMethod,
)
from ._shared import ledger_account
from .manual import open_batch

logger = logging.getLogger(__name__)

#: A new payout is left to its on-commit task this long before the retry job takes it.
ENQUEUE_GRACE = timedelta(minutes=2)


def payout_minimum() -> int:
    return int(getattr(settings, "PAYOUT_MINIMUM_MINOR", 500))


def _enqueue(payout_id: int) -> None:
    # payments' own Celery module (not the tasks app), imported late: it imports this package.
    from payments.tasks import execute_payout_task

    # robust: a broker hiccup must not fail the request that committed the payout; the
    # retry job picks the payout up after ENQUEUE_GRACE.
    transaction.on_commit(lambda: execute_payout_task.delay(payout_id), robust=True)


def payout_request(
    *,
    worker: User,
    currency: str = "usd",
    amount_minor: int | None = None,
    request_key: str | None = None,
) -> Payout:
    """Reserve a payout of `amount_minor` (None = the whole available balance) for a worker.

    Needs at least PAYOUT_MINIMUM_MINOR. With Stripe configured the worker needs an onboarded
    connected account and the transfer is enqueued on commit; without Stripe the payout joins
    the open manual batch. `request_key` makes a retried request one payout.
    """
    currency = normalize_currency(currency)
    if not getattr(worker, "is_worker", False):
        raise DomainError("Only workers are paid out.", code="not_a_worker", http_status=403)
    if amount_minor is not None and (
        isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0
    ):
        raise DomainError("amount_minor must be a positive integer.", code="invalid_amount")
    request_key = request_key or f"request-{uuid.uuid4().hex}"
    prior = Payout.objects.filter(request_key=request_key).first()
    if prior is not None:
        if prior.worker_id != worker.pk or (amount_minor not in (None, prior.amount_minor)):
            raise Conflict(
                "This request key was used for another payout.", code="idempotency_conflict"
            )
        return prior
    stripe_on = gateway.is_configured()
    destination = ""
    if stripe_on:
        connected = ConnectedAccount.objects.filter(worker=worker).first()
        if connected is None or not connected.ready:
            raise DomainError(
                "Finish setting up your payout account first.",
                code="payout_account_required",
                http_status=409,
            )
        destination = connected.stripe_account_id
    available = ledger_account(AccountKind.WORKER_AVAILABLE, worker.pk, currency)
    in_flight = ledger_account(AccountKind.WORKER_PAYOUT_IN_FLIGHT, worker.pk, currency)
    minimum = payout_minimum()
    with transaction.atomic():
        balance = int(lock_accounts([available, in_flight])[available.pk].balance_minor or 0)
        amount = balance if amount_minor is None else amount_minor
        if amount < minimum or amount > balance:
            raise DomainError(
                f"A payout needs between {minimum} and your available {balance} {currency}.",
                code="payout_below_minimum" if amount < minimum else "insufficient_funds",
                http_status=409,
                minimum_minor=minimum,
                available_minor=balance,
            )
        payout = Payout.objects.create(
            worker=worker,
            amount_minor=amount,
            currency=currency,
            method=PayoutMethod.STRIPE if stripe_on else PayoutMethod.MANUAL,
            request_key=request_key,
            destination=destination,
            batch=None if stripe_on else open_batch(currency),
            next_attempt_at=timezone.now() + ENQUEUE_GRACE,
        )
        post_entry(
            idempotency_key=f"payout-{payout.pk}-reserve",
            kind=EntryKind.PAYOUT_RESERVE,
            postings=[(available, -amount), (in_flight, amount)],
            memo=f"payout {payout.pk} reserved",
            reference_type="payout",
            reference_id=payout.pk,
        )
        if stripe_on:
            _enqueue(payout.pk)
    return payout


def payouts_weekly(*, now: datetime | None = None) -> list[Payout]:
    """Pay every worker whose available balance reaches the minimum (weekly beat job).
    One payout per worker, currency and ISO week (the request key), so a rerun pays nobody
    twice. Workers without a ready payout account (Stripe mode) are skipped until they onboard."""
    now = now or timezone.now()
    year, week, _ = now.isocalendar()
    made: list[Payout] = []
    accounts = LedgerAccount.objects.filter(
        kind=AccountKind.WORKER_AVAILABLE, balance_minor__gte=payout_minimum()
    ).select_related("owner")
    for account in accounts.iterator():
        worker = account.owner
        if worker is None:
            raise LedgerInvariantError(f"{account.key} holds a worker's money but names no worker.")
        try:
            made.append(
                payout_request(
                    worker=worker,
                    currency=account.currency,
                    request_key=f"weekly-{year}-W{week:02d}-{worker.pk}-{account.currency}",
                )
            )
        except DomainError as exc:
            logger.info("weekly payout skipped for worker %s: %s", worker.pk, exc.code)
    return made

"""Asking for a payout: reserve the money (worker available -> in flight) and, with Stripe,
enqueue the transfer on commit; without Stripe, the payout joins the open manual batch."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, DomainError

from .. import stripe_gateway as gateway
from ..ledger import (
    PLAY_MONEY_CURRENCY,
    LedgerInvariantError,
    lock_accounts,
    normalize_currency,
    post_entry,
)
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
from .pauses import HOLD_REASON, worker_on_hold

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


def _same_request(prior: Payout, *, worker: User, amount_minor: int | None) -> Payout:
    """The payout a request key already made, if this request is the same one."""
    if prior.worker_id != worker.pk or (amount_minor not in (None, prior.amount_minor)):
        raise Conflict("This request key was used for another payout.", code="idempotency_conflict")
    return prior


def payout_request(
    *,
    worker: User,
    currency: str = "usd",
    amount_minor: int | None = None,
    request_key: str | None = None,
) -> Payout:
    """Reserve a payout of `amount_minor` (None = the whole available balance) for a worker.

    Needs at least PAYOUT_MINIMUM_MINOR. With Stripe configured the worker needs a ready
    connected account and the transfer is enqueued on commit; without Stripe the payout joins
    the open manual batch. Nothing is paid while an admin holds the worker's money
    (`payouts_on_hold`) or Stripe pauses their account (`payouts_paused`, with the reason).

    `request_key` makes a retried request one payout, also when the retry runs concurrently
    with the first: the key is checked again under the worker's account locks, so the second
    caller gets the first payout (never an IntegrityError, never `insufficient_funds` because
    the first one spent the balance).
    """
    currency = normalize_currency(currency)
    if not getattr(worker, "is_worker", False):
        raise DomainError("Only workers are paid out.", code="not_a_worker", http_status=403)
    if currency == PLAY_MONEY_CURRENCY:
        raise DomainError(
            "Sandbox earnings are play money and are never paid out.",
            code="play_money",
            http_status=409,
        )
    if amount_minor is not None and (
        isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0
    ):
        raise DomainError("amount_minor must be a positive integer.", code="invalid_amount")
    request_key = request_key or f"request-{uuid.uuid4().hex}"
    prior = Payout.objects.filter(request_key=request_key).first()
    if prior is not None:
        return _same_request(prior, worker=worker, amount_minor=amount_minor)
    stripe_on = gateway.is_configured()
    destination = ""
    if stripe_on:
        connected = ConnectedAccount.objects.filter(worker=worker).first()
        if connected is None or not connected.set_up:
            raise DomainError(
                "Finish setting up your payout account first.",
                code="payout_account_required",
                http_status=409,
            )
        if connected.pause_reason:
            raise DomainError(connected.pause_reason, code="payouts_paused", http_status=409)
        destination = connected.stripe_account_id
    available = ledger_account(AccountKind.WORKER_AVAILABLE, worker.pk, currency)
    in_flight = ledger_account(AccountKind.WORKER_PAYOUT_IN_FLIGHT, worker.pk, currency)
    minimum = payout_minimum()
    try:
        with transaction.atomic():
            balance = int(lock_accounts([available, in_flight])[available.pk].balance_minor or 0)
            # Under the lock every earlier request of this worker has committed or rolled back:
            # a concurrent retry of the same request finds its payout here.
            prior = Payout.objects.filter(request_key=request_key).first()
            if prior is not None:
                return _same_request(prior, worker=worker, amount_minor=amount_minor)
            if worker_on_hold(worker_id=worker.pk):
                raise DomainError(HOLD_REASON, code="payouts_on_hold", http_status=409)
            amount = balance if amount_minor is None else amount_minor
            if amount < minimum or amount > balance:
                raise DomainError(
                    f"A payout needs between {minimum} and your available {balance} {currency}.",
                    code="payout_below_minimum" if amount < minimum else "insufficient_funds",
                    http_status=409,
                    minimum_minor=minimum,
                    available_minor=balance,
                )
            with transaction.atomic():
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
    except IntegrityError:
        # The key is unique across workers: another worker's request holds it (same worker's
        # requests are serialised by the lock above and answered there).
        prior = Payout.objects.filter(request_key=request_key).first()
        if prior is None:
            raise
        return _same_request(prior, worker=worker, amount_minor=amount_minor)
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

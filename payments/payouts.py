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
"""

from __future__ import annotations

import csv
import io
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, DomainError

from . import stripe_gateway as gateway
from .ledger import account_get, lock_accounts, normalize_currency, post_entry
from .models import (
    AccountKind,
    ConnectedAccount,
    EntryKind,
    LedgerAccount,
    ManualBatchStatus,
    ManualPayoutBatch,
    Payout,
    PayoutMethod,
    PayoutStatus,
)

logger = logging.getLogger(__name__)

#: A `processing` claim older than this belongs to a process that died mid-call.
STALE_CLAIM = timedelta(minutes=10)
#: A new payout is left to its on-commit task this long before the retry job takes it.
ENQUEUE_GRACE = timedelta(minutes=2)
MAX_BACKOFF_SECONDS = 3600


def payout_minimum() -> int:
    return int(getattr(settings, "PAYOUT_MINIMUM_MINOR", 500))


def retry_delay_seconds(attempts: int) -> int:
    """Exponential backoff: base x 2^(attempts-1), capped at an hour. PAYOUT_RETRY_BASE_SECONDS
    (default 30) is 0 in tests so fault runs never sleep."""
    base = int(getattr(settings, "PAYOUT_RETRY_BASE_SECONDS", 30))
    return min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))


def _account(kind: str, worker_id: int | None, currency: str) -> LedgerAccount:
    account = account_get(kind=kind, currency=currency, owner_id=worker_id)
    assert account is not None
    return account


def _enqueue(payout_id: int) -> None:
    from .tasks import execute_payout_task

    # robust: a broker hiccup must not fail the request that committed the payout; the
    # retry job picks the payout up after ENQUEUE_GRACE.
    transaction.on_commit(lambda: execute_payout_task.delay(payout_id), robust=True)


# -- onboarding ------------------------------------------------------------------------------


def payout_account_onboard(*, worker: User) -> str:
    """Return a fresh Stripe onboarding link for the worker, creating their Express account on
    first use (idempotency key `worker-<id>-connect-account`, so a retry creates one account)."""
    if not gateway.is_configured():
        raise DomainError(
            "Payouts are made by bank transfer here; no Stripe account is needed.",
            code="stripe_not_configured",
            http_status=409,
        )
    account = ConnectedAccount.objects.filter(worker=worker).first()
    try:
        if account is None:
            profile = getattr(worker, "worker_profile", None)
            stripe_id = gateway.create_express_account(
                email=worker.email,
                country=(getattr(profile, "country", "") or "US"),
                worker_ref=f"worker-{worker.pk}",
                idempotency_key=f"worker-{worker.pk}-connect-account",
            )
            try:
                with transaction.atomic():
                    account = ConnectedAccount.objects.create(
                        worker=worker, stripe_account_id=stripe_id
                    )
            except IntegrityError:  # a concurrent request stored it (same key: same id)
                account = ConnectedAccount.objects.get(worker=worker)
        site = settings.SITE_URL.rstrip("/")
        return gateway.create_account_link(
            account_id=account.stripe_account_id,
            refresh_url=f"{site}/work/earnings/?payout_account=refresh",
            return_url=f"{site}/work/earnings/?payout_account=done",
        )
    except gateway.GatewayTransientError as exc:
        raise DomainError(
            "Stripe is not answering; try again.", code="stripe_unavailable", http_status=503
        ) from exc
    except gateway.GatewayPermanentError as exc:
        raise DomainError(f"Stripe refused: {exc}", code="stripe_error", http_status=502) from exc


def connected_account_sync(*, data: dict[str, object], as_of: int) -> ConnectedAccount | None:
    """Apply an `account.updated` payload unless a newer status was already applied
    (webhooks arrive out of order)."""
    status = gateway.account_status_from_dict(data)
    account = ConnectedAccount.objects.filter(stripe_account_id=status.id).first()
    if account is None:
        return None
    ConnectedAccount.objects.filter(pk=account.pk, status_as_of__lte=as_of).update(
        charges_enabled=status.charges_enabled,
        payouts_enabled=status.payouts_enabled,
        details_submitted=status.details_submitted,
        transfers_active=status.can_receive_transfers,
        disabled_reason=status.disabled_reason or "",
        status_as_of=as_of,
        updated_at=timezone.now(),
    )
    account.refresh_from_db()
    return account


# -- requesting ------------------------------------------------------------------------------


def _open_batch(currency: str) -> ManualPayoutBatch:
    """The currency's open batch, locked: an export waits for this payout to commit (so the
    CSV includes it), and a payout never joins a batch already exported."""
    batch = (
        ManualPayoutBatch.objects.select_for_update()
        .filter(currency=currency, status=ManualBatchStatus.OPEN)
        .first()
    )
    if batch is not None:
        return batch
    try:
        with transaction.atomic():
            return ManualPayoutBatch.objects.create(currency=currency)
    except IntegrityError:
        return ManualPayoutBatch.objects.select_for_update().get(
            currency=currency, status=ManualBatchStatus.OPEN
        )


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
    available = _account(AccountKind.WORKER_AVAILABLE, worker.pk, currency)
    in_flight = _account(AccountKind.WORKER_PAYOUT_IN_FLIGHT, worker.pk, currency)
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
            batch=None if stripe_on else _open_batch(currency),
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
        assert worker is not None
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


# -- executing (Stripe) ----------------------------------------------------------------------


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
        clearing = _account(AccountKind.STRIPE_CLEARING, None, payout.currency)
        in_flight = _account(AccountKind.WORKER_PAYOUT_IN_FLIGHT, payout.worker_id, payout.currency)
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
        available = _account(AccountKind.WORKER_AVAILABLE, payout.worker_id, payout.currency)
        in_flight = _account(AccountKind.WORKER_PAYOUT_IN_FLIGHT, payout.worker_id, payout.currency)
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


def transfer_reversed(*, transfer: dict[str, object]) -> Payout | None:
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
        clearing = _account(AccountKind.STRIPE_CLEARING, None, payout.currency)
        available = _account(AccountKind.WORKER_AVAILABLE, payout.worker_id, payout.currency)
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


def connected_payout_failed(*, account_id: str, payout: dict[str, object]) -> None:
    """`payout.failed` (a Connect event): the worker's *bank* payout from their Express balance
    failed. The money is still theirs, in their Stripe balance, and Stripe pays it again once
    they fix their bank details, so the ledger does not move; we flag the account so the
    worker is told."""
    ConnectedAccount.objects.filter(stripe_account_id=account_id).update(
        last_payout_failure=str(payout.get("failure_code") or "failed")[:255],
        last_payout_failure_at=timezone.now(),
    )


# -- manual batches (no Stripe) ----------------------------------------------------------------


def manual_batch_export(*, batch: ManualPayoutBatch) -> str:
    """The batch as CSV for the bank; exporting closes it so new payouts start a new batch.
    The batch row is locked first, so a payout joining it concurrently is either in this CSV
    or in the next batch, never paid-marked without having been exported."""
    with transaction.atomic():
        ManualPayoutBatch.objects.select_for_update().get(pk=batch.pk)
        ManualPayoutBatch.objects.filter(pk=batch.pk, status=ManualBatchStatus.OPEN).update(
            status=ManualBatchStatus.EXPORTED, exported_at=timezone.now()
        )
        rows = list(batch.payouts.select_related("worker").order_by("pk"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "payout_id",
            "worker_id",
            "worker_email",
            "amount_minor",
            "currency",
            "reference",
            "status",
        ]
    )
    for payout in rows:
        writer.writerow(
            [
                payout.pk,
                payout.worker_id,
                payout.worker.email,
                payout.amount_minor,
                payout.currency,
                f"crowdmarket payout {payout.pk}",
                payout.status,
            ]
        )
    return out.getvalue()


def manual_batch_mark_paid(*, batch: ManualPayoutBatch, by: User | None) -> int:
    """The admin made the bank transfers: in flight -> manual payout clearing for every pending
    payout in the batch, once each (key `payout-<id>-paid`). Returns how many were marked."""
    marked = 0
    with transaction.atomic():
        batch = ManualPayoutBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == ManualBatchStatus.OPEN:
            # Marking an unexported batch paid would mark payouts nobody sent to the bank.
            raise DomainError(
                "Download the batch's CSV (which closes it) before marking it paid.",
                code="batch_not_exported",
                http_status=409,
            )
        clearing = _account(AccountKind.MANUAL_PAYOUT_CLEARING, None, batch.currency)
        for payout in batch.payouts.select_for_update().filter(status=PayoutStatus.PENDING):
            in_flight = _account(
                AccountKind.WORKER_PAYOUT_IN_FLIGHT, payout.worker_id, payout.currency
            )
            post_entry(
                idempotency_key=f"payout-{payout.pk}-paid",
                kind=EntryKind.PAYOUT_PAID,
                postings=[(in_flight, -payout.amount_minor), (clearing, payout.amount_minor)],
                memo=f"payout {payout.pk} paid by bank transfer (batch {batch.pk})",
                created_by=by,
                reference_type="payout",
                reference_id=payout.pk,
            )
            Payout.objects.filter(pk=payout.pk).update(
                status=PayoutStatus.PAID, paid_at=timezone.now()
            )
            marked += 1
        ManualPayoutBatch.objects.filter(pk=batch.pk).update(
            status=ManualBatchStatus.PAID, paid_at=timezone.now(), paid_by=by
        )
    return marked

"""Payouts by bank transfer where Stripe is not configured: a batch per currency that an admin
exports as CSV (which closes it), pays at the bank, then marks paid. The CSV carries each
worker's bank details (decrypted for it; `details`), every text cell neutralised so a
spreadsheet never runs one as a formula."""

from __future__ import annotations

import io

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from marketplace.csvsafe import SafeWriter
from marketplace.errors import DomainError

from ..ledger import post_entry
from ..models import (
    AccountKind,
    EntryKind,
    ManualBatchStatus,
    ManualPayoutBatch,
    Payout,
    PayoutStatus,
)
from ._shared import ledger_account
from .details import BankDetails, payout_details_get
from .notices import payout_notify_sent

#: Characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """Free text (a name, an account, an email) as a cell no spreadsheet evaluates."""
    return "'" + text if text[:1] in FORMULA_PREFIXES else text


def open_batch(currency: str) -> ManualPayoutBatch:
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
    writer = SafeWriter(out)
    writer.writerow(
        [
            "payout_id",
            "worker_id",
            "worker_email",
            "amount_minor",
            "currency",
            "reference",
            "status",
            "account_holder",
            "account",
            "bank_code",
        ]
    )
    details: dict[int, BankDetails | None] = {}
    for payout in rows:
        if payout.worker_id not in details:
            details[payout.worker_id] = payout_details_get(worker_id=payout.worker_id)
        bank = details[payout.worker_id]
        writer.writerow(
            [
                payout.pk,
                payout.worker_id,
                csv_cell(payout.worker.email),
                payout.amount_minor,
                payout.currency,
                f"crowdmarket payout {payout.pk}",
                payout.status,
                csv_cell(bank.account_holder) if bank else "",
                csv_cell(bank.account) if bank else "",
                csv_cell(bank.bank_code) if bank else "",
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
        clearing = ledger_account(AccountKind.MANUAL_PAYOUT_CLEARING, None, batch.currency)
        for payout in batch.payouts.select_for_update().filter(status=PayoutStatus.PENDING):
            in_flight = ledger_account(
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
            payout_notify_sent(payout.pk)
            marked += 1
        ManualPayoutBatch.objects.filter(pk=batch.pk).update(
            status=ManualBatchStatus.PAID, paid_at=timezone.now(), paid_by=by
        )
    return marked

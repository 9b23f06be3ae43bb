"""Daily reconciliation: does Stripe agree with our Stripe clearing account?

Stripe clearing mirrors the platform's Stripe balance, so every Stripe balance transaction
has a booking in the ledger, and the report fails (ok=False) while any is unbooked. Nothing
lands in an "other" bucket that passes. Categories, compared per currency as totals:

* `charge`: top-up credits (gross; a charge's fee is apart);
* `stripe_fee`: every `fee` Stripe took: processing fees on charges (booked from the charge's
  balance transaction), dispute fees, fees on adjustments;
* `refund`: card refunds of top-ups; `dispute`: chargebacks withdrawn and reinstated;
* `transfer`, `transfer_reversal`: payouts to workers and their reversals;
* `payout`: Stripe paying the platform's balance out to its bank (and failed payouts back);
* `adjustment`: anything else (corrections, Connect billing fees of type `stripe_fee`, ...),
  which an operator books by transaction id (`book_stripe_transaction`).

On top of totals, transfers are matched one by one (our entry's external id is the transfer
id; Stripe's transaction names it as `source`), charges by the top-up's charge id, and each
adjustment by the booking that names its transaction id, so the report says which one is
missing: a transfer made at Stripe but never recorded (a crash after the call), a charge that
is no top-up's, an adjustment nobody booked.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Sum

from . import stripe_gateway as gateway
from .models import AccountKind, EntryKind, Posting, ReconciliationReport, TopUp

#: ledger entry kind -> category (what its Stripe clearing posting mirrors)
LEDGER_CATEGORY: dict[str, str] = {
    EntryKind.TOPUP: "charge",
    EntryKind.STRIPE_FEE: "stripe_fee",
    EntryKind.DISPUTE_FEE: "stripe_fee",
    EntryKind.REFUND: "refund",
    EntryKind.DISPUTE: "dispute",
    EntryKind.PAYOUT_PAID: "transfer",
    EntryKind.TRANSFER_REVERSED: "transfer_reversal",
    EntryKind.PLATFORM_PAYOUT: "payout",
    EntryKind.PLATFORM_PAYOUT_FAILED: "payout",
    EntryKind.STRIPE_ADJUSTMENT: "adjustment",
}
#: Stripe balance transaction type -> category (unlisted types are adjustments)
STRIPE_CATEGORY: dict[str, str] = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund",
    "payment_failure_refund": "refund",
    "transfer": "transfer",
    "transfer_refund": "transfer_reversal",
    "transfer_cancel": "transfer_reversal",
    "transfer_failure": "transfer_reversal",
    "payout": "payout",
    "payout_cancel": "payout",
    "payout_failure": "payout",
}
#: Categories the app books itself from Stripe's webhooks (never by hand).
BOOKED_BY_WEBHOOKS = frozenset(
    {"charge", "refund", "dispute", "transfer", "transfer_reversal", "payout"}
)


def stripe_category(txn: gateway.BalanceTxn) -> str:
    """The category of a Stripe balance transaction's amount (its fee is `stripe_fee`)."""
    if txn.reporting_category in ("dispute", "dispute_reversal"):
        return "dispute"
    return STRIPE_CATEGORY.get(txn.type, "adjustment")


def reconcile(*, since: datetime, until: datetime) -> ReconciliationReport:
    """Compare [since, until) and store the report (ok = no differences)."""
    postings = Posting.objects.filter(
        account__kind=AccountKind.STRIPE_CLEARING,
        entry__created_at__gte=since,
        entry__created_at__lt=until,
    )
    ledger: dict[tuple[str, str], int] = defaultdict(int)
    for row in postings.values("currency", "entry__kind").annotate(total=Sum("amount_minor")):
        kind = row["entry__kind"]
        # Clearing is the mirror of Stripe's balance: money in is negative on our side.
        ledger[(row["currency"], LEDGER_CATEGORY.get(kind, kind))] += -int(row["total"])
    ledger_transfers = {
        ext: -amount
        for ext, amount in postings.filter(entry__kind=EntryKind.PAYOUT_PAID).values_list(
            "entry__external_id", "amount_minor"
        )
    }
    summary: dict[str, object] = {"ledger": {f"{c}:{k}": v for (c, k), v in ledger.items()}}
    if not gateway.is_configured():
        return ReconciliationReport.objects.create(
            period_start=since,
            period_end=until,
            ok=not ledger,
            summary=summary,
            error="Stripe is not configured: nothing to compare with.",
        )
    stripe: dict[tuple[str, str], int] = defaultdict(int)
    fees: dict[str, int] = defaultdict(int)
    stripe_transfers: dict[str, int] = {}
    charges: dict[str, int] = {}
    adjustments: dict[str, int] = {}
    try:
        for txn in gateway.list_balance_transactions(created_gte=since, created_lt=until):
            category = stripe_category(txn)
            stripe[(txn.currency, category)] += txn.amount
            if txn.fee:
                fees[txn.currency] += txn.fee
                stripe[(txn.currency, "stripe_fee")] -= txn.fee
            if category == "transfer" and txn.type == "transfer" and txn.source:
                stripe_transfers[txn.source] = txn.amount
            elif category == "charge" and txn.source:
                charges[txn.source] = txn.amount
            elif category == "adjustment":
                adjustments[txn.id] = txn.amount
    except gateway.GatewayError as exc:
        return ReconciliationReport.objects.create(
            period_start=since,
            period_end=until,
            ok=False,
            summary=summary,
            error=f"could not list Stripe balance transactions: {exc}",
        )
    differences = _total_differences(ledger, stripe)
    differences += _transfer_differences(ledger_transfers, stripe_transfers)
    known_charges = set(
        TopUp.objects.filter(charge_id__in=list(charges), entry__isnull=False).values_list(
            "charge_id", flat=True
        )
    )
    differences += [
        {"kind": "charge_unmatched", "charge_id": charge_id, "stripe_minor": amount}
        for charge_id, amount in sorted(charges.items())
        if charge_id not in known_charges
    ]
    booked = set(
        Posting.objects.filter(
            account__kind=AccountKind.STRIPE_CLEARING,
            entry__kind__in=[EntryKind.STRIPE_ADJUSTMENT, EntryKind.STRIPE_FEE],
            entry__external_id__in=list(adjustments),
        ).values_list("entry__external_id", flat=True)
    )
    differences += [
        {"kind": "unbooked", "transaction_id": txn_id, "stripe_minor": amount}
        for txn_id, amount in sorted(adjustments.items())
        if txn_id not in booked
    ]
    summary.update(
        {
            "stripe": {f"{c}:{k}": v for (c, k), v in stripe.items()},
            "stripe_fees": dict(fees),
            "transfers_matched": len(set(ledger_transfers) & set(stripe_transfers)),
        }
    )
    return ReconciliationReport.objects.create(
        period_start=since,
        period_end=until,
        ok=not differences,
        summary=summary,
        differences=differences,
    )


def _total_differences(
    ledger: dict[tuple[str, str], int], stripe: dict[tuple[str, str], int]
) -> list[dict[str, object]]:
    differences: list[dict[str, object]] = []
    for currency, category in sorted(set(ledger) | set(stripe)):
        ours, theirs = ledger.get((currency, category), 0), stripe.get((currency, category), 0)
        if ours != theirs:
            differences.append(
                {
                    "kind": "total",
                    "currency": currency,
                    "category": category,
                    "ledger_minor": ours,
                    "stripe_minor": theirs,
                    "difference_minor": theirs - ours,
                }
            )
    return differences


def _transfer_differences(
    ledger_transfers: dict[str, int], stripe_transfers: dict[str, int]
) -> list[dict[str, object]]:
    differences: list[dict[str, object]] = [
        {
            "kind": "transfer_missing_in_ledger",
            "transfer_id": transfer_id,
            "stripe_minor": stripe_transfers[transfer_id],
        }
        for transfer_id in sorted(set(stripe_transfers) - set(ledger_transfers))
    ]
    differences += [
        {
            "kind": "transfer_missing_at_stripe",
            "transfer_id": transfer_id,
            "ledger_minor": ledger_transfers[transfer_id],
        }
        for transfer_id in sorted(set(ledger_transfers) - set(stripe_transfers))
    ]
    differences += [
        {
            "kind": "transfer_amount",
            "transfer_id": transfer_id,
            "ledger_minor": ledger_transfers[transfer_id],
            "stripe_minor": stripe_transfers[transfer_id],
        }
        for transfer_id in sorted(set(ledger_transfers) & set(stripe_transfers))
        if ledger_transfers[transfer_id] != stripe_transfers[transfer_id]
    ]
    return differences

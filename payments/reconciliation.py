"""Daily reconciliation: does Stripe agree with our Stripe clearing account?

Every ledger movement through Stripe clearing has a counterpart in Stripe's balance
transactions: a top-up credit is a `charge` (gross amount; Stripe's fee is reported apart), a
paid payout is a `transfer` (negative), a reversal credited back is a `transfer_refund`. Totals
are compared per currency and category, and transfers one by one (our entry's external id is
the transfer id, Stripe's transaction names it as `source`), so a transfer made at Stripe but
never recorded (a crash after the call) shows up by id until the retry job records it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Sum

from . import stripe_gateway as gateway
from .models import AccountKind, EntryKind, Posting, ReconciliationReport

#: ledger entry kind -> Stripe category
LEDGER_CATEGORY: dict[str, str] = {
    EntryKind.TOPUP: "charge",
    EntryKind.PAYOUT_PAID: "transfer",
    EntryKind.TRANSFER_REVERSED: "transfer_reversal",
}
#: Stripe balance transaction type -> category
STRIPE_CATEGORY: dict[str, str] = {
    "charge": "charge",
    "payment": "charge",
    "transfer": "transfer",
    "transfer_refund": "transfer_reversal",
    "transfer_cancel": "transfer_reversal",
}


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
    other: dict[str, int] = defaultdict(int)
    stripe_transfers: dict[str, int] = {}
    try:
        for txn in gateway.list_balance_transactions(created_gte=since, created_lt=until):
            fees[txn.currency] += txn.fee
            category = STRIPE_CATEGORY.get(txn.type)
            if category is None:
                other[f"{txn.currency}:{txn.type}"] += txn.amount
                continue
            stripe[(txn.currency, category)] += txn.amount
            if category == "transfer" and txn.source:
                stripe_transfers[txn.source] = txn.amount
    except gateway.GatewayError as exc:
        return ReconciliationReport.objects.create(
            period_start=since,
            period_end=until,
            ok=False,
            summary=summary,
            error=f"could not list Stripe balance transactions: {exc}",
        )
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
    for transfer_id in sorted(set(stripe_transfers) - set(ledger_transfers)):
        differences.append(
            {
                "kind": "transfer_missing_in_ledger",
                "transfer_id": transfer_id,
                "stripe_minor": stripe_transfers[transfer_id],
            }
        )
    for transfer_id in sorted(set(ledger_transfers) - set(stripe_transfers)):
        differences.append(
            {
                "kind": "transfer_missing_at_stripe",
                "transfer_id": transfer_id,
                "ledger_minor": ledger_transfers[transfer_id],
            }
        )
    for transfer_id in sorted(set(ledger_transfers) & set(stripe_transfers)):
        if ledger_transfers[transfer_id] != stripe_transfers[transfer_id]:
            differences.append(
                {
                    "kind": "transfer_amount",
                    "transfer_id": transfer_id,
                    "ledger_minor": ledger_transfers[transfer_id],
                    "stripe_minor": stripe_transfers[transfer_id],
                }
            )
    summary.update(
        {
            "stripe": {f"{c}:{k}": v for (c, k), v in stripe.items()},
            "stripe_fees": dict(fees),
            "stripe_other": dict(other),
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

"""Reads on money: balances, statements, revenue, and the ledger's self-check."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, Sum

from .ledger import account_balance
from .models import (
    BOUNDED_KINDS,
    AccountKind,
    JournalEntry,
    LedgerAccount,
    Posting,
)


def user_balances(*, user_id: int, kind: str) -> dict[str, int]:
    """{currency: balance} of one user's accounts of one kind."""
    return {
        account.currency: account_balance(account)
        for account in LedgerAccount.objects.filter(owner_id=user_id, kind=kind).order_by(
            "currency"
        )
    }


def statement(*, user_id: int, kinds: list[str], currency: str | None = None) -> QuerySet[Posting]:
    """A user's postings on the given account kinds, newest first (a bank statement)."""
    qs = Posting.objects.filter(account__owner_id=user_id, account__kind__in=kinds)
    if currency:
        qs = qs.filter(currency=currency.lower())
    return qs.select_related("entry", "account").order_by("-entry__created_at", "-pk")


def revenue_report(
    *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, object]]:
    """Platform fee revenue per currency over [since, until), with the number of entries."""
    qs = Posting.objects.filter(account__kind=AccountKind.PLATFORM_REVENUE)
    if since is not None:
        qs = qs.filter(entry__created_at__gte=since)
    if until is not None:
        qs = qs.filter(entry__created_at__lt=until)
    rows = (
        qs.values("currency")
        .annotate(
            revenue_minor=Sum("amount_minor"),
            entries=Count("entry", distinct=True),
            from_assignments=Sum("amount_minor", filter=Q(entry__kind="assignment_pay")),
            from_bonuses=Sum("amount_minor", filter=Q(entry__kind="bonus")),
        )
        .order_by("currency")
    )
    return [
        {
            "currency": row["currency"],
            "revenue_minor": int(row["revenue_minor"] or 0),
            "from_assignments_minor": int(row["from_assignments"] or 0),
            "from_bonuses_minor": int(row["from_bonuses"] or 0),
            "entries": row["entries"],
        }
        for row in rows
    ]


def ledger_problems() -> list[str]:
    """Everything that would mean money appeared or vanished; empty when the ledger is sound.

    Checks: every entry sums to zero per currency; each currency's postings sum to zero;
    each bounded account's cached balance equals its postings and is not negative; no
    posting's currency differs from its account's.
    """
    problems: list[str] = []
    unbalanced = (
        Posting.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount_minor"))
        .exclude(total=0)
    )
    problems += [f"entry {r['entry_id']} sums to {r['total']} {r['currency']}" for r in unbalanced]
    for row in Posting.objects.values("currency").annotate(total=Sum("amount_minor")):
        if row["total"] != 0:
            problems.append(f"currency {row['currency']} sums to {row['total']}")
    sums = dict(Posting.objects.values_list("account_id").annotate(total=Sum("amount_minor")))
    for account in LedgerAccount.objects.filter(kind__in=sorted(BOUNDED_KINDS)):
        derived = int(sums.get(account.pk, 0) or 0)
        if account.balance_minor != derived:
            problems.append(f"{account.key}: cached {account.balance_minor} != postings {derived}")
        if derived < 0:
            problems.append(f"{account.key} is negative: {derived}")
    mismatched = Posting.objects.exclude(currency=F("account__currency")).count()
    if mismatched:
        problems.append(f"{mismatched} postings in a currency other than their account's")
    entries_without_postings = JournalEntry.objects.filter(postings__isnull=True).count()
    if entries_without_postings:
        problems.append(f"{entries_without_postings} entries without postings")
    return problems


def worker_earnings(*, worker_id: int) -> list[dict[str, object]]:
    """Per currency: available now, reserved for payouts in flight, held by an admin (a
    clawback under review: the worker's, not withdrawable), and paid out so far."""
    from .models import Payout, PayoutStatus

    field_of: dict[str, str] = {
        AccountKind.WORKER_AVAILABLE: "available",
        AccountKind.WORKER_PAYOUT_IN_FLIGHT: "in_flight",
        AccountKind.WORKER_HELD: "held",
    }

    def row_for(currency: str) -> dict[str, object]:
        return rows.setdefault(
            currency,
            {"currency": currency, "available": 0, "in_flight": 0, "held": 0, "paid_out": 0},
        )

    rows: dict[str, dict[str, object]] = {}
    for account in LedgerAccount.objects.filter(owner_id=worker_id, kind__in=list(field_of)):
        row_for(account.currency)[field_of[account.kind]] = int(account.balance_minor or 0)
    paid = (
        Payout.objects.filter(worker_id=worker_id, status=PayoutStatus.PAID)
        .values("currency")
        .annotate(total=Sum("amount_minor"), reversed=Sum("reversed_minor"))
    )
    for item in paid:
        row_for(item["currency"])["paid_out"] = int(item["total"] or 0) - int(item["reversed"] or 0)
    return [rows[c] for c in sorted(rows)]


def bundles_with_escrow(*, limit: int = 500) -> list[int]:
    """Bundle ids whose escrow still holds money, oldest first (for the settle sweep)."""
    ids = (
        LedgerAccount.objects.filter(kind=AccountKind.BUNDLE_ESCROW, balance_minor__gt=0)
        .order_by("id")
        .values_list("bundle_id", flat=True)[:limit]
    )
    # Escrow accounts always name their bundle (account_key refuses one without).
    return [bundle_id for bundle_id in ids if bundle_id is not None]

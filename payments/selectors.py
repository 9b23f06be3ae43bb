"""Reads on money: balances, statements, revenue, and the ledger's self-check."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.db.models import Count, F, Q, QuerySet, Sum

from .ledger import account_balance, account_get, normalize_currency
from .models import (
    BOUNDED_KINDS,
    CACHED_KINDS,
    DEBT_KINDS,
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


def requester_debt(*, requester_id: int, currency: str) -> int:
    """What the requester owes in `currency` (minor units, 0 when nothing)."""
    account = account_get(
        kind=AccountKind.REQUESTER_DEBT, currency=currency, owner_id=requester_id, create=False
    )
    return 0 if account is None else -account_balance(account)


def requester_debts(*, requester_id: int) -> dict[str, int]:
    """{currency: owed} for every currency in which the requester owes something."""
    rows = LedgerAccount.objects.filter(
        owner_id=requester_id, kind=AccountKind.REQUESTER_DEBT, balance_minor__lt=0
    ).values_list("currency", "balance_minor")
    return {currency: -int(balance or 0) for currency, balance in sorted(rows)}


def requester_debt_reason(*, requester_id: int, currency: str) -> str:
    """Why the requester owes money: the memo of the newest entry that added to the debt."""
    posting = (
        Posting.objects.filter(
            account__owner_id=requester_id,
            account__kind=AccountKind.REQUESTER_DEBT,
            account__currency=normalize_currency(currency),
            amount_minor__lt=0,
        )
        .select_related("entry")
        .order_by("-entry__created_at", "-pk")
        .first()
    )
    return posting.entry.memo if posting is not None else ""


class RequesterBalance(TypedDict):
    currency: str
    available: int
    debt_minor: int
    in_debt_reason: str | None


def requester_balances(*, requester_id: int) -> list[RequesterBalance]:
    """Per currency: what the requester may spend (`available`), what they owe
    (`debt_minor`, after card money came back) and why (`in_debt_reason`, None if nothing)."""
    available = user_balances(user_id=requester_id, kind=AccountKind.REQUESTER_AVAILABLE)
    owed = {
        currency: -balance
        for currency, balance in user_balances(
            user_id=requester_id, kind=AccountKind.REQUESTER_DEBT
        ).items()
    }
    rows: list[RequesterBalance] = []
    for currency in sorted(set(available) | {c for c, amount in owed.items() if amount}):
        debt = owed.get(currency, 0)
        reason = None
        if debt:
            why = requester_debt_reason(requester_id=requester_id, currency=currency)
            reason = (
                f"You owe {debt} {currency}: {why or 'card money came back'}. A top-up pays it "
                "first; until then publishing, uploads and bonuses are paused."
            )
        rows.append(
            {
                "currency": currency,
                "available": available.get(currency, 0),
                "debt_minor": debt,
                "in_debt_reason": reason,
            }
        )
    return rows


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
            stripe_fees=Sum(
                "amount_minor", filter=Q(entry__kind__in=["stripe_fee", "stripe_adjustment"])
            ),
        )
        .order_by("currency")
    )
    return [
        {
            "currency": row["currency"],
            "revenue_minor": int(row["revenue_minor"] or 0),
            "from_assignments_minor": int(row["from_assignments"] or 0),
            "from_bonuses_minor": int(row["from_bonuses"] or 0),
            # Stripe's processing fees and adjustments the platform bore (negative).
            "stripe_fees_minor": int(row["stripe_fees"] or 0),
            "entries": row["entries"],
        }
        for row in rows
    ]


def ledger_problems() -> list[str]:
    """Everything that would mean money appeared or vanished; empty when the ledger is sound.

    Checks: every entry sums to zero per currency; each currency's postings sum to zero;
    each cached account's balance equals its postings, a bounded one is not negative and a
    debt is not positive; no requester holds money and owes money in one currency (a credit
    pays the debt first); no posting's currency differs from its account's.
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
    holding: set[tuple[int | None, str]] = set()
    owing: set[tuple[int | None, str]] = set()
    for account in LedgerAccount.objects.filter(kind__in=sorted(CACHED_KINDS)):
        derived = int(sums.get(account.pk, 0) or 0)
        if account.balance_minor != derived:
            problems.append(f"{account.key}: cached {account.balance_minor} != postings {derived}")
        if account.kind in BOUNDED_KINDS and derived < 0:
            problems.append(f"{account.key} is negative: {derived}")
        if account.kind in DEBT_KINDS and derived > 0:
            problems.append(f"{account.key} (a debt) is positive: {derived}")
        if account.kind == AccountKind.REQUESTER_AVAILABLE and derived > 0:
            holding.add((account.owner_id, account.currency))
        if account.kind == AccountKind.REQUESTER_DEBT and derived < 0:
            owing.add((account.owner_id, account.currency))
    problems += [
        f"requester {owner} holds and owes {currency}: a credit did not pay the debt first"
        for owner, currency in sorted(holding & owing, key=str)
    ]
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


def requesters_in_debt(*, limit: int = 1000) -> list[int]:
    """Ids of requesters who owe the platform money in any currency (for the pause sweep)."""
    ids = (
        LedgerAccount.objects.filter(kind=AccountKind.REQUESTER_DEBT, balance_minor__lt=0)
        .order_by("owner_id")
        .values_list("owner_id", flat=True)
        .distinct()[:limit]
    )
    return [owner_id for owner_id in ids if owner_id is not None]


def bundles_with_escrow(*, limit: int = 500) -> list[int]:
    """Bundle ids whose escrow still holds money, oldest first (for the settle sweep)."""
    ids = (
        LedgerAccount.objects.filter(kind=AccountKind.BUNDLE_ESCROW, balance_minor__gt=0)
        .order_by("id")
        .values_list("bundle_id", flat=True)[:limit]
    )
    # Escrow accounts always name their bundle (account_key refuses one without).
    return [bundle_id for bundle_id in ids if bundle_id is not None]

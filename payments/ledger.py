"""The double-entry core: accounts by key and `post_entry`, the only writer of postings.

Guarantees of `post_entry`:

* balanced: postings sum to zero per currency, integers only, no zero postings;
* idempotent: the idempotency key is unique in the database; posting again with the same key
  returns the first entry, posting the same key with other postings is refused;
* never negative: bounded accounts (requester available, escrow, worker available, payout in
  flight) are locked with SELECT ... FOR UPDATE in ascending id order (a fixed order, so two
  entries never deadlock on each other) and checked before anything is written; their cached
  balance is updated in the same transaction;
* never positive: debt accounts (a requester's receivable) are locked and cached the same way
  and may not be paid beyond zero;
* callable inside a caller's transaction (publish, approval): it opens a savepoint only.

Platform and clearing accounts are not locked and keep no cached balance: every approval on the
platform touches platform revenue, and a locked hot row there would serialise them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal, overload

from django.db import IntegrityError, transaction
from django.db.models import Sum

from accounts.models import User
from marketplace.errors import DomainError

from .models import (
    CACHED_KINDS,
    DEBT_KINDS,
    AccountKind,
    JournalEntry,
    LedgerAccount,
    Posting,
)


class InsufficientFunds(DomainError):
    """A bounded account would go below zero. `missing_minor` says by how much."""

    code = "insufficient_funds"
    # 402 Payment Required: the request is fine, the money is not there (top up and retry).
    http_status = 402


#: ISO 4217's code "for testing" (XTS): the sandbox's play money. Ledger accounts are per
#: currency, so it never mixes with real money; it is never paid out (payouts refuse it).
PLAY_MONEY_CURRENCY = "xts"


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    http_status = 409


class LedgerInvariantError(RuntimeError):
    """The ledger's data breaks a rule the code relies on (a worker's account with no worker).

    A bug or a hand-edited row, never a user error: not a DomainError, so no view turns it into
    a 4xx and no caller skips past it. Raised explicitly rather than by `assert`, which
    `python -O` removes.
    """


def normalize_currency(currency: str) -> str:
    cur = (currency or "").strip().lower()
    if len(cur) != 3 or not cur.isalpha() or not cur.isascii():
        raise DomainError(f"Unknown currency {currency!r}.", code="invalid_currency")
    return cur


def money_text(amount_minor: int, currency: str) -> str:
    """Minor units as words a person reads in a memo or message: (60, "usd") -> "0.60 USD".
    Two decimals, as for every currency the product offers; integer arithmetic only."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(int(amount_minor)), 100)
    return f"{sign}{whole:,}.{cents:02d} {currency.upper()}"


def account_key(
    *, kind: str, currency: str, owner_id: int | None = None, bundle_id: int | None = None
) -> str:
    """The unique name of an account. Escrow is per bundle; personal accounts per user."""
    if kind == AccountKind.BUNDLE_ESCROW:
        if bundle_id is None:
            raise ValueError("escrow accounts need a bundle id")
        return f"{kind}:{currency}:bundle={bundle_id}"
    if kind in (
        AccountKind.REQUESTER_AVAILABLE,
        AccountKind.WORKER_AVAILABLE,
        AccountKind.WORKER_PAYOUT_IN_FLIGHT,
        AccountKind.WORKER_HELD,
        AccountKind.REQUESTER_DEBT,
    ):
        if owner_id is None:
            raise ValueError(f"{kind} accounts need an owner")
        return f"{kind}:{currency}:user={owner_id}"
    return f"{kind}:{currency}"


@overload
def account_get(
    *,
    kind: str,
    currency: str,
    owner_id: int | None = None,
    bundle_id: int | None = None,
    create: Literal[True] = True,
) -> LedgerAccount: ...


@overload
def account_get(
    *,
    kind: str,
    currency: str,
    owner_id: int | None = None,
    bundle_id: int | None = None,
    create: bool,
) -> LedgerAccount | None: ...


def account_get(
    *,
    kind: str,
    currency: str,
    owner_id: int | None = None,
    bundle_id: int | None = None,
    create: bool = True,
) -> LedgerAccount | None:
    """The account for (kind, currency, owner or bundle), created on first use; with
    `create=False`, None when it does not exist yet (the overloads tell the type checker).

    Creation races are settled by the unique key (get_or_create retries the read inside a
    savepoint), so concurrent first uses end with one account.
    """
    currency = normalize_currency(currency)
    key = account_key(kind=kind, currency=currency, owner_id=owner_id, bundle_id=bundle_id)
    if not create:
        return LedgerAccount.objects.filter(key=key).first()
    account, _ = LedgerAccount.objects.get_or_create(
        key=key,
        defaults={
            "kind": kind,
            "currency": currency,
            "owner_id": owner_id,
            "bundle_id": bundle_id,
            "balance_minor": 0 if kind in CACHED_KINDS else None,
        },
    )
    return account


def account_balance(account: LedgerAccount) -> int:
    """Current balance: the cached value for bounded and debt accounts, the postings' sum
    otherwise."""
    if account.kind in CACHED_KINDS:
        value = LedgerAccount.objects.filter(pk=account.pk).values_list("balance_minor", flat=True)
        return int(value.first() or 0)
    total = Posting.objects.filter(account=account).aggregate(s=Sum("amount_minor"))["s"]
    return int(total or 0)


def lock_accounts(accounts: Iterable[LedgerAccount]) -> dict[int, LedgerAccount]:
    """Lock accounts in ascending id order (the one global lock order) and return them fresh.

    Callers that must read a balance before deciding what to post (payout of everything,
    release of all escrow) lock every account the entry will touch up front, so they never
    hold one lock while waiting for a lower-numbered one.
    """
    ids = sorted({acc.pk for acc in accounts})
    return {
        acc.pk: acc
        for acc in LedgerAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }


def _normalize(
    postings: Iterable[tuple[LedgerAccount, int]],
) -> dict[int, tuple[LedgerAccount, int]]:
    merged: dict[int, tuple[LedgerAccount, int]] = {}
    for account, amount in postings:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError("posting amounts are integers in minor units")
        if account.pk is None:
            raise ValueError("post to saved accounts only")
        previous = merged.get(account.pk, (account, 0))[1]
        merged[account.pk] = (account, previous + amount)
    merged = {pk: (acc, amt) for pk, (acc, amt) in merged.items() if amt != 0}
    if not merged:
        raise ValueError("an entry needs at least one non-zero posting")
    sums: dict[str, int] = defaultdict(int)
    for account, amount in merged.values():
        sums[account.currency] += amount
    unbalanced = {cur: s for cur, s in sums.items() if s != 0}
    if unbalanced:
        raise ValueError(f"postings do not sum to zero per currency: {unbalanced}")
    return merged


def _same_postings(entry: JournalEntry, wanted: dict[int, tuple[LedgerAccount, int]]) -> bool:
    have = dict(entry.postings.values_list("account_id", "amount_minor"))
    return have == {pk: amt for pk, (_acc, amt) in wanted.items()}


def _existing(key: str, wanted: dict[int, tuple[LedgerAccount, int]]) -> JournalEntry | None:
    entry = JournalEntry.objects.filter(idempotency_key=key).first()
    if entry is not None and not _same_postings(entry, wanted):
        raise IdempotencyConflict(
            f"Idempotency key {key!r} was already used for a different movement.",
            idempotency_key=key,
        )
    return entry


def post_entry(
    *,
    idempotency_key: str,
    kind: str,
    postings: Sequence[tuple[LedgerAccount, int]],
    memo: str = "",
    created_by: User | None = None,
    reference_type: str = "",
    reference_id: str | int = "",
    external_id: str = "",
) -> JournalEntry:
    """Write one balanced entry, or return the one already written under this key.

    Raises InsufficientFunds (with `missing_minor`, `account_kind`, `currency`) if a bounded
    account would go negative, LedgerInvariantError if a debt would be paid beyond zero (a
    caller must split a credit between debt and available under the lock); nothing is
    written then.
    """
    if not idempotency_key or not idempotency_key.strip():
        raise ValueError("an idempotency key is required")
    wanted = _normalize(postings)
    existing = _existing(idempotency_key, wanted)
    if existing is not None:
        return existing
    with transaction.atomic():
        bounded_ids = sorted(pk for pk, (acc, _a) in wanted.items() if acc.kind in CACHED_KINDS)
        locked = lock_accounts(wanted[pk][0] for pk in bounded_ids)
        # A concurrent caller with the same key may have committed while we waited for locks.
        existing = _existing(idempotency_key, wanted)
        if existing is not None:
            return existing
        new_balances: dict[int, int] = {}
        for pk in bounded_ids:
            account = locked[pk]
            new_balance = int(account.balance_minor or 0) + wanted[pk][1]
            if account.kind in DEBT_KINDS:
                if new_balance > 0:
                    raise LedgerInvariantError(
                        f"{account.key} would be paid {new_balance} beyond what is owed"
                    )
            elif new_balance < 0:
                raise InsufficientFunds(
                    f"Not enough money in {account.get_kind_display().lower()}: "
                    f"{-new_balance} {account.currency} missing.",
                    missing_minor=-new_balance,
                    currency=account.currency,
                    account_kind=account.kind,
                )
            new_balances[pk] = new_balance
        try:
            with transaction.atomic():
                entry = JournalEntry.objects.create(
                    idempotency_key=idempotency_key,
                    kind=kind,
                    memo=memo[:500],
                    created_by=created_by,
                    reference_type=reference_type,
                    reference_id=str(reference_id),
                    external_id=external_id,
                )
        except IntegrityError:
            # Only unlocked (clearing-only) entries can race here; the key decides.
            existing = _existing(idempotency_key, wanted)
            if existing is None:
                raise
            return existing
        Posting.objects.bulk_create(
            [
                Posting(entry=entry, account_id=pk, amount_minor=amount, currency=acc.currency)
                for pk, (acc, amount) in sorted(wanted.items())
            ]
        )
        for pk, balance in new_balances.items():
            LedgerAccount.objects.filter(pk=pk).update(balance_minor=balance)
            locked[pk].balance_minor = balance
    return entry

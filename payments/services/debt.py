"""Requester debt: what a requester owes after card money came back (a refund or a dispute of
a top-up they had already spent on work or bonuses, and the worker already paid out).

The debt is a receivable in the ledger (`requester_debt`, never positive), not a refused
write: Stripe has already taken the money back, so the books must say who owes it. Two rules
keep it simple, and `payments.selectors.ledger_problems` checks them:

* money taken from a requester (`requester_debit`: a refund, a dispute) takes what their
  available balance holds and books the rest as debt;
* money given to a requester (`requester_credit`: a top-up, an admin credit, test funds,
  escrow coming back, a dispute won) pays their debt first; only the rest becomes available.

So a requester never holds an available balance and a debt in one currency. Both decide the
split under the lock of the requester's available account, which every entry touching their
debt also holds: while it is held, the debt account can neither appear nor change, and it is
only created (by a debit) after the available account, so it never has the lower id of the
two and locking it last keeps the ledger's one lock order.

While a requester owes anything, `requester_debt_check` refuses publishing, uploads, resuming
and bonuses (`requester_in_debt`, 402), and their live bundles pause. `payments` does not
import `tasks`: on commit, `requester_debt_notify` runs the Celery tasks named in the setting
`PAYMENTS_REQUESTER_DEBT_TASKS` (the project wires tasks' pause task there), looked up by name
in the Celery app's registry; tasks' beat sweep catches anything a lost trigger missed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import transaction

from accounts.models import User
from marketplace.errors import DomainError

from ..ledger import (
    IdempotencyConflict,
    account_get,
    lock_accounts,
    normalize_currency,
    post_entry,
)
from ..models import CACHED_KINDS, AccountKind, JournalEntry, LedgerAccount
from ..selectors import requester_debt_reason, requester_debts
from ._shared import requester_account

logger = logging.getLogger(__name__)


class RequesterInDebt(DomainError):
    """The requester owes the platform money (card money came back): top up first."""

    code = "requester_in_debt"
    # 402 Payment Required, like insufficient_funds: pay (top up) and try again.
    http_status = 402


def debt_account(requester_id: int, currency: str, *, create: bool) -> LedgerAccount | None:
    """The requester's debt account; with create=False None until they first owed something
    (a credit only pays an existing debt; only a debit opens one)."""
    return account_get(
        kind=AccountKind.REQUESTER_DEBT, currency=currency, owner_id=requester_id, create=create
    )


def requester_debt_check(*, requester_id: int) -> None:
    """Refuse a spending action (publish, upload, resume, bonus) while the requester owes
    money in any currency: RequesterInDebt (402) naming the debt and why."""
    debts = requester_debts(requester_id=requester_id)
    if not debts:
        return
    currency, owed = next(iter(debts.items()))
    reason = requester_debt_reason(requester_id=requester_id, currency=currency)
    raise RequesterInDebt(
        f"You owe {owed} {currency} ({reason or 'card money came back'}). Top up to pay it; "
        "until then publishing, uploads and bonuses are paused.",
        debt_minor=owed,
        currency=currency,
        reason=reason,
    )


def _prior(
    key: str, *, counterpart: LedgerAccount, amount: int, requester_id: int
) -> JournalEntry | None:
    """The entry already written under `key`, if it moved the same amount through
    `counterpart` for this requester; IdempotencyConflict if the key meant something else.

    Checked by amount and owner rather than by identical postings: the split between debt and
    available depends on the balances when the first entry was written."""
    entry = JournalEntry.objects.filter(idempotency_key=key).first()
    if entry is None:
        return None
    moved = sum(
        amount_minor
        for account_id, amount_minor in entry.postings.values_list("account_id", "amount_minor")
        if account_id == counterpart.pk
    )
    owners = set(
        entry.postings.exclude(account=counterpart).values_list("account__owner_id", flat=True)
    )
    if moved != amount or owners != {requester_id}:
        raise IdempotencyConflict(
            f"Idempotency key {key!r} was already used for a different movement.",
            idempotency_key=key,
        )
    return entry


def _requester_entry(
    *,
    requester_id: int,
    currency: str,
    amount_minor: int,
    counterpart: LedgerAccount,
    credit: bool,
    idempotency_key: str,
    kind: str,
    memo: str,
    lock_with: Sequence[LedgerAccount],
    created_by: User | None,
    reference_type: str,
    reference_id: str | int,
    external_id: str,
) -> JournalEntry:
    currency = normalize_currency(currency)
    available = requester_account(requester_id, currency)  # before any debt account
    signed = -amount_minor if credit else amount_minor  # on the counterpart
    with transaction.atomic():
        # Only cached accounts are locked: never a clearing account, every top-up's hot row.
        locked = lock_accounts(
            a for a in (available, counterpart, *lock_with) if a.kind in CACHED_KINDS
        )
        debt = debt_account(requester_id, currency, create=not credit)
        if debt is not None:
            locked.update(lock_accounts([debt]))
        prior = _prior(
            idempotency_key, counterpart=counterpart, amount=signed, requester_id=requester_id
        )
        if prior is not None:
            return prior
        held = int(locked[available.pk].balance_minor or 0)
        postings: list[tuple[LedgerAccount, int]] = [(counterpart, signed)]
        if debt is None:  # a credit, and the requester never owed anything here
            postings.append((available, amount_minor))
        elif credit:
            repay = min(-int(locked[debt.pk].balance_minor or 0), amount_minor)
            postings += [(debt, repay), (available, amount_minor - repay)]
        else:
            take = min(held, amount_minor)
            postings += [(available, -take), (debt, -(amount_minor - take))]
        return post_entry(
            idempotency_key=idempotency_key,
            kind=kind,
            postings=[(account, amount) for account, amount in postings if amount],
            memo=memo,
            created_by=created_by,
            reference_type=reference_type,
            reference_id=reference_id,
            external_id=external_id,
        )


def requester_credit(
    *,
    requester_id: int,
    currency: str,
    amount_minor: int,
    source: LedgerAccount,
    idempotency_key: str,
    kind: str,
    memo: str,
    created_by: User | None = None,
    reference_type: str = "",
    reference_id: str | int = "",
    external_id: str = "",
    lock_with: Iterable[LedgerAccount] = (),
) -> JournalEntry:
    """Give the requester `amount_minor` from `source`: their debt is paid first, the rest
    becomes available. One entry; a retry with the key returns it (IdempotencyConflict if the
    key was used for another amount or requester). Call it in or outside a transaction."""
    return _requester_entry(
        requester_id=requester_id,
        currency=currency,
        amount_minor=amount_minor,
        counterpart=source,
        credit=True,
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        lock_with=list(lock_with),
        created_by=created_by,
        reference_type=reference_type,
        reference_id=reference_id,
        external_id=external_id,
    )


def requester_debit(
    *,
    requester_id: int,
    currency: str,
    amount_minor: int,
    target: LedgerAccount,
    idempotency_key: str,
    kind: str,
    memo: str,
    reference_type: str = "",
    reference_id: str | int = "",
    external_id: str = "",
) -> JournalEntry:
    """Take `amount_minor` from the requester to `target` even if they no longer have it
    (Stripe already took it back): what their available balance holds goes first, the rest
    becomes debt. Idempotent by key like `requester_credit`."""
    return _requester_entry(
        requester_id=requester_id,
        currency=currency,
        amount_minor=amount_minor,
        counterpart=target,
        credit=False,
        idempotency_key=idempotency_key,
        kind=kind,
        memo=memo,
        lock_with=(),
        created_by=None,
        reference_type=reference_type,
        reference_id=reference_id,
        external_id=external_id,
    )


def _celery_task(name: str) -> object | None:
    """The registered Celery task called `name`, importing the apps' task modules once if it
    is not registered yet (a web process imports them lazily)."""
    from celery import current_app

    task = current_app.tasks.get(name)
    if task is None:
        current_app.loader.import_default_modules()
        task = current_app.tasks.get(name)
    return task


def requester_debt_notify(*, requester_id: int) -> None:
    """Once the caller's transaction commits, run each task named in
    `PAYMENTS_REQUESTER_DEBT_TASKS` for this requester (tasks pauses their live bundles).

    A failure is logged, never raised: the money is booked already, and the beat sweep in
    tasks pauses whatever a lost trigger missed."""
    names = list(getattr(settings, "PAYMENTS_REQUESTER_DEBT_TASKS", []))

    def run() -> None:
        for name in names:
            task = _celery_task(name)
            if task is None:
                logger.error("requester debt task %s is not registered", name)
                continue
            try:
                task.delay(requester_id=requester_id)  # type: ignore[attr-defined]
            except Exception:
                logger.exception("requester debt task %s failed for %s", name, requester_id)

    if names:
        transaction.on_commit(run)

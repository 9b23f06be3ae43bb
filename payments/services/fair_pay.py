"""Money for fair pay and due process (issue 15): the escrow margin for top-ups to the pay
floor, the top-ups themselves, and paying an answer whose rejection was overturned.

`tasks.payfloor` and `tasks.fairness` decide who is owed what; these functions move it, one
balanced entry each with an idempotency key, like every other movement.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from accounts.models import User
from marketplace.errors import DomainError

from ..fees import FeeTerms, fee_terms
from ..ledger import InsufficientFunds, lock_accounts, money_text, normalize_currency, post_entry
from ..models import AccountKind, EntryKind, JournalEntry, LedgerAccount, Posting
from ._shared import (
    escrow_account,
    escrow_account_open,
    positive_amount,
    requester_account,
    revenue_account,
    worker_account,
)
from .debt import debt_account, requester_debt_notify
from .escrow import frozen_terms


def _terms(bundle_id: int, currency: str) -> FeeTerms:
    return frozen_terms(escrow_account(bundle_id=bundle_id, currency=currency)) or fee_terms()


def escrow_reserve_amount(
    *,
    requester: User,
    bundle_id: int,
    currency: str,
    amount_minor: int,
    idempotency_key: str,
    memo: str,
) -> int:
    """Move `amount_minor` (fees included by the caller) from the requester's available
    balance into the bundle's escrow: the pay-floor margin at publish, a confirmed top-up, a
    raised reward. `insufficient_funds` (402) when the balance is short; a retry with the key
    moves nothing more. Returns the amount."""
    currency = normalize_currency(currency)
    positive_amount(amount_minor)
    escrow = escrow_account_open(bundle_id=bundle_id, currency=currency, requester_id=requester.pk)
    if escrow.owner_id != requester.pk:
        raise DomainError(
            "This bundle's escrow belongs to someone else.", code="forbidden", http_status=403
        )
    try:
        post_entry(
            idempotency_key=idempotency_key,
            kind=EntryKind.ESCROW_RESERVE,
            postings=[(requester_account(requester.pk, currency), -amount_minor),
                      (escrow, amount_minor)],
            memo=memo[:500],
            created_by=requester,
            reference_type="bundle",
            reference_id=bundle_id,
        )  # fmt: skip
    except InsufficientFunds as exc:
        raise InsufficientFunds(
            f"This needs {money_text(amount_minor, currency)} in escrow; your balance is short "
            f"by {money_text(exc.extra['missing_minor'], currency)}. Top up and try again.",
            missing_minor=exc.extra["missing_minor"],
            needed_minor=amount_minor,
            currency=currency,
        ) from exc
    return amount_minor


def _largest_affordable(terms: FeeTerms, budget: int, wanted: int) -> int:
    """The largest amount <= wanted whose amount + fee fits in `budget`."""
    amount = min(wanted, budget * 100 // (100 + terms.percent)) if budget > 0 else 0
    while amount < wanted and amount + 1 + terms.fee_for(amount + 1) <= budget:
        amount += 1
    while amount > 0 and amount + terms.fee_for(amount) > budget:
        amount -= 1
    return amount


def floor_topup_pay(
    *,
    requester_id: int,
    bundle_id: int,
    worker_id: int,
    currency: str,
    amount_minor: int,
    idempotency_key: str,
    memo: str,
) -> tuple[int, int]:
    """Pay a worker `amount_minor` up to the pay floor, plus the fee at the bundle's frozen
    terms: from the bundle's escrow (its margin) first, the rest from the requester's
    available balance. Where both together fall short, pays the largest amount they cover.
    Returns (paid, fee); a retry with the key returns the first payment and moves nothing."""
    currency = normalize_currency(currency)
    positive_amount(amount_minor)
    prior = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if prior is not None:
        return _paid_and_fee(prior, worker_id)
    terms = _terms(bundle_id, currency)
    escrow = escrow_account(bundle_id=bundle_id, currency=currency)
    available = requester_account(requester_id, currency)
    worker = worker_account(worker_id, currency)
    with transaction.atomic():
        locked = lock_accounts([a for a in (escrow, available, worker) if a is not None])
        held = int(locked[escrow.pk].balance_minor or 0) if escrow is not None else 0
        spare = int(locked[available.pk].balance_minor or 0)
        amount = _largest_affordable(terms, held + spare, amount_minor)
        if amount == 0:
            return 0, 0
        fee = terms.fee_for(amount)
        from_escrow = min(held, amount + fee)
        postings: list[tuple[LedgerAccount, int]] = [(worker, amount)]
        if from_escrow and escrow is not None:  # from_escrow > 0 only when escrow exists
            postings.append((escrow, -from_escrow))
        if amount + fee - from_escrow:
            postings.append((available, -(amount + fee - from_escrow)))
        if fee:
            postings.append((revenue_account(currency), fee))
        post_entry(
            idempotency_key=idempotency_key,
            kind=EntryKind.BONUS,
            postings=postings,
            memo=memo[:500],
            reference_type="floor_topup",
            reference_id=bundle_id,
        )
    return amount, fee


def _paid_and_fee(entry: JournalEntry, worker_id: int) -> tuple[int, int]:
    paid = fee = 0
    for kind, owner, amount in entry.postings.values_list(
        "account__kind", "account__owner_id", "amount_minor"
    ):
        if kind == AccountKind.WORKER_AVAILABLE and owner == worker_id:
            paid += amount
        elif kind == AccountKind.PLATFORM_REVENUE:
            fee += amount
    return paid, fee


def overturned_assignment_pay(
    *,
    requester_id: int,
    bundle_id: int,
    worker_id: int,
    currency: str,
    reward_minor: int,
    assignment_id: int,
) -> JournalEntry:
    """Pay an answer whose rejection was overturned (by the requester or because they did not
    answer the appeal in time): the reward to the worker, the fee at the bundle's terms.

    The escrow of a rejected answer was spent on the judgment that replaced it, so the money
    comes from the requester's available balance; what it lacks becomes their debt (like a
    refund: the worker is owed either way), which pauses their bundles until they top up.
    Keyed `assignment-<id>-pay`, the approval's key, so an answer is paid once however it
    came to be accepted."""
    currency = normalize_currency(currency)
    positive_amount(reward_minor, "reward_minor")
    key = f"assignment-{assignment_id}-pay"
    prior = JournalEntry.objects.filter(idempotency_key=key).first()
    if prior is not None:
        return prior
    fee = _terms(bundle_id, currency).fee_for(reward_minor)
    cost = reward_minor + fee
    available = requester_account(requester_id, currency)
    with transaction.atomic():
        locked = lock_accounts([available])
        take = min(int(locked[available.pk].balance_minor or 0), cost)
        postings: list[tuple[LedgerAccount, int]] = [
            (worker_account(worker_id, currency), reward_minor)
        ]
        if take:
            postings.append((available, -take))
        debt = debt_account(requester_id, currency, create=True) if cost - take else None
        if debt is not None:
            postings.append((debt, -(cost - take)))
        if fee:
            postings.append((revenue_account(currency), fee))
        entry = post_entry(
            idempotency_key=key,
            kind=EntryKind.ASSIGNMENT_PAY,
            postings=postings,
            memo=f"assignment {assignment_id} (bundle {bundle_id}): rejection overturned",
            reference_type="assignment",
            reference_id=assignment_id,
        )
        if cost - take:
            requester_debt_notify(requester_id=requester_id)
    return entry


def assignments_earned(*, assignment_ids: list[int], currency: str) -> dict[int, int]:
    """What each worker was paid for these assignments (rewards, not fees), from the ledger:
    {worker id: minor units}. In chunks, so a bundle of any size is a few queries."""
    earned: dict[int, int] = {}
    for start in range(0, len(assignment_ids), 1000):
        chunk = [str(i) for i in assignment_ids[start : start + 1000]]
        rows = (
            Posting.objects.filter(
                entry__kind=EntryKind.ASSIGNMENT_PAY,
                entry__reference_type="assignment",
                entry__reference_id__in=chunk,
                account__kind=AccountKind.WORKER_AVAILABLE,
                currency=normalize_currency(currency),
            )
            .values("account__owner_id")
            .annotate(total=Sum("amount_minor"))
            .order_by()
        )
        for row in rows:
            owner = row["account__owner_id"]
            earned[owner] = earned.get(owner, 0) + int(row["total"] or 0)
    return earned

"""Escrow and earning: publish reserves, approval pays, finishing releases.

`tasks` calls these inside its own transactions (publish, add items, raise overlap; approve;
finish, cancel, expire): each is one ledger entry in a savepoint, so if the caller rolls back,
no money moved either.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from marketplace.errors import DomainError

from ..fees import FeeTerms, fee_terms
from ..ledger import (
    PLAY_MONEY_CURRENCY,
    InsufficientFunds,
    lock_accounts,
    money_text,
    normalize_currency,
    post_entry,
)
from ..models import EntryKind, JournalEntry, LedgerAccount
from ._shared import (
    escrow_account,
    escrow_account_open,
    positive_amount,
    requester_account,
    revenue_account,
    worker_account,
)
from .debt import requester_credit
from .test_money import play_money_fill


def frozen_terms(escrow: LedgerAccount | None) -> FeeTerms | None:
    """The fee terms fixed on an escrow account at its first reservation; None before that.
    Escrow reserved before minimum fees existed has a percent and no minimum: minimum 0."""
    if escrow is None or escrow.fee_percent is None:
        return None
    return FeeTerms(percent=escrow.fee_percent, minimum_minor=escrow.fee_minimum_minor or 0)


def escrow_fee_terms(*, bundle_id: int, currency: str) -> tuple[FeeTerms, bool]:
    """The fee terms this bundle is charged at, and whether they are frozen: fixed when its
    escrow was first reserved (publish), today's settings until then."""
    escrow = escrow_account(bundle_id=bundle_id, currency=normalize_currency(currency))
    frozen = frozen_terms(escrow)
    return (frozen, True) if frozen is not None else (fee_terms(), False)


def escrow_cost_per_judgment(*, bundle_id: int, currency: str, reward_minor: int) -> int:
    """What one judgment of this bundle draws from escrow: reward + fee at the terms (percent
    and minimum) fixed when its escrow was first reserved (today's if nothing was reserved)."""
    positive_amount(reward_minor, "reward_minor")
    terms, _frozen = escrow_fee_terms(bundle_id=bundle_id, currency=currency)
    return terms.cost_per_judgment(reward_minor)


def escrow_reserve(
    *,
    requester: User,
    bundle_id: int,
    currency: str,
    reward_minor: int,
    judgments: int,
    idempotency_key: str,
) -> int:
    """Move judgments x (reward + fee) from the requester's available balance into the bundle's
    escrow, and return that amount.

    Call it inside the publish (or add-items / raise-overlap) transaction with a key naming that
    change, e.g. `bundle-12-publish` or `bundle-12-items-3`: a retry reserves nothing more. The
    requester's account row is locked, so concurrent publishes cannot together spend more than
    the balance. Not enough money raises DomainError code `insufficient_funds`, HTTP 402, with
    `missing_minor`, `needed_minor`, `available_minor` and `currency`; nothing is reserved and
    the caller's transaction should roll back (nothing published). Play money (the sandbox's
    currency) is filled up first, as MTurk's sandbox balance never ran out.

    The fee terms (percent and minimum per judgment) are fixed on the escrow account at its
    first reservation; later reservations and every approval of this bundle use them.
    """
    currency = normalize_currency(currency)
    positive_amount(reward_minor, "reward_minor")
    if currency == PLAY_MONEY_CURRENCY:
        play_money_fill(requester=requester)
    if isinstance(judgments, bool) or not isinstance(judgments, int) or judgments < 0:
        raise DomainError("judgments must be a non-negative integer.", code="invalid_amount")
    escrow = escrow_account_open(bundle_id=bundle_id, currency=currency, requester_id=requester.pk)
    if escrow.owner_id != requester.pk:
        raise DomainError(
            "This bundle's escrow belongs to someone else.", code="forbidden", http_status=403
        )
    if escrow.fee_percent is None:
        today = fee_terms()
        LedgerAccount.objects.filter(pk=escrow.pk, fee_percent__isnull=True).update(
            fee_percent=today.percent, fee_minimum_minor=today.minimum_minor
        )
        escrow.refresh_from_db(fields=["fee_percent", "fee_minimum_minor"])
    per_judgment = escrow_cost_per_judgment(
        bundle_id=bundle_id, currency=currency, reward_minor=reward_minor
    )
    amount = per_judgment * judgments
    if amount == 0:
        return 0
    source = requester_account(requester.pk, currency)
    try:
        post_entry(
            idempotency_key=idempotency_key,
            kind=EntryKind.ESCROW_RESERVE,
            postings=[(source, -amount), (escrow, amount)],
            memo=(
                f"escrow for bundle {bundle_id}: {judgments} answers x "
                f"{money_text(per_judgment, currency)}"
            ),
            created_by=requester,
            reference_type="bundle",
            reference_id=bundle_id,
        )
    except InsufficientFunds as exc:
        raise InsufficientFunds(
            f"Publishing needs {money_text(amount, currency)} in escrow; your balance is short "
            f"by {money_text(exc.extra['missing_minor'], currency)}. Top up and try again.",
            missing_minor=exc.extra["missing_minor"],
            needed_minor=amount,
            available_minor=amount - exc.extra["missing_minor"],
            currency=currency,
        ) from exc
    return amount


def assignment_pay(
    *,
    requester_id: int,
    bundle_id: int,
    worker_id: int,
    currency: str,
    reward_minor: int,
    assignment_id: int,
) -> None:
    """Pay one approved assignment: escrow -> worker available (reward) and platform revenue
    (fee at the bundle's reserved terms).

    Call it inside the approval transaction. The entry key is `assignment-<id>-pay`, so however
    often approval is retried the worker is paid once. If the escrow cannot cover it (a bug in
    what was reserved), DomainError `escrow_insufficient` (409) rolls the approval back.
    """
    currency = normalize_currency(currency)
    positive_amount(reward_minor, "reward_minor")
    escrow = escrow_account(bundle_id=bundle_id, currency=currency)
    if escrow is None or escrow.owner_id != requester_id:
        raise DomainError(
            f"Bundle {bundle_id} has no {currency} escrow for requester {requester_id}.",
            code="escrow_insufficient",
            http_status=409,
        )
    terms = frozen_terms(escrow)
    fee = (terms or fee_terms()).fee_for(reward_minor)
    postings = [
        (escrow, -(reward_minor + fee)),
        (worker_account(worker_id, currency), reward_minor),
    ]
    if fee:
        postings.append((revenue_account(currency), fee))
    try:
        post_entry(
            idempotency_key=f"assignment-{assignment_id}-pay",
            kind=EntryKind.ASSIGNMENT_PAY,
            postings=postings,
            memo=f"assignment {assignment_id} (bundle {bundle_id})",
            reference_type="assignment",
            reference_id=assignment_id,
        )
    except InsufficientFunds as exc:
        raise DomainError(
            f"Bundle {bundle_id}'s escrow cannot cover this approval.",
            code="escrow_insufficient",
            http_status=409,
            missing_minor=exc.extra["missing_minor"],
        ) from exc


def escrow_release(
    *,
    requester_id: int,
    bundle_id: int,
    currency: str,
    idempotency_key: str,
    amount_minor: int | None = None,
    keep_minor: int = 0,
) -> int:
    """Return escrow to the requester's available balance: `amount_minor`, or (None)
    everything it holds above `keep_minor`, read under the escrow's row lock.

    Used when a bundle completes, is cancelled or expires (and when overlap is lowered); the
    settle of a finished bundle keeps what its unreviewed work may still cost. Returns the
    amount moved (0 when there is nothing to move: no entry is written then). A retry with the
    same key returns the first amount and moves nothing more. A requester in debt has it paid
    first: what comes back from escrow is theirs again, and they owe the platform.
    """
    currency = normalize_currency(currency)
    if isinstance(keep_minor, bool) or not isinstance(keep_minor, int) or keep_minor < 0:
        raise DomainError("keep_minor must be a non-negative integer.", code="invalid_amount")
    prior = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if prior is not None:
        # What left escrow (the requester's side may be split between debt and available).
        return -int(
            prior.postings.filter(amount_minor__lt=0).values_list("amount_minor", flat=True).first()
            or 0
        )
    escrow = escrow_account(bundle_id=bundle_id, currency=currency)
    if escrow is None:
        return 0
    if escrow.owner_id != requester_id:
        raise DomainError(
            "This bundle's escrow belongs to someone else.", code="forbidden", http_status=403
        )
    available = requester_account(requester_id, currency)
    with transaction.atomic():
        if amount_minor is None:
            # Lock first so an approval committing meanwhile cannot make the amount stale
            # (requester_credit then locks the requester's debt, if any, last).
            locked = lock_accounts([escrow, available])
            amount = int(locked[escrow.pk].balance_minor or 0) - keep_minor
        else:
            amount = positive_amount(amount_minor)
        if amount <= 0:
            return 0
        requester_credit(
            requester_id=requester_id,
            currency=currency,
            amount_minor=amount,
            source=escrow,
            idempotency_key=idempotency_key,
            kind=EntryKind.ESCROW_RELEASE,
            memo=f"escrow of bundle {bundle_id} returned",
            reference_type="bundle",
            reference_id=bundle_id,
        )
    return amount

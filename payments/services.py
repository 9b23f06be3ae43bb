"""Money writes the rest of crowdmarket calls: escrow, earning, bonuses, credits, top-ups.

`tasks` calls escrow_reserve (publish, more items, more overlap), assignment_pay (approval) and
escrow_release (finish, cancel, expire) inside its own transactions: each is one ledger entry in
a savepoint, so if the caller rolls back, no money moved either. Payouts live in
`payments.payouts`, webhooks in `payments.webhooks`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, DomainError, NotFound

from . import stripe_gateway as gateway
from .fees import fee_for, fee_percent
from .ledger import (
    InsufficientFunds,
    account_balance,
    account_get,
    lock_accounts,
    normalize_currency,
    post_entry,
)
from .models import (
    AccountKind,
    Bonus,
    EntryKind,
    JournalEntry,
    LedgerAccount,
    TopUp,
    TopUpStatus,
)

logger = logging.getLogger(__name__)

MAX_AMOUNT_MINOR = 10**12  # far above any real top-up; keeps sums well inside BIGINT


def _positive_amount(amount_minor: int, name: str = "amount_minor") -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise DomainError(f"{name} must be an integer in minor units.", code="invalid_amount")
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise DomainError(f"{name} must be positive.", code="invalid_amount")
    return amount_minor


def _requester_account(requester_id: int, currency: str) -> LedgerAccount:
    account = account_get(
        kind=AccountKind.REQUESTER_AVAILABLE, currency=currency, owner_id=requester_id
    )
    assert account is not None
    return account


def _worker_account(worker_id: int, currency: str) -> LedgerAccount:
    account = account_get(kind=AccountKind.WORKER_AVAILABLE, currency=currency, owner_id=worker_id)
    assert account is not None
    return account


def _revenue_account(currency: str) -> LedgerAccount:
    account = account_get(kind=AccountKind.PLATFORM_REVENUE, currency=currency)
    assert account is not None
    return account


def _escrow_account(
    *, bundle_id: int, currency: str, requester_id: int | None = None
) -> LedgerAccount | None:
    return account_get(
        kind=AccountKind.BUNDLE_ESCROW,
        currency=currency,
        bundle_id=bundle_id,
        owner_id=requester_id,
        create=requester_id is not None,
    )


# -- reads -----------------------------------------------------------------------------------


def requester_available(*, requester_id: int, currency: str) -> int:
    """What the requester may spend now (minor units)."""
    account = account_get(
        kind=AccountKind.REQUESTER_AVAILABLE,
        currency=currency,
        owner_id=requester_id,
        create=False,
    )
    return 0 if account is None else account_balance(account)


def worker_available(*, worker_id: int, currency: str) -> int:
    """What the worker has earned and not yet asked to be paid out."""
    account = account_get(
        kind=AccountKind.WORKER_AVAILABLE, currency=currency, owner_id=worker_id, create=False
    )
    return 0 if account is None else account_balance(account)


def escrow_balance(*, bundle_id: int, currency: str) -> int:
    """What the bundle's escrow still holds (rewards and fees of judgments not yet paid)."""
    account = _escrow_account(bundle_id=bundle_id, currency=normalize_currency(currency))
    return 0 if account is None else account_balance(account)


# -- escrow and earning ------------------------------------------------------------------------


def escrow_cost_per_judgment(*, bundle_id: int, currency: str, reward_minor: int) -> int:
    """What one judgment of this bundle draws from escrow: reward + fee at the percent fixed
    when its escrow was first reserved (the current setting if nothing was reserved yet)."""
    currency = normalize_currency(currency)
    _positive_amount(reward_minor, "reward_minor")
    escrow = _escrow_account(bundle_id=bundle_id, currency=currency)
    percent = escrow.fee_percent if escrow is not None else None
    return reward_minor + fee_for(reward_minor, percent=percent)


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
    the caller's transaction should roll back (nothing published).

    The fee percent is fixed on the escrow account at its first reservation; later
    reservations and every approval of this bundle use it.
    """
    currency = normalize_currency(currency)
    _positive_amount(reward_minor, "reward_minor")
    if isinstance(judgments, bool) or not isinstance(judgments, int) or judgments < 0:
        raise DomainError("judgments must be a non-negative integer.", code="invalid_amount")
    escrow = _escrow_account(bundle_id=bundle_id, currency=currency, requester_id=requester.pk)
    assert escrow is not None
    if escrow.owner_id != requester.pk:
        raise DomainError(
            "This bundle's escrow belongs to someone else.", code="forbidden", http_status=403
        )
    if escrow.fee_percent is None:
        LedgerAccount.objects.filter(pk=escrow.pk, fee_percent__isnull=True).update(
            fee_percent=fee_percent()
        )
        escrow.refresh_from_db(fields=["fee_percent"])
    per_judgment = escrow_cost_per_judgment(
        bundle_id=bundle_id, currency=currency, reward_minor=reward_minor
    )
    amount = per_judgment * judgments
    if amount == 0:
        return 0
    source = _requester_account(requester.pk, currency)
    try:
        post_entry(
            idempotency_key=idempotency_key,
            kind=EntryKind.ESCROW_RESERVE,
            postings=[(source, -amount), (escrow, amount)],
            memo=f"escrow for bundle {bundle_id}: {judgments} x ({per_judgment})",
            created_by=requester,
            reference_type="bundle",
            reference_id=bundle_id,
        )
    except InsufficientFunds as exc:
        raise InsufficientFunds(
            f"Publishing needs {amount} {currency} in escrow; your balance is short by "
            f"{exc.extra['missing_minor']} {currency}. Top up and try again.",
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
    (fee at the bundle's reserved percent).

    Call it inside the approval transaction. The entry key is `assignment-<id>-pay`, so however
    often approval is retried the worker is paid once. If the escrow cannot cover it (a bug in
    what was reserved), DomainError `escrow_insufficient` (409) rolls the approval back.
    """
    currency = normalize_currency(currency)
    _positive_amount(reward_minor, "reward_minor")
    escrow = _escrow_account(bundle_id=bundle_id, currency=currency)
    if escrow is None or escrow.owner_id != requester_id:
        raise DomainError(
            f"Bundle {bundle_id} has no {currency} escrow for requester {requester_id}.",
            code="escrow_insufficient",
            http_status=409,
        )
    fee = fee_for(reward_minor, percent=escrow.fee_percent)
    postings = [
        (escrow, -(reward_minor + fee)),
        (_worker_account(worker_id, currency), reward_minor),
    ]
    if fee:
        postings.append((_revenue_account(currency), fee))
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
) -> int:
    """Return escrow to the requester's available balance; None = everything it still holds.

    Used when a bundle completes, is cancelled or expires (and when overlap is lowered). Returns
    the amount moved (0 when escrow is empty: no entry is written then). A retry with the same
    key returns the first amount and moves nothing more.
    """
    currency = normalize_currency(currency)
    prior = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
    if prior is not None:
        return int(
            prior.postings.filter(amount_minor__gt=0).values_list("amount_minor", flat=True).first()
            or 0
        )
    escrow = _escrow_account(bundle_id=bundle_id, currency=currency)
    if escrow is None:
        return 0
    if escrow.owner_id != requester_id:
        raise DomainError(
            "This bundle's escrow belongs to someone else.", code="forbidden", http_status=403
        )
    requester_account = _requester_account(requester_id, currency)
    with transaction.atomic():
        if amount_minor is None:
            # Lock first so an approval committing meanwhile cannot make the amount stale.
            locked = lock_accounts([escrow, requester_account])
            amount = int(locked[escrow.pk].balance_minor or 0)
        else:
            amount = _positive_amount(amount_minor)
        if amount == 0:
            return 0
        post_entry(
            idempotency_key=idempotency_key,
            kind=EntryKind.ESCROW_RELEASE,
            postings=[(escrow, -amount), (requester_account, amount)],
            memo=f"escrow of bundle {bundle_id} returned",
            reference_type="bundle",
            reference_id=bundle_id,
        )
    return amount


# -- bonuses and credits ----------------------------------------------------------------------


def bonus_pay(
    *,
    requester: User,
    worker: User,
    amount_minor: int,
    currency: str,
    reason: str,
    client_token: str,
) -> Bonus:
    """Pay a worker a bonus from the requester's available balance, plus the platform fee.

    Idempotent by (requester, client_token): a retried request returns the first Bonus; the
    same token with another amount, worker or currency is refused (409 idempotency_conflict).
    Not enough balance -> insufficient_funds (402) with missing_minor.
    """
    currency = normalize_currency(currency)
    _positive_amount(amount_minor)
    if not client_token or len(client_token) > 100:
        raise DomainError(
            "client_token is required (at most 100 characters).", code="invalid_client_token"
        )
    if not reason or not reason.strip():
        raise DomainError("A reason is required for a bonus.", code="reason_required")
    if not getattr(worker, "is_worker", False):
        raise NotFound("No such worker.")
    if worker.pk == requester.pk:
        raise DomainError("You cannot pay yourself a bonus.", code="invalid_worker")

    def _check(bonus: Bonus) -> Bonus:
        if (bonus.worker_id, bonus.amount_minor, bonus.currency) != (
            worker.pk,
            amount_minor,
            currency,
        ):
            raise Conflict(
                "client_token was already used for a different bonus.",
                code="idempotency_conflict",
            )
        return bonus

    existing = Bonus.objects.filter(requester=requester, client_token=client_token).first()
    if existing is not None:
        return _check(existing)
    fee = fee_for(amount_minor)
    postings = [
        (_requester_account(requester.pk, currency), -(amount_minor + fee)),
        (_worker_account(worker.pk, currency), amount_minor),
    ]
    if fee:
        postings.append((_revenue_account(currency), fee))
    with transaction.atomic():
        entry = post_entry(
            idempotency_key=f"bonus-{requester.pk}-{client_token}",
            kind=EntryKind.BONUS,
            postings=postings,
            memo=reason.strip()[:500],
            created_by=requester,
            reference_type="bonus",
        )
        existing = Bonus.objects.filter(entry=entry).first()
        if existing is not None:  # a concurrent identical request committed first
            return _check(existing)
        return Bonus.objects.create(
            requester=requester,
            worker=worker,
            amount_minor=amount_minor,
            fee_minor=fee,
            currency=currency,
            reason=reason.strip(),
            client_token=client_token,
            entry=entry,
        )


def balance_credit(
    *,
    requester: User,
    amount_minor: int,
    currency: str,
    reference: str,
    by: User | None,
) -> JournalEntry:
    """Credit a requester's balance for money received outside Stripe (invoice, bank transfer).

    Idempotent by `reference` (the invoice or bank reference): crediting the same reference
    again returns the first entry; the same reference for another amount or requester is
    refused. The other side is the admin credit clearing account, which tells the auditor how
    much arrived this way.
    """
    currency = normalize_currency(currency)
    _positive_amount(amount_minor)
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(
            "A reference (invoice or bank transfer) is required.", code="reference_required"
        )
    if not getattr(requester, "is_requester", False):
        raise DomainError(f"{requester} is not a requester.", code="not_a_requester")
    clearing = account_get(kind=AccountKind.ADMIN_CREDIT_CLEARING, currency=currency)
    assert clearing is not None
    return post_entry(
        idempotency_key=f"credit-{reference}",
        kind=EntryKind.ADMIN_CREDIT,
        postings=[
            (clearing, -amount_minor),
            (_requester_account(requester.pk, currency), amount_minor),
        ],
        memo=f"admin credit {reference}",
        created_by=by,
        reference_type="credit",
        reference_id=reference[:64],
        external_id=reference[:255],
    )


# -- top-ups (Stripe Checkout) ---------------------------------------------------------------


def topup_create(*, requester: User, amount_minor: int, currency: str, client_token: str) -> TopUp:
    """Start a Stripe Checkout top-up and return it with its `checkout_url`.

    Nothing is credited here; the verified `checkout.session.completed` webhook credits it.
    The TopUp row is committed before Stripe is called, and the Checkout call carries
    `topup-<id>-checkout` as its idempotency key, so retrying a request (same client_token)
    returns the same session instead of opening a second one.
    """
    currency = normalize_currency(currency)
    _positive_amount(amount_minor)
    if not client_token or len(client_token) > 100:
        raise DomainError(
            "client_token is required (at most 100 characters).", code="invalid_client_token"
        )
    if not gateway.is_configured():
        raise DomainError(
            "Card top-ups are not available here; ask an admin to credit your balance.",
            code="stripe_not_configured",
            http_status=503,
        )
    minimum = int(getattr(settings, "TOPUP_MINIMUM_MINOR", 100))
    if amount_minor < minimum:
        raise DomainError(
            f"The smallest top-up is {minimum}.", code="amount_too_small", minimum_minor=minimum
        )
    try:
        with transaction.atomic():
            topup, _ = TopUp.objects.get_or_create(
                requester=requester,
                client_token=client_token,
                defaults={"amount_minor": amount_minor, "currency": currency},
            )
    except IntegrityError:
        topup = TopUp.objects.get(requester=requester, client_token=client_token)
    if (topup.amount_minor, topup.currency) != (amount_minor, currency):
        raise Conflict(
            "client_token was already used for a different top-up.", code="idempotency_conflict"
        )
    if topup.checkout_url or topup.status != TopUpStatus.PENDING:
        return topup
    site = settings.SITE_URL.rstrip("/")
    try:
        session = gateway.create_checkout_session(
            amount_minor=amount_minor,
            currency=currency,
            topup_id=topup.pk,
            requester_email=requester.email,
            success_url=f"{site}/?topup={topup.pk}&status=success",
            cancel_url=f"{site}/?topup={topup.pk}&status=cancelled",
            idempotency_key=f"topup-{topup.pk}-checkout",
        )
    except gateway.GatewayTransientError as exc:
        raise DomainError(
            "Stripe is not answering; try again.", code="stripe_unavailable", http_status=503
        ) from exc
    except gateway.GatewayPermanentError as exc:
        raise DomainError(
            f"Stripe refused the top-up: {exc}", code="stripe_error", http_status=502
        ) from exc
    TopUp.objects.filter(pk=topup.pk).update(
        checkout_session_id=session.id, checkout_url=session.url
    )
    topup.refresh_from_db()
    return topup


def topup_complete(*, session: dict[str, Any]) -> TopUp | None:
    """Credit the top-up a paid Checkout Session names (from the verified webhook), once.

    The ledger key `topup-<id>-credit` makes a duplicate, replayed or concurrent delivery a
    no-op. The amount credited is the one Stripe reports as paid; it must match the top-up.
    An `expired` top-up whose payment still completed is credited: the card was charged.
    """
    if session.get("payment_status") != "paid":
        return None
    ref = str(session.get("client_reference_id") or session.get("metadata", {}).get("topup_id"))
    topup = TopUp.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    if topup is None:
        topup = TopUp.objects.filter(checkout_session_id=session.get("id") or "-").first()
    if topup is None:
        raise DomainError(
            f"No top-up for Checkout Session {session.get('id')}.", code="unknown_topup"
        )
    amount, currency = int(session["amount_total"]), normalize_currency(session["currency"])
    if (amount, currency) != (topup.amount_minor, topup.currency):
        raise DomainError(
            f"Checkout Session {session.get('id')} paid {amount} {currency}, top-up {topup.pk} "
            f"asked for {topup.amount_minor} {topup.currency}.",
            code="topup_mismatch",
        )
    clearing = account_get(kind=AccountKind.STRIPE_CLEARING, currency=currency)
    assert clearing is not None
    with transaction.atomic():
        topup = TopUp.objects.select_for_update().get(pk=topup.pk)
        entry = post_entry(
            idempotency_key=f"topup-{topup.pk}-credit",
            kind=EntryKind.TOPUP,
            postings=[
                (clearing, -amount),
                (_requester_account(topup.requester_id, currency), amount),
            ],
            memo=f"Stripe Checkout top-up {topup.pk}",
            reference_type="topup",
            reference_id=topup.pk,
            external_id=str(session.get("id") or ""),
        )
        if topup.status != TopUpStatus.SUCCEEDED:
            TopUp.objects.filter(pk=topup.pk).update(
                status=TopUpStatus.SUCCEEDED,
                entry=entry,
                completed_at=timezone.now(),
                checkout_session_id=topup.checkout_session_id or str(session.get("id") or ""),
            )
    topup.refresh_from_db()
    return topup


def topup_expire(*, session: dict[str, Any]) -> TopUp | None:
    """Mark a pending top-up expired (`checkout.session.expired`); a succeeded one stays."""
    ref = str(session.get("client_reference_id") or "")
    if not ref.isdigit():
        return None
    TopUp.objects.filter(pk=int(ref), status=TopUpStatus.PENDING).update(
        status=TopUpStatus.EXPIRED, completed_at=timezone.now()
    )
    return TopUp.objects.filter(pk=int(ref)).first()

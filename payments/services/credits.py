"""Money into balances other than by Stripe Checkout: bonuses and admin credits."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from marketplace.errors import Conflict, DomainError, NotFound

from ..fees import fee_for
from ..ledger import PLAY_MONEY_CURRENCY, account_get, normalize_currency, post_entry
from ..models import AccountKind, Bonus, EntryKind, JournalEntry
from ._shared import positive_amount, requester_account, revenue_account, worker_account
from .debt import requester_credit, requester_debt_check
from .test_money import play_money_fill


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
    Not enough balance -> insufficient_funds (402) with missing_minor; a requester who owes
    the platform money (card money came back) -> requester_in_debt (402).
    """
    currency = normalize_currency(currency)
    positive_amount(amount_minor)
    if not client_token or len(client_token) > 100:
        raise DomainError(
            "client_token is required (at most 100 characters).", code="invalid_client_token"
        )
    if not reason or not reason.strip():
        raise DomainError("A reason is required for a bonus.", code="reason_required")
    if currency == PLAY_MONEY_CURRENCY:  # the sandbox's balance never runs out
        play_money_fill(requester=requester)
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
    requester_debt_check(requester_id=requester.pk)
    fee = fee_for(amount_minor)
    postings = [
        (requester_account(requester.pk, currency), -(amount_minor + fee)),
        (worker_account(worker.pk, currency), amount_minor),
    ]
    if fee:
        postings.append((revenue_account(currency), fee))
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
    much arrived this way. A requester in debt has the debt paid first (`requester_credit`).
    """
    currency = normalize_currency(currency)
    positive_amount(amount_minor)
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(
            "A reference (invoice or bank transfer) is required.", code="reference_required"
        )
    if not getattr(requester, "is_requester", False):
        raise DomainError(f"{requester} is not a requester.", code="not_a_requester")
    clearing = account_get(kind=AccountKind.ADMIN_CREDIT_CLEARING, currency=currency)
    return requester_credit(
        requester_id=requester.pk,
        currency=currency,
        amount_minor=amount_minor,
        source=clearing,
        idempotency_key=f"credit-{reference}",
        kind=EntryKind.ADMIN_CREDIT,
        memo=f"admin credit {reference}",
        created_by=by,
        reference_type="credit",
        reference_id=reference[:64],
        external_id=reference[:255],
    )

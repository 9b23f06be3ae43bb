"""Test money for local development: "Add test funds" on the balance page.

Where Stripe is not configured (`make run`), a new requester could only be funded by an admin.
In development (DEBUG on, not production settings, no Stripe key) a requester may credit
themselves test money instead. It is its own entry kind (`test_credit`, shown as "Test money
(not real)") against its own clearing account, so it is labelled everywhere it appears and an
auditor can see how much exists. The service refuses it anywhere else: hiding the button is
not the protection.
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from marketplace.errors import DomainError

from .. import stripe_gateway as gateway
from ..ledger import (
    PLAY_MONEY_CURRENCY,
    IdempotencyConflict,
    account_balance,
    account_get,
    normalize_currency,
)
from ..models import AccountKind, EntryKind, JournalEntry
from ._shared import positive_amount
from .debt import requester_credit

#: At most this much per click (minor units): test money is for trying things out.
TEST_FUNDS_MAX_MINOR = 10_000_000


def balance_test_funds_enabled() -> bool:
    """Development only: DEBUG on, not production settings, Stripe not configured."""
    return (
        bool(getattr(settings, "DEBUG", False))
        and not bool(getattr(settings, "PRODUCTION", False))
        and not gateway.is_configured()
    )


def balance_add_test_funds(
    *, requester: User, amount_minor: int, currency: str, client_token: str
) -> JournalEntry:
    """Credit the requester test money (idempotent by client_token: a double click is one
    credit). Refused (`test_funds_unavailable`, 403) outside development."""
    if not balance_test_funds_enabled():
        raise DomainError(
            "Test funds exist only in development (DEBUG on and Stripe not configured).",
            code="test_funds_unavailable",
            http_status=403,
        )
    if not getattr(requester, "is_requester", False):
        raise DomainError(f"{requester} is not a requester.", code="not_a_requester")
    currency = normalize_currency(currency)
    positive_amount(amount_minor)
    if amount_minor > TEST_FUNDS_MAX_MINOR:
        raise DomainError(
            f"At most {TEST_FUNDS_MAX_MINOR} at a time.",
            code="invalid_amount",
            maximum_minor=TEST_FUNDS_MAX_MINOR,
        )
    if not client_token or len(client_token) > 100:
        raise DomainError(
            "client_token is required (at most 100 characters).", code="invalid_client_token"
        )
    clearing = account_get(kind=AccountKind.TEST_FUNDS_CLEARING, currency=currency)
    return requester_credit(
        requester_id=requester.pk,
        currency=currency,
        amount_minor=amount_minor,
        source=clearing,
        idempotency_key=f"test-credit-{requester.pk}-{client_token}",
        kind=EntryKind.TEST_CREDIT,
        memo="TEST MONEY (not real): added on the balance page",
        created_by=requester,
        reference_type="test_credit",
    )


#: MTurk's sandbox showed every requester $10,000.00; play balances are filled up to this.
PLAY_MONEY_BALANCE_MINOR = 1_000_000


def play_money_fill(*, requester: User) -> int:
    """Fill the requester's play-money balance (PLAY_MONEY_CURRENCY) up to
    PLAY_MONEY_BALANCE_MINOR with one `test_credit` entry, and return the balance. Allowed in
    production too, unlike test funds: play money buys only sandbox work and is never paid out.

    Each fill is keyed by how many fills came before, so two at once post one entry and a
    later fill (after spending) is a new one."""
    if not getattr(requester, "is_requester", False):
        raise DomainError(f"{requester} is not a requester.", code="not_a_requester")
    for _ in range(3):
        available = _play_available(requester)
        missing = PLAY_MONEY_BALANCE_MINOR - available
        if missing <= 0:
            return available
        prefix = f"play-money-{requester.pk}-"
        fills = JournalEntry.objects.filter(idempotency_key__startswith=prefix).count()
        try:
            requester_credit(
                requester_id=requester.pk,
                currency=PLAY_MONEY_CURRENCY,
                amount_minor=missing,
                source=account_get(
                    kind=AccountKind.TEST_FUNDS_CLEARING, currency=PLAY_MONEY_CURRENCY
                ),
                idempotency_key=f"{prefix}{fills}",
                kind=EntryKind.TEST_CREDIT,
                memo="PLAY MONEY (sandbox, not real)",
                created_by=requester,
                reference_type="play_money",
            )
        except IdempotencyConflict:  # a concurrent fill took this key: read again
            continue
    return _play_available(requester)


def _play_available(requester: User) -> int:
    account = account_get(
        kind=AccountKind.REQUESTER_AVAILABLE,
        currency=PLAY_MONEY_CURRENCY,
        owner_id=requester.pk,
        create=False,
    )
    return 0 if account is None else account_balance(account)

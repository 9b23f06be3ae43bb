"""Money on the pages, in one place: the currencies the web product offers, the formatter, the
amount form field, and the statement table every money page shows.

Amounts are integers in minor units everywhere behind the pages (see the design's Money
section). The pages offer two-decimal currencies only, so a major unit is exactly 100 minor
units and neither direction needs a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.paginator import Paginator

from payments import selectors
from payments.ledger import PLAY_MONEY_CURRENCY

# The currencies a person can pick on a page, with their symbols. All have two decimals.
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£"}
MINOR_PER_MAJOR = 100
STATEMENT_PAGE_SIZE = 50


def money(amount_minor: int | None, currency: str) -> str:
    """Integer minor units as a price: 5 usd -> "$0.05"; no floats on the way."""
    amount_minor = int(amount_minor or 0)
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), MINOR_PER_MAJOR)
    symbol = SYMBOLS.get(currency.lower())
    if symbol:
        return f"{sign}{symbol}{whole:,}.{cents:02d}"
    if currency.lower() == PLAY_MONEY_CURRENCY:  # the sandbox's: say it is not real
        return f"{sign}{whole:,}.{cents:02d} XTS (play money)"
    return f"{sign}{whole:,}.{cents:02d} {currency.upper()}"


def currency_choices(*, with_symbol: bool = True) -> list[tuple[str, str]]:
    """The offered currencies as form choices: "USD ($)", or just "USD"."""
    return [
        (code, f"{code.upper()} ({symbol})" if with_symbol else code.upper())
        for code, symbol in SYMBOLS.items()
    ]


class AmountField(forms.DecimalField):
    """A price typed in major units ("12.50") that cleans to integer minor units (1250).

    Validation (at most two decimals, the bounds, "required") happens on the Decimal, with
    Django's own messages; only a valid amount is converted, and exactly (Decimal x 100)."""

    def __init__(self, *, min_value: Decimal, max_value: Decimal, **kwargs: Any) -> None:
        super().__init__(min_value=min_value, max_value=max_value, decimal_places=2, **kwargs)

    def clean(self, value: Any) -> int | None:
        amount = super().clean(value)
        if amount is None:
            return None
        return int(amount * MINOR_PER_MAJOR)


def statement_table(*, user_id: int, kinds: list[str], page_number: str | None) -> dict[str, Any]:
    """One page of a user's statement (newest first) for `web/money/_statement.html`: each
    posting with its formatted amount and whether it is a credit, and the page for the pager."""
    postings = selectors.statement(user_id=user_id, kinds=kinds)
    page = Paginator(postings, STATEMENT_PAGE_SIZE).get_page(page_number)
    rows = [
        {"posting": p, "amount": money(p.amount_minor, p.currency), "credit": p.amount_minor > 0}
        for p in page
    ]
    return {"rows": rows, "page": page}

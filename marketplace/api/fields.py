"""Fields shared by the apps' serializers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from payments.ledger import PLAY_MONEY_CURRENCY

# The largest value a PostgreSQL `integer` column holds: every integer the API writes into one
# is bounded by it (a larger one would be a database error, a 500, instead of a 400).
INT32_MAX = 2**31 - 1


def allowed_currencies() -> list[str]:
    return [c.lower() for c in settings.ALLOWED_CURRENCIES]


class CurrencyField(serializers.CharField):
    """A currency the platform is configured for (settings.ALLOWED_CURRENCIES), lower case.
    Checked before anything is written, so a refused currency leaves no ledger account."""

    def __init__(self, *, play_money: bool = False, **kwargs: Any) -> None:
        # Bundles may also be paid in the sandbox's play money (tasks.sandbox); money that
        # moves in or out (top-ups, payouts) never is.
        self.extra_currencies = [PLAY_MONEY_CURRENCY] if play_money else []
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault("help_text", "ISO 4217 code, lower case; one the platform accepts.")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = str(super().to_internal_value(data)).lower()
        allowed = [*allowed_currencies(), *self.extra_currencies]
        if value not in allowed:
            raise serializers.ValidationError(
                f"Unsupported currency; use one of: {', '.join(allowed)}.",
                code="unsupported_currency",
            )
        return value

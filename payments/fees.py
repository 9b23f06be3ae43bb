"""The platform fee: a percent of each reward and bonus, at least a minimum per payment,
charged to the requester on top.

Rounding is ROUND_HALF_UP on each reward separately (integer arithmetic, never floats), so a
bundle's escrow, n x (reward + fee_for(reward)), is exactly what its n approvals draw: nothing
is left over or missing because of rounding.

The minimum (`PLATFORM_MIN_FEE_MINOR`, default 1: MTurk's one cent per assignment or bonus)
keeps tiny rewards from paying nothing: at 20% a 2-cent reward would pay 0.4 -> 0 cents. A
bundle's terms (percent and minimum) are frozen on its escrow account when it is published
(`payments.services.escrow_reserve`), so changing the settings later never reprices it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class FeeTerms:
    """A fee policy: `percent` of the amount (halves up), but at least `minimum_minor`."""

    percent: int
    minimum_minor: int

    def fee_for(self, amount_minor: int) -> int:
        return fee_for(amount_minor, percent=self.percent, minimum=self.minimum_minor)

    def cost_per_judgment(self, reward_minor: int) -> int:
        """What one paid judgment costs the requester: the reward plus its fee."""
        return reward_minor + self.fee_for(reward_minor)

    def effective_percent(self, amount_minor: int) -> float | None:
        """The fee as a percent of the amount, one decimal, for display only (money itself
        never goes through a float); None for a zero amount."""
        if amount_minor <= 0:
            return None
        return round(self.fee_for(amount_minor) * 100 / amount_minor, 1)


def fee_percent() -> int:
    """The configured PLATFORM_FEE_PERCENT (default 20, like MTurk), read at call time."""
    percent = int(getattr(settings, "PLATFORM_FEE_PERCENT", 20))
    if not 0 <= percent <= 100:
        raise ValueError(f"PLATFORM_FEE_PERCENT must be within 0..100, not {percent}")
    return percent


def fee_minimum() -> int:
    """The configured PLATFORM_MIN_FEE_MINOR (default 1, like MTurk's cent), read at call
    time; 0 turns the minimum off."""
    minimum = int(getattr(settings, "PLATFORM_MIN_FEE_MINOR", 1))
    if minimum < 0:
        raise ValueError(f"PLATFORM_MIN_FEE_MINOR must not be negative, not {minimum}")
    return minimum


def fee_terms() -> FeeTerms:
    """Today's fee policy from the settings (what a bundle published now is frozen at)."""
    return FeeTerms(percent=fee_percent(), minimum_minor=fee_minimum())


def fee_for(amount_minor: int, *, percent: int | None = None, minimum: int | None = None) -> int:
    """The fee on one reward or bonus: amount x percent / 100, halves rounded up, but at least
    `minimum` (the settings' values where not given). A zero amount pays no fee.

    `(a * p + 50) // 100` is exact ROUND_HALF_UP for non-negative integers: 5 cents at 10%
    is 0.5 -> 1; 2 cents at 20% is 0.4 -> 0, raised to the minimum (1 by default).
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("amounts are integers in minor units")
    if amount_minor < 0:
        raise ValueError("amount_minor must not be negative")
    if amount_minor == 0:
        return 0
    p = fee_percent() if percent is None else percent
    floor = fee_minimum() if minimum is None else minimum
    return max((amount_minor * p + 50) // 100, floor)

"""The platform fee: a percent of each reward and bonus, charged to the requester on top.

Rounding is ROUND_HALF_UP on each reward separately (integer arithmetic, never floats), so a
bundle's escrow, n x (reward + fee_for(reward)), is exactly what its n approvals draw: nothing
is left over or missing because of rounding.
"""

from __future__ import annotations

from django.conf import settings


def fee_percent() -> int:
    """The configured PLATFORM_FEE_PERCENT (default 20, like MTurk), read at call time."""
    percent = int(getattr(settings, "PLATFORM_FEE_PERCENT", 20))
    if not 0 <= percent <= 100:
        raise ValueError(f"PLATFORM_FEE_PERCENT must be within 0..100, not {percent}")
    return percent


def fee_for(amount_minor: int, *, percent: int | None = None) -> int:
    """The fee on one reward or bonus: amount x percent / 100, halves rounded up.

    `(a * p + 50) // 100` is exact ROUND_HALF_UP for non-negative integers: 5 cents at 10%
    is 0.5 -> 1; 2 cents at 20% is 0.4 -> 0.
    """
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise TypeError("amounts are integers in minor units")
    if amount_minor < 0:
        raise ValueError("amount_minor must not be negative")
    p = fee_percent() if percent is None else percent
    return (amount_minor * p + 50) // 100

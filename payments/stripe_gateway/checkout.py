"""Stripe Checkout for top-ups: a hosted payment page per top-up, credited by the webhook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._core import call_options, client, translated


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


def create_checkout_session(
    *,
    amount_minor: int,
    currency: str,
    topup_id: int | str,
    requester_email: str | None,
    success_url: str,
    cancel_url: str,
    idempotency_key: str,
) -> CheckoutSession:
    """A hosted Checkout page for one top-up. Nothing is credited here: the verified
    ``checkout.session.completed`` webhook (``client_reference_id`` = our top-up id) does."""
    if amount_minor <= 0:
        raise ValueError("amount_minor must be positive")
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": amount_minor,
                    "product_data": {"name": "crowdmarket balance top-up"},
                },
            }
        ],
        "client_reference_id": str(topup_id),
        "metadata": {"topup_id": str(topup_id)},
        "payment_intent_data": {"metadata": {"topup_id": str(topup_id)}},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if requester_email:
        params["customer_email"] = requester_email
    options = call_options(idempotency_key)
    with translated():
        session = client().v1.checkout.sessions.create(params, options)  # type: ignore[arg-type]
    return CheckoutSession(id=session.id, url=session.url or "")

"""Webhook verification: the signed body becomes a plain event dict, or is refused."""

from __future__ import annotations

import json
from typing import Any

import stripe

from ._core import current_config
from .errors import GatewayNotConfigured, WebhookSignatureInvalid


def construct_webhook_event(payload: bytes, sig_header: str | None) -> dict[str, Any]:
    """Verify ``Stripe-Signature`` over the raw body (and its age) and return the event as a
    plain dict. Raises WebhookSignatureInvalid for forged, stale, missing or malformed input,
    GatewayNotConfigured when no webhook secret is set."""
    config = current_config()
    if config.webhook_secret is None:
        raise GatewayNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    if not sig_header:
        raise WebhookSignatureInvalid("missing Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload, sig_header, config.webhook_secret, config.webhook_tolerance
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(exc.user_message or "invalid signature") from exc
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise WebhookSignatureInvalid(f"malformed webhook: {exc}") from exc
    if not isinstance(event, dict) or event.get("object") != "event" or "id" not in event:
        raise WebhookSignatureInvalid("payload is not a Stripe event")
    return event

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
    GatewayNotConfigured when no webhook secret is set.

    Stripe signs connected accounts' events with the Connect endpoint's own secret
    (``STRIPE_CONNECT_WEBHOOK_SECRET``); a delivery is genuine when either secret verifies it,
    so one URL can serve both endpoints."""
    config = current_config()
    if config.webhook_secret is None:
        raise GatewayNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    if not sig_header:
        raise WebhookSignatureInvalid("missing Stripe-Signature header")
    try:
        _verify(payload, sig_header, config.webhook_secrets, config.webhook_tolerance)
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(exc.user_message or "invalid signature") from exc
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise WebhookSignatureInvalid(f"malformed webhook: {exc}") from exc
    if not isinstance(event, dict) or event.get("object") != "event" or "id" not in event:
        raise WebhookSignatureInvalid("payload is not a Stripe event")
    return event


def _verify(payload: bytes, sig_header: str, secrets: tuple[str, ...], tolerance: int) -> None:
    """Pass when one of ``secrets`` verifies the header; otherwise raise the first secret's
    error (a stale or malformed header fails the same way under every secret)."""
    first_error: stripe.SignatureVerificationError | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, sig_header, secret, tolerance)
        except stripe.SignatureVerificationError as exc:
            first_error = first_error or exc
        else:
            return
    if first_error is not None:
        raise first_error

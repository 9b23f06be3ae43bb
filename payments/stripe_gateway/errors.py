"""The gateway's two error families, free of stripe-python types.

Callers decide by family, never by stripe-python's exception classes: transient means retry
later with the same idempotency key; permanent means Stripe did not act, so undo and give up.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error the gateway raises. ``code`` is Stripe's error code when known."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.request_id = request_id


class GatewayNotConfigured(GatewayError):
    """No secret key (or no webhook secret) is configured: use the manual path instead."""


class GatewayTransientError(GatewayError):
    """Retry later with the *same* idempotency key: 5xx, 409, rate limit, network trouble.

    ``outcome_unknown`` is True when Stripe may have executed the request (timeout, dropped
    connection, 5xx): the caller must not undo anything yet; a retry with the same key either
    replays the original result or performs the operation once.
    """

    def __init__(self, message: str, *, outcome_unknown: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.outcome_unknown = outcome_unknown


class GatewayPermanentError(GatewayError):
    """Retrying cannot help: card declined, invalid request, ``balance_insufficient``,
    authentication, or an idempotency key reused with other parameters. Stripe did not
    perform the operation, so the caller may undo its reservation."""


class WebhookSignatureInvalid(GatewayError):
    """The webhook body does not carry a valid, fresh ``Stripe-Signature``: reject with 400."""

"""The only module of crowdmarket that imports ``stripe``.

Why a gateway: the rest of ``payments`` works with plain dataclasses and two error families
(transient: retry later with the same idempotency key; permanent: give up and undo), so the
ledger, Celery tasks and views never depend on stripe-python's objects, exceptions or global
state. Configuration is read when a call is made, never at import time: ``configure()``
overrides (tests, the fake Stripe server) win over Django settings ``STRIPE_SECRET_KEY``,
``STRIPE_WEBHOOK_SECRET``, ``STRIPE_API_BASE`` (None = real Stripe),
``STRIPE_TIMEOUT_SECONDS`` and ``STRIPE_MAX_NETWORK_RETRIES``.

Every write takes an ``idempotency_key`` from the caller, derived from our own row
(``payout-<id>-transfer``). stripe-python would otherwise invent a random key per call, and a
Celery retry is a new call: the same payout would be paid twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import stripe

__all__ = [
    "AccountStatus",
    "BalanceTxn",
    "CheckoutSession",
    "GatewayError",
    "GatewayNotConfigured",
    "GatewayPermanentError",
    "GatewayTransientError",
    "TransferResult",
    "account_status_from_dict",
    "WebhookSignatureInvalid",
    "configure",
    "construct_webhook_event",
    "create_account_link",
    "create_checkout_session",
    "create_express_account",
    "create_transfer",
    "is_configured",
    "list_balance_transactions",
    "reset_configuration",
    "retrieve_account",
    "retrieve_transfer",
    "reverse_transfer",
]

DEFAULT_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_MAX_NETWORK_RETRIES: Final = 2
DEFAULT_WEBHOOK_TOLERANCE_SECONDS: Final = 300

# -- errors -------------------------------------------------------------------------------


class GatewayError(Exception):
    """Base of every error this module raises. ``code`` is Stripe's error code when known."""

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


# -- configuration --------------------------------------------------------------------------


class _Unset:
    """Marks a ``configure()`` argument that was not passed."""


_UNSET: Final = _Unset()
_SETTINGS: Final = {
    "api_key": "STRIPE_SECRET_KEY",
    "webhook_secret": "STRIPE_WEBHOOK_SECRET",
    "api_base": "STRIPE_API_BASE",
    "timeout": "STRIPE_TIMEOUT_SECONDS",
    "max_network_retries": "STRIPE_MAX_NETWORK_RETRIES",
    "webhook_tolerance": "STRIPE_WEBHOOK_TOLERANCE_SECONDS",
}
_overrides: dict[str, Any] = {}
_lock = threading.Lock()
# One client per configuration, reused across calls (requests keeps a pooled session per
# thread). Kept with its HTTP client so reconfiguring can close the old connections.
_clients: dict[tuple[str, str | None, float, int], tuple[stripe.StripeClient, Any]] = {}


@dataclass(frozen=True)
class _Config:
    api_key: str | None
    webhook_secret: str | None
    api_base: str | None
    timeout: float
    max_network_retries: int
    webhook_tolerance: int


def configure(
    *,
    api_key: str | None | _Unset = _UNSET,
    webhook_secret: str | None | _Unset = _UNSET,
    api_base: str | None | _Unset = _UNSET,
    timeout: float | None | _Unset = _UNSET,
    max_network_retries: int | None | _Unset = _UNSET,
    webhook_tolerance: int | None | _Unset = _UNSET,
) -> None:
    """Override settings for this process (tests, the fake Stripe). Omitted = unchanged;
    passing None for a value falls back to Django settings again."""
    given: dict[str, object] = {
        "api_key": api_key,
        "webhook_secret": webhook_secret,
        "api_base": api_base,
        "timeout": timeout,
        "max_network_retries": max_network_retries,
        "webhook_tolerance": webhook_tolerance,
    }
    with _lock:
        for name, value in given.items():
            if isinstance(value, _Unset):
                continue
            if value is None:
                _overrides.pop(name, None)
            else:
                _overrides[name] = value
        _close_clients()


def reset_configuration() -> None:
    """Drop every ``configure()`` override and cached client."""
    with _lock:
        _overrides.clear()
        _close_clients()


def _close_clients() -> None:
    for _client_obj, http_client in _clients.values():
        http_client.close()
    _clients.clear()


def _setting(name: str) -> Any:
    if name in _overrides:
        return _overrides[name]
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:  # used outside Django (a script): overrides only
        return None
    try:
        return getattr(settings, _SETTINGS[name], None)
    except ImproperlyConfigured:  # settings not configured yet: treat as unset
        return None


def _config() -> _Config:
    timeout = _setting("timeout")
    retries = _setting("max_network_retries")
    tolerance = _setting("webhook_tolerance")
    return _Config(
        api_key=_setting("api_key") or None,
        webhook_secret=_setting("webhook_secret") or None,
        api_base=(_setting("api_base") or None),
        timeout=float(timeout) if timeout is not None else DEFAULT_TIMEOUT_SECONDS,
        max_network_retries=int(retries) if retries is not None else DEFAULT_MAX_NETWORK_RETRIES,
        webhook_tolerance=(
            int(tolerance) if tolerance is not None else DEFAULT_WEBHOOK_TOLERANCE_SECONDS
        ),
    )


def is_configured() -> bool:
    """True when a secret key is set; otherwise payouts go to the manual batch."""
    return _config().api_key is not None


def _client() -> stripe.StripeClient:
    config = _config()
    if config.api_key is None:
        raise GatewayNotConfigured("STRIPE_SECRET_KEY is not set")
    cache_key = (config.api_key, config.api_base, config.timeout, config.max_network_retries)
    with _lock:
        cached = _clients.get(cache_key)
        if cached is None:
            http_client = stripe.RequestsClient(timeout=config.timeout)
            client = stripe.StripeClient(
                config.api_key,
                base_addresses={"api": config.api_base} if config.api_base else None,
                max_network_retries=config.max_network_retries,
                http_client=http_client,
            )
            cached = _clients[cache_key] = (client, http_client)
        return cached[0]


def _options(idempotency_key: str) -> dict[str, Any]:
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError("an idempotency key derived from our own row is required")
    return {"idempotency_key": idempotency_key}


# -- error mapping --------------------------------------------------------------------------


def _translate(exc: stripe.StripeError) -> GatewayError:
    """Map stripe-python's exception classes onto transient / permanent."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or exc.code
    kwargs: dict[str, Any] = {
        "code": code,
        "http_status": exc.http_status,
        "request_id": exc.request_id,
    }
    message = exc.user_message or str(exc)
    if isinstance(exc, stripe.APIConnectionError):
        return GatewayTransientError(message, outcome_unknown=True, **kwargs)
    if isinstance(exc, stripe.RateLimitError):
        return GatewayTransientError(message, outcome_unknown=False, **kwargs)
    if isinstance(exc, stripe.IdempotencyError):
        kwargs["code"] = code or "idempotency_error"
        return GatewayPermanentError(message, **kwargs)
    if isinstance(
        exc,
        stripe.CardError
        | stripe.InvalidRequestError
        | stripe.AuthenticationError
        | stripe.PermissionError,
    ):
        return GatewayPermanentError(message, **kwargs)
    if isinstance(exc, stripe.APIError):
        # 409 idempotency_key_in_use: the first attempt is still running; 5xx: unknown.
        unknown = exc.http_status is None or exc.http_status >= 500
        return GatewayTransientError(message, outcome_unknown=unknown, **kwargs)
    return GatewayTransientError(message, outcome_unknown=True, **kwargs)


class _translated:
    """Context manager that re-raises stripe errors as gateway errors (chained)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, stripe.StripeError):
            raise _translate(exc) from exc
        return False


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class AccountStatus:
    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    transfers_capability: str | None
    requirements_due: tuple[str, ...] = ()
    disabled_reason: str | None = None

    @property
    def can_receive_transfers(self) -> bool:
        return self.transfers_capability == "active"


@dataclass(frozen=True)
class TransferResult:
    id: str
    amount: int
    currency: str
    destination: str
    transfer_group: str | None
    amount_reversed: int
    reversed: bool
    balance_transaction: str | None
    created: int
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BalanceTxn:
    id: str
    amount: int
    fee: int
    net: int
    currency: str
    type: str
    source: str | None
    created: int


def _plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as plain data (no stripe types leak to callers)."""
    return obj.to_dict(recursive=True, for_json=True) if obj is not None else {}


def _transfer_result(obj: Any) -> TransferResult:
    data = _plain(obj)
    return TransferResult(
        id=data["id"],
        amount=int(data["amount"]),
        currency=data["currency"],
        destination=data["destination"],
        transfer_group=data.get("transfer_group"),
        amount_reversed=int(data.get("amount_reversed") or 0),
        reversed=bool(data.get("reversed")),
        balance_transaction=data.get("balance_transaction"),
        created=int(data["created"]),
        metadata=dict(data.get("metadata") or {}),
    )


def _timestamp(value: int | datetime) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime bounds must be timezone-aware")
        return int(value.timestamp())
    return int(value)


# -- operations -----------------------------------------------------------------------------


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
    options = _options(idempotency_key)
    with _translated():
        session = _client().v1.checkout.sessions.create(params, options)  # type: ignore[arg-type]
    return CheckoutSession(id=session.id, url=session.url or "")


def create_express_account(
    *, email: str | None, country: str, worker_ref: str, idempotency_key: str
) -> str:
    """Create the worker's Express connected account (transfers capability requested);
    returns its id, which the caller stores before creating an onboarding link."""
    params: dict[str, Any] = {
        "type": "express",
        "country": country.upper(),
        "capabilities": {"transfers": {"requested": True}},
        "metadata": {"worker_ref": worker_ref},
    }
    if email:
        params["email"] = email
    options = _options(idempotency_key)
    with _translated():
        account = _client().v1.accounts.create(params, options)  # type: ignore[arg-type]
    return str(account.id)


def create_account_link(*, account_id: str, refresh_url: str, return_url: str) -> str:
    """A short-lived onboarding URL. Not idempotent on purpose: every call should return a
    fresh link (an expired one is useless), and creating links has no side effects."""
    params = {
        "account": account_id,
        "refresh_url": refresh_url,
        "return_url": return_url,
        "type": "account_onboarding",
    }
    with _translated():
        link = _client().v1.account_links.create(params)  # type: ignore[arg-type]
    return str(link.url)


def retrieve_account(account_id: str) -> AccountStatus:
    """Current onboarding status (the ``account.updated`` webhook carries the same shape)."""
    with _translated():
        account = _client().v1.accounts.retrieve(account_id)
    return account_status_from_dict(_plain(account))


def account_status_from_dict(data: Mapping[str, Any]) -> AccountStatus:
    """Build an AccountStatus from an account object (API response or webhook payload)."""
    requirements = data.get("requirements") or {}
    capabilities = data.get("capabilities") or {}
    return AccountStatus(
        id=str(data["id"]),
        charges_enabled=bool(data.get("charges_enabled")),
        payouts_enabled=bool(data.get("payouts_enabled")),
        details_submitted=bool(data.get("details_submitted")),
        transfers_capability=capabilities.get("transfers"),
        requirements_due=tuple(requirements.get("currently_due") or ()),
        disabled_reason=requirements.get("disabled_reason"),
    )


def create_transfer(
    *,
    amount_minor: int,
    currency: str,
    destination: str,
    transfer_group: str | None,
    idempotency_key: str,
    metadata: Mapping[str, str] | None = None,
) -> TransferResult:
    """Move ``amount_minor`` from the platform balance to a connected account.

    Call it only after the pending payout (holding this key) is committed. On
    ``GatewayTransientError`` retry with the same key and parameters: Stripe replays the
    first outcome, so a lost response never becomes a second transfer.
    """
    if amount_minor <= 0:
        raise ValueError("amount_minor must be positive")
    params: dict[str, Any] = {
        "amount": amount_minor,
        "currency": currency.lower(),
        "destination": destination,
        "metadata": dict(metadata or {}),
    }
    if transfer_group:
        params["transfer_group"] = transfer_group
    options = _options(idempotency_key)
    with _translated():
        transfer = _client().v1.transfers.create(params, options)  # type: ignore[arg-type]
    return _transfer_result(transfer)


def retrieve_transfer(transfer_id: str) -> TransferResult:
    with _translated():
        transfer = _client().v1.transfers.retrieve(transfer_id)
    return _transfer_result(transfer)


def reverse_transfer(
    *, transfer_id: str, amount_minor: int | None = None, idempotency_key: str
) -> TransferResult:
    """Reverse (part of) a transfer; returns the transfer as it stands afterwards."""
    params: dict[str, Any] = {}
    if amount_minor is not None:
        params["amount"] = amount_minor
    options = _options(idempotency_key)
    with _translated():
        client = _client()
        client.v1.transfers.reversals.create(transfer_id, params, options)  # type: ignore[arg-type]
        transfer = client.v1.transfers.retrieve(transfer_id)
    return _transfer_result(transfer)


def list_balance_transactions(
    *, created_gte: int | datetime, created_lt: int | datetime
) -> Iterator[BalanceTxn]:
    """Every balance transaction created in [created_gte, created_lt), newest first, across
    all pages (for the daily reconciliation). Errors surface while iterating."""
    params: dict[str, Any] = {
        "created": {"gte": _timestamp(created_gte), "lt": _timestamp(created_lt)},
        "limit": 100,
    }
    with _translated():
        page = _client().v1.balance_transactions.list(params)  # type: ignore[arg-type]
        for txn in page.auto_paging_iter():
            data = _plain(txn)
            yield BalanceTxn(
                id=data["id"],
                amount=int(data["amount"]),
                fee=int(data["fee"]),
                net=int(data["net"]),
                currency=data["currency"],
                type=data["type"],
                source=data.get("source"),
                created=int(data["created"]),
            )


def construct_webhook_event(payload: bytes, sig_header: str | None) -> dict[str, Any]:
    """Verify ``Stripe-Signature`` over the raw body (and its age) and return the event as a
    plain dict. Raises WebhookSignatureInvalid for forged, stale, missing or malformed input,
    GatewayNotConfigured when no webhook secret is set."""
    config = _config()
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

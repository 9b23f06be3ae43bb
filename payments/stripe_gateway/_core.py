"""Configuration, the cached client and error translation, shared by the gateway's modules.

Configuration is read when a call is made, never at import time: ``configure()`` overrides
(tests, the fake Stripe server) win over Django settings ``STRIPE_SECRET_KEY``,
``STRIPE_WEBHOOK_SECRET``, ``STRIPE_CONNECT_WEBHOOK_SECRET``, ``STRIPE_API_BASE``
(None = real Stripe), ``STRIPE_TIMEOUT_SECONDS`` and ``STRIPE_MAX_NETWORK_RETRIES``. Private to
``payments.stripe_gateway``: the rest of payments uses the package's names.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Final, Literal

import stripe

from .errors import GatewayError, GatewayNotConfigured, GatewayPermanentError, GatewayTransientError

DEFAULT_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_MAX_NETWORK_RETRIES: Final = 2
DEFAULT_WEBHOOK_TOLERANCE_SECONDS: Final = 300

# -- configuration --------------------------------------------------------------------------


class _Unset:
    """Marks a ``configure()`` argument that was not passed."""


_UNSET: Final = _Unset()
_SETTINGS: Final = {
    "api_key": "STRIPE_SECRET_KEY",
    "webhook_secret": "STRIPE_WEBHOOK_SECRET",
    "connect_webhook_secret": "STRIPE_CONNECT_WEBHOOK_SECRET",
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
class Config:
    api_key: str | None
    webhook_secret: str | None
    api_base: str | None
    timeout: float
    max_network_retries: int
    webhook_tolerance: int
    # The Connect endpoint's signing secret (Stripe signs connected accounts' events with it).
    connect_webhook_secret: str | None = None

    @property
    def webhook_secrets(self) -> tuple[str, ...]:
        """Every secret a delivery may be signed with: the platform's, then Connect's."""
        return tuple(s for s in (self.webhook_secret, self.connect_webhook_secret) if s)


def configure(
    *,
    api_key: str | None | _Unset = _UNSET,
    webhook_secret: str | None | _Unset = _UNSET,
    connect_webhook_secret: str | None | _Unset = _UNSET,
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
        "connect_webhook_secret": connect_webhook_secret,
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


def current_config() -> Config:
    timeout = _setting("timeout")
    retries = _setting("max_network_retries")
    tolerance = _setting("webhook_tolerance")
    return Config(
        api_key=_setting("api_key") or None,
        webhook_secret=_setting("webhook_secret") or None,
        connect_webhook_secret=_setting("connect_webhook_secret") or None,
        api_base=(_setting("api_base") or None),
        timeout=float(timeout) if timeout is not None else DEFAULT_TIMEOUT_SECONDS,
        max_network_retries=int(retries) if retries is not None else DEFAULT_MAX_NETWORK_RETRIES,
        webhook_tolerance=(
            int(tolerance) if tolerance is not None else DEFAULT_WEBHOOK_TOLERANCE_SECONDS
        ),
    )


def is_configured() -> bool:
    """True when a secret key is set; otherwise payouts go to the manual batch."""
    return current_config().api_key is not None


def client() -> stripe.StripeClient:
    """The stripe client for the current configuration (cached; raises GatewayNotConfigured)."""
    config = current_config()
    if config.api_key is None:
        raise GatewayNotConfigured("STRIPE_SECRET_KEY is not set")
    cache_key = (config.api_key, config.api_base, config.timeout, config.max_network_retries)
    with _lock:
        cached = _clients.get(cache_key)
        if cached is None:
            http_client = stripe.RequestsClient(timeout=config.timeout)
            stripe_client = stripe.StripeClient(
                config.api_key,
                base_addresses={"api": config.api_base} if config.api_base else None,
                max_network_retries=config.max_network_retries,
                http_client=http_client,
            )
            cached = _clients[cache_key] = (stripe_client, http_client)
        return cached[0]


def call_options(idempotency_key: str) -> dict[str, Any]:
    """Request options carrying the caller's key (never one stripe-python would invent)."""
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError("an idempotency key derived from our own row is required")
    return {"idempotency_key": idempotency_key}


# -- error mapping --------------------------------------------------------------------------


def translate(exc: stripe.StripeError) -> GatewayError:
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


class translated:
    """Context manager that re-raises stripe errors as gateway errors (chained)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if isinstance(exc, stripe.StripeError):
            raise translate(exc) from exc
        return False


def plain(obj: Any) -> dict[str, Any]:
    """A StripeObject as plain data (no stripe types leak to callers)."""
    return obj.to_dict(recursive=True, for_json=True) if obj is not None else {}

"""The only package of crowdmarket that imports ``stripe``; callers use the names below.

Why a gateway: the rest of ``payments`` works with plain dataclasses and two error families
(transient: retry later with the same idempotency key; permanent: give up and undo), so the
ledger, Celery tasks and views never depend on stripe-python's objects, exceptions or global
state. Configuration is read when a call is made, never at import time: ``configure()``
overrides (tests, the fake Stripe server) win over Django settings ``STRIPE_SECRET_KEY``,
``STRIPE_WEBHOOK_SECRET``, ``STRIPE_CONNECT_WEBHOOK_SECRET``, ``STRIPE_API_BASE``
(None = real Stripe), ``STRIPE_TIMEOUT_SECONDS`` and ``STRIPE_MAX_NETWORK_RETRIES``.

Every write takes an ``idempotency_key`` from the caller, derived from our own row
(``payout-<id>-transfer``). stripe-python would otherwise invent a random key per call, and a
Celery retry is a new call: the same payout would be paid twice.

Modules, by job: ``checkout`` (top-ups), ``charges`` (a paid top-up's charge and fee),
``connect`` (workers' Express accounts and transfers),
``balance`` (balance transactions for reconciliation), ``events`` (webhook verification),
``errors``, and ``_core`` (configuration, the cached client, error translation). Call them
through this package (``from payments import stripe_gateway as gateway``): tests replace
``payments.stripe_gateway.<name>``, which only a lookup through the package sees.
"""

from __future__ import annotations

from ._core import (
    DEFAULT_MAX_NETWORK_RETRIES,
    DEFAULT_TIMEOUT_SECONDS,
    DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
    configure,
    is_configured,
    reset_configuration,
)
from .balance import (
    BalanceTxn,
    balance_txn_from_dict,
    list_balance_transactions,
    retrieve_balance_transaction,
)
from .charges import PaymentCharge, retrieve_payment_charge
from .checkout import CheckoutSession, create_checkout_session
from .connect import (
    AccountStatus,
    TransferResult,
    account_status_from_dict,
    create_account_link,
    create_express_account,
    create_transfer,
    list_transfers,
    retrieve_account,
    retrieve_transfer,
    reverse_transfer,
)
from .errors import (
    GatewayError,
    GatewayNotConfigured,
    GatewayPermanentError,
    GatewayTransientError,
    WebhookSignatureInvalid,
)
from .events import construct_webhook_event

__all__ = [
    "DEFAULT_MAX_NETWORK_RETRIES",
    "DEFAULT_TIMEOUT_SECONDS",
    "DEFAULT_WEBHOOK_TOLERANCE_SECONDS",
    "AccountStatus",
    "BalanceTxn",
    "CheckoutSession",
    "GatewayError",
    "GatewayNotConfigured",
    "GatewayPermanentError",
    "GatewayTransientError",
    "PaymentCharge",
    "TransferResult",
    "WebhookSignatureInvalid",
    "account_status_from_dict",
    "balance_txn_from_dict",
    "configure",
    "construct_webhook_event",
    "create_account_link",
    "create_checkout_session",
    "create_express_account",
    "create_transfer",
    "is_configured",
    "list_balance_transactions",
    "list_transfers",
    "reset_configuration",
    "retrieve_account",
    "retrieve_balance_transaction",
    "retrieve_payment_charge",
    "retrieve_transfer",
    "reverse_transfer",
]

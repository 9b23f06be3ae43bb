"""Stripe Connect: workers' Express accounts, onboarding links, and transfers to them.

Every write takes an ``idempotency_key`` from the caller, derived from our own row
(``payout-<id>-transfer``): a Celery retry is a new call, and a key stripe-python invented
per call would pay the same payout twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._core import call_options, client, plain, translated


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


def _transfer_result(obj: Any) -> TransferResult:
    data = plain(obj)
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
    options = call_options(idempotency_key)
    with translated():
        account = client().v1.accounts.create(params, options)  # type: ignore[arg-type]
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
    with translated():
        link = client().v1.account_links.create(params)  # type: ignore[arg-type]
    return str(link.url)


def retrieve_account(account_id: str) -> AccountStatus:
    """Current onboarding status (the ``account.updated`` webhook carries the same shape)."""
    with translated():
        account = client().v1.accounts.retrieve(account_id)
    return account_status_from_dict(plain(account))


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
    options = call_options(idempotency_key)
    with translated():
        transfer = client().v1.transfers.create(params, options)  # type: ignore[arg-type]
    return _transfer_result(transfer)


def list_transfers(*, transfer_group: str) -> list[TransferResult]:
    """Every transfer in one ``transfer_group``, newest first, across all pages.

    A payout's transfers carry ``payout-<id>`` as their group, so this finds the transfer a
    lost response hid once Stripe has forgotten the idempotency key (it keeps keys about
    24 hours): the only way then to know whether the first attempt paid."""
    if not transfer_group:
        raise ValueError("a transfer group is required")
    params: dict[str, Any] = {"transfer_group": transfer_group, "limit": 100}
    with translated():
        page = client().v1.transfers.list(params)  # type: ignore[arg-type]
        return [_transfer_result(t) for t in page.auto_paging_iter()]


def retrieve_transfer(transfer_id: str) -> TransferResult:
    with translated():
        transfer = client().v1.transfers.retrieve(transfer_id)
    return _transfer_result(transfer)


def reverse_transfer(
    *, transfer_id: str, amount_minor: int | None = None, idempotency_key: str
) -> TransferResult:
    """Reverse (part of) a transfer; returns the transfer as it stands afterwards."""
    params: dict[str, Any] = {}
    if amount_minor is not None:
        params["amount"] = amount_minor
    options = call_options(idempotency_key)
    with translated():
        stripe_client = client()
        stripe_client.v1.transfers.reversals.create(transfer_id, params, options)  # type: ignore[arg-type]
        transfer = stripe_client.v1.transfers.retrieve(transfer_id)
    return _transfer_result(transfer)

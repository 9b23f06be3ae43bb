"""Stripe's balance transactions, read for the daily reconciliation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._core import client, plain, translated


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
    #: Stripe's accounting class (``charge``, ``refund``, ``dispute``, ``dispute_reversal``,
    #: ``payout``, ``fee`` ...): tells a dispute's ``adjustment`` from any other.
    reporting_category: str = ""


def _txn(data: dict[str, Any]) -> BalanceTxn:
    source = data.get("source")
    if isinstance(source, dict):  # expanded
        source = source.get("id")
    return BalanceTxn(
        id=data["id"],
        amount=int(data["amount"]),
        fee=int(data["fee"]),
        net=int(data["net"]),
        currency=data["currency"],
        type=data["type"],
        source=source,
        created=int(data["created"]),
        reporting_category=str(data.get("reporting_category") or ""),
    )


def _timestamp(value: int | datetime) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("datetime bounds must be timezone-aware")
        return int(value.timestamp())
    return int(value)


def list_balance_transactions(
    *, created_gte: int | datetime, created_lt: int | datetime
) -> Iterator[BalanceTxn]:
    """Every balance transaction created in [created_gte, created_lt), newest first, across
    all pages (for the daily reconciliation). Errors surface while iterating."""
    params: dict[str, Any] = {
        "created": {"gte": _timestamp(created_gte), "lt": _timestamp(created_lt)},
        "limit": 100,
    }
    with translated():
        page = client().v1.balance_transactions.list(params)  # type: ignore[arg-type]
        for txn in page.auto_paging_iter():
            yield _txn(plain(txn))


def retrieve_balance_transaction(transaction_id: str) -> BalanceTxn:
    """One balance transaction (an operator books an adjustment by its id)."""
    with translated():
        txn = client().v1.balance_transactions.retrieve(transaction_id)
    return _txn(plain(txn))


def balance_txn_from_dict(data: dict[str, Any]) -> BalanceTxn:
    """A BalanceTxn from an embedded balance transaction (a dispute's, in a webhook)."""
    return _txn(data)

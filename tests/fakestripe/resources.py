"""Stripe resources held by the fake: their state and the v1 endpoint handlers.

Objects are plain dicts shaped like Stripe's (``id``, ``object``, ``created``, ``livemode``
where Stripe has it, ...), stored in insertion-ordered dicts that tests may read directly
(``fake.transfers[tr_id]["amount"]``). Money movement is modelled only as far as our app
needs it: one platform balance per currency (available funds only), a balance transaction for
every charge, transfer and reversal, and events for the state changes our webhooks handle.
All mutation happens under ``self.lock`` (an ``RLock``) so the threaded server stays
consistent; callers read snapshots under the same lock if they race with requests.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from .cards import CardsMixin
from .validation import (
    API_VERSION,
    ApiError,
    Obj,
    Params,
    balance_insufficient,
    bool_param,
    created_filter,
    currency_param,
    int_param,
    metadata_param,
    missing,
    no_such,
    paginate,
    string_param,
    stripe_card_fee,
)

_DEFAULT_CURRENCY = {"US": "usd", "GB": "gbp", "CA": "cad", "AU": "aud", "JP": "jpy"}
_EURO = {"DE", "FR", "NL", "IE", "ES", "IT", "BE", "AT", "PT", "FI", "LU"}


class StripeState(CardsMixin):
    """All objects of one fake Stripe platform account, and the v1 endpoint handlers."""

    def __init__(
        self,
        *,
        balance: dict[str, int] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.checkout_sessions: dict[str, Obj] = {}
        self.checkout_line_items: dict[str, list[Obj]] = {}
        self.accounts: dict[str, Obj] = {}
        self.account_links: list[Obj] = []
        self.transfers: dict[str, Obj] = {}
        self.reversals: dict[str, Obj] = {}
        self.balance_transactions: dict[str, Obj] = {}
        self.events: dict[str, Obj] = {}
        self.payouts: dict[str, Obj] = {}
        #: Connected accounts that disconnected from the platform: invisible to it afterwards.
        self.deauthorized: set[str] = set()
        # Platform available balance per currency. Default: $1,000,000.00 so payout tests
        # need no funding step; set it lower to exercise balance_insufficient.
        self.balance: dict[str, int] = dict(balance if balance is not None else {"usd": 10**8})
        self.charge_fee: Callable[[int, str], int] = stripe_card_fee
        # Real Stripe refuses transfers to accounts whose `transfers` capability is inactive.
        self.enforce_capabilities = True
        self._clock = clock or time.time
        self._clock_offset = 0
        self._seq = itertools.count(1)
        self._undelivered: list[str] = []
        self._init_cards()

    # -- ids, time and events -------------------------------------------------------------
    def now(self) -> int:
        return int(self._clock()) + self._clock_offset

    def advance_clock(self, seconds: int) -> None:
        """Move the fake's clock (``created`` stamps); negative values go back in time."""
        with self.lock:
            self._clock_offset += seconds

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_F{next(self._seq):014d}"

    def _emit(
        self,
        type_: str,
        obj: Obj,
        *,
        previous: Obj | None = None,
        account: str | None = None,
        ctx: dict[str, Any] | None = None,
    ) -> Obj:
        data: Obj = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = previous
        event: Obj = {
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {
                "id": (ctx or {}).get("request_id"),
                "idempotency_key": (ctx or {}).get("idempotency_key"),
            },
            "type": type_,
        }
        if account:
            event["account"] = account
        self.events[event["id"]] = event
        self._undelivered.append(event["id"])
        return event

    def _balance_txn(
        self,
        *,
        amount: int,
        currency: str,
        type_: str,
        source: str,
        fee: int = 0,
        category: str,
        description: str | None = None,
    ) -> Obj:
        created = self.now()
        txn: Obj = {
            "id": self.new_id("txn"),
            "object": "balance_transaction",
            "amount": amount,
            "available_on": created,
            "created": created,
            "currency": currency,
            "description": description,
            "exchange_rate": None,
            "fee": fee,
            "fee_details": (
                [
                    {
                        "amount": fee,
                        "application": None,
                        "currency": currency,
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                    }
                ]
                if fee
                else []
            ),
            "net": amount - fee,
            "reporting_category": category,
            "source": source,
            "status": "available",
            "type": type_,
        }
        self.balance_transactions[txn["id"]] = txn
        self.balance[currency] = self.balance.get(currency, 0) + amount - fee
        return txn

    # -- Checkout Sessions -----------------------------------------------------------------
    def create_checkout_session(self, params: Params, ctx: dict[str, Any]) -> Obj:
        mode = string_param(params, "mode", required=True)
        if mode != "payment":
            raise ApiError(400, "The fake only supports mode=payment.", param="mode")
        success_url = string_param(params, "success_url", required=True)
        raw_items = params.get("line_items")
        if not isinstance(raw_items, list) or not raw_items:
            raise missing("line_items")
        items: list[Obj] = []
        currency: str | None = None
        total = 0
        for i, raw in enumerate(raw_items):
            prefix = f"line_items[{i}]"
            if not isinstance(raw, dict) or not isinstance(raw.get("price_data"), dict):
                raise ApiError(
                    400,
                    "The fake needs price_data on every line item.",
                    param=f"{prefix}[price_data]",
                )
            price = raw["price_data"]
            unit = int_param(
                price.get("unit_amount"), f"{prefix}[price_data][unit_amount]", minimum=0
            )
            quantity = int_param(raw.get("quantity", "1"), f"{prefix}[quantity]", minimum=1)
            item_currency = currency_param(price)
            if currency is not None and item_currency != currency:
                raise ApiError(
                    400,
                    "All line items must use the same currency.",
                    param=f"{prefix}[price_data][currency]",
                )
            currency = item_currency
            product = price.get("product_data") or {}
            items.append(
                {
                    "object": "item",
                    "amount_total": unit * quantity,
                    "currency": item_currency,
                    "quantity": quantity,
                    "description": product.get("name") if isinstance(product, dict) else None,
                    "price": {"unit_amount": unit},
                }
            )
            total += unit * quantity
        reference = string_param(params, "client_reference_id")
        if reference is not None and len(reference) > 200:
            raise ApiError(400, "client_reference_id is too long.", param="client_reference_id")
        created = self.now()
        session_id = self.new_id("cs_test")
        session: Obj = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": string_param(params, "cancel_url"),
            "client_reference_id": reference,
            "created": created,
            "currency": currency,
            "customer": None,
            "customer_details": None,
            "customer_email": string_param(params, "customer_email"),
            "expires_at": created + 24 * 3600,
            "livemode": False,
            "metadata": metadata_param(params),
            "mode": mode,
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": success_url,
            "ui_mode": "hosted",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.checkout_sessions[session_id] = session
        self.checkout_line_items[session_id] = items
        payment_data = params.get("payment_intent_data") or {}
        self.checkout_payment_metadata[session_id] = metadata_param(
            payment_data if isinstance(payment_data, dict) else {}
        )
        return session

    def _session(self, session_id: str) -> Obj:
        if session_id not in self.checkout_sessions:
            raise no_such("checkout.session", session_id)
        return self.checkout_sessions[session_id]

    def retrieve_checkout_session(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._session(id)

    def list_checkout_sessions(self, params: Params, ctx: dict[str, Any]) -> Obj:
        created_ok = created_filter(params)
        items = [s for s in reversed(self.checkout_sessions.values()) if created_ok(s["created"])]
        return paginate(items, params, "/v1/checkout/sessions", "checkout.session")

    def expire_checkout_session_api(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._expire_session(id, ctx)[0]

    def _expire_session(self, session_id: str, ctx: dict[str, Any] | None) -> tuple[Obj, Obj]:
        """Expire an open session; return (session, checkout.session.expired event)."""
        session = self._session(session_id)
        if session["status"] != "open":
            raise ApiError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be '
                f'expired. This session has a status of "{session["status"]}".',
            )
        session["status"] = "expired"
        session["url"] = None
        return session, self._emit("checkout.session.expired", session, ctx=ctx)

    def _complete_session(self, session_id: str) -> Obj:
        session = self._session(session_id)
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        intent = self._pay(
            amount=session["amount_total"],
            currency=session["currency"],
            metadata=self.checkout_payment_metadata.get(session_id, {}),
            email=session["customer_email"],
        )
        session.update(
            status="complete",
            payment_status="paid",
            payment_intent=intent["id"],
            url=None,
            customer_details={"email": session["customer_email"], "name": None},
        )
        return self._emit("checkout.session.completed", session)

    # -- Accounts and Account Links ---------------------------------------------------------
    def create_account(self, params: Params, ctx: dict[str, Any]) -> Obj:
        account_type = string_param(params, "type") or "standard"
        if account_type not in ("express", "standard", "custom"):
            raise ApiError(400, f"Invalid type: {account_type}", param="type")
        country = (string_param(params, "country") or "US").upper()
        capabilities: Obj = {}
        raw_caps = params.get("capabilities") or {}
        if not isinstance(raw_caps, dict):
            raise ApiError(400, "Invalid object", param="capabilities")
        for name, spec in raw_caps.items():
            requested = spec.get("requested") if isinstance(spec, dict) else None
            if requested is not None and bool_param(requested, f"capabilities[{name}][requested]"):
                capabilities[name] = "inactive"
        default_currency = _DEFAULT_CURRENCY.get(country, "eur" if country in _EURO else "usd")
        account: Obj = {
            "id": self.new_id("acct"),
            "object": "account",
            "business_type": string_param(params, "business_type"),
            "capabilities": capabilities,
            "charges_enabled": False,
            "country": country,
            "created": self.now(),
            "default_currency": default_currency,
            "details_submitted": False,
            "email": string_param(params, "email"),
            "metadata": metadata_param(params),
            "payouts_enabled": False,
            "requirements": {
                "currently_due": ["external_account", "tos_acceptance.date", "tos_acceptance.ip"],
                "disabled_reason": "requirements.past_due",
                "eventually_due": ["external_account"],
                "past_due": ["external_account"],
            },
            "type": account_type,
        }
        self.accounts[account["id"]] = account
        return account

    def _account(self, account_id: str, param: str = "id", status: int = 404) -> Obj:
        if account_id not in self.accounts:
            raise no_such("account", account_id, param=param, status=status)
        return self.accounts[account_id]

    def retrieve_account(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._account(id)

    def list_accounts(self, params: Params, ctx: dict[str, Any]) -> Obj:
        created_ok = created_filter(params)
        items = [a for a in reversed(self.accounts.values()) if created_ok(a["created"])]
        return paginate(items, params, "/v1/accounts", "account")

    def _set_account_status(self, account_id: str, changes: Obj) -> Obj:
        """Apply status changes and emit ``account.updated``; return the event."""
        previous = self._apply_account_status(account_id, changes)
        return self._emit(
            "account.updated", self.accounts[account_id], previous=previous, account=account_id
        )

    def _apply_account_status(self, account_id: str, changes: Obj) -> Obj:
        """Apply status changes (None = unchanged); return Stripe's ``previous_attributes``."""
        account = self._account(account_id)
        previous: Obj = {}
        for field, value in changes.items():
            if value is not None and account[field] != value:
                previous[field] = copy.deepcopy(account[field])
                account[field] = value
        if "payouts_enabled" in previous or "charges_enabled" in previous:
            enabled = account["payouts_enabled"] or account["charges_enabled"]
            caps = dict.fromkeys(account["capabilities"], "active" if enabled else "inactive")
            if caps != account["capabilities"]:
                previous["capabilities"] = account["capabilities"]
                account["capabilities"] = caps
            previous["requirements"] = account["requirements"]
            due = [] if account["payouts_enabled"] else ["external_account"]
            account["requirements"] = {
                "currently_due": due,
                "eventually_due": due,
                "past_due": due,
                "disabled_reason": None if account["payouts_enabled"] else "requirements.past_due",
            }
        return previous

    def _set_requirements(
        self, account_id: str, currently_due: list[str], disabled_reason: str | None
    ) -> Obj:
        """New KYC requirements; a ``disabled_reason`` disables the account (charges, payouts
        and its capabilities) as Stripe does. Emits ``account.updated``; returns the event."""
        account = self._account(account_id)
        previous: Obj = {"requirements": copy.deepcopy(account["requirements"])}
        account["requirements"] = {
            "currently_due": list(currently_due),
            "eventually_due": list(currently_due),
            "past_due": list(currently_due) if disabled_reason else [],
            "disabled_reason": disabled_reason,
        }
        if disabled_reason:
            for field in ("charges_enabled", "payouts_enabled"):
                if account[field]:
                    previous[field] = True
                    account[field] = False
            caps = dict.fromkeys(account["capabilities"], "inactive")
            if caps != account["capabilities"]:
                previous["capabilities"] = account["capabilities"]
                account["capabilities"] = caps
        return self._emit("account.updated", account, previous=previous, account=account_id)

    def _deauthorize(self, account_id: str) -> Obj:
        """The account disconnected from the platform: ``account.application.deauthorized``
        (a Connect event whose object is our platform's application); afterwards the platform
        no longer sees it, so a transfer to it is refused."""
        self._account(account_id)
        self.deauthorized.add(account_id)
        application: Obj = {"id": "ca_Ffakestripeplatform", "object": "application", "name": None}
        return self._emit("account.application.deauthorized", application, account=account_id)

    def create_account_link(self, params: Params, ctx: dict[str, Any]) -> Obj:
        account_id = string_param(params, "account", required=True) or ""
        self._account(account_id, param="account", status=400)
        link_type = string_param(params, "type", required=True)
        if link_type not in ("account_onboarding", "account_update"):
            raise ApiError(400, f"Invalid type: {link_type}", param="type")
        refresh_url = string_param(params, "refresh_url", required=True)
        return_url = string_param(params, "return_url", required=True)
        created = self.now()
        link: Obj = {
            "object": "account_link",
            "created": created,
            "expires_at": created + 300,
            "url": f"https://connect.stripe.com/setup/e/{account_id}/{self.new_id('al')[3:]}",
        }
        self.account_links.append(
            {
                **link,
                "account": account_id,
                "type": link_type,
                "refresh_url": refresh_url,
                "return_url": return_url,
            }
        )
        return link

    # -- Transfers and reversals --------------------------------------------------------------
    def create_transfer(self, params: Params, ctx: dict[str, Any]) -> Obj:
        if params.get("amount") in (None, ""):
            raise missing("amount")
        amount = int_param(params["amount"], "amount", minimum=1)
        currency = currency_param(params)
        destination = string_param(params, "destination", required=True) or ""
        if destination not in self.accounts or destination in self.deauthorized:
            raise ApiError(
                400,
                f"No such destination: '{destination}'",
                code="resource_missing",
                param="destination",
            )
        if self.enforce_capabilities and (
            self.accounts[destination]["capabilities"].get("transfers") != "active"
        ):
            raise ApiError(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer",
                param="destination",
            )
        metadata = metadata_param(params)
        if self.balance.get(currency, 0) < amount:
            raise balance_insufficient()
        transfer_id = self.new_id("tr")
        txn = self._balance_txn(
            amount=-amount,
            currency=currency,
            type_="transfer",
            source=transfer_id,
            category="transfer",
        )
        transfer: Obj = {
            "id": transfer_id,
            "object": "transfer",
            "amount": amount,
            "amount_reversed": 0,
            "balance_transaction": txn["id"],
            "created": txn["created"],
            "currency": currency,
            "description": string_param(params, "description"),
            "destination": destination,
            "destination_payment": self.new_id("py"),
            "livemode": False,
            "metadata": metadata,
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": string_param(params, "source_transaction"),
            "source_type": "card",
            "transfer_group": string_param(params, "transfer_group"),
        }
        self.transfers[transfer_id] = transfer
        self._emit("transfer.created", transfer, ctx=ctx)
        return transfer

    def _transfer(self, transfer_id: str) -> Obj:
        if transfer_id not in self.transfers:
            raise no_such("transfer", transfer_id)
        return self.transfers[transfer_id]

    def retrieve_transfer(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._transfer(id)

    def update_transfer(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        transfer = self._transfer(id)
        transfer["metadata"] = metadata_param(params, transfer["metadata"])
        if "description" in params:
            transfer["description"] = string_param(params, "description")
        self._emit("transfer.updated", transfer, ctx=ctx)
        return transfer

    def list_transfers(self, params: Params, ctx: dict[str, Any]) -> Obj:
        created_ok = created_filter(params)
        destination = string_param(params, "destination")
        group = string_param(params, "transfer_group")
        items = [
            t
            for t in reversed(self.transfers.values())
            if created_ok(t["created"])
            and (destination is None or t["destination"] == destination)
            and (group is None or t["transfer_group"] == group)
        ]
        return paginate(items, params, "/v1/transfers", "transfer")

    def _reverse(
        self, transfer_id: str, params: Params, ctx: dict[str, Any] | None
    ) -> tuple[Obj, Obj]:
        """Reverse (part of) a transfer; return (reversal, transfer.reversed event)."""
        transfer = self._transfer(transfer_id)
        remaining = transfer["amount"] - transfer["amount_reversed"]
        amount = remaining
        if params.get("amount") not in (None, ""):
            amount = int_param(params["amount"], "amount", minimum=1)
        if amount > remaining or remaining == 0:
            raise ApiError(
                400,
                f"Transfer {transfer_id} has only {remaining} left to reverse.",
                code="amount_too_large",
                param="amount",
            )
        reversal_id = self.new_id("trr")
        txn = self._balance_txn(
            amount=amount,
            currency=transfer["currency"],
            type_="transfer_refund",
            source=reversal_id,
            category="transfer_reversal",
        )
        reversal: Obj = {
            "id": reversal_id,
            "object": "transfer_reversal",
            "amount": amount,
            "balance_transaction": txn["id"],
            "created": txn["created"],
            "currency": transfer["currency"],
            "destination_payment_refund": self.new_id("pyr"),
            "metadata": metadata_param(params),
            "source_refund": None,
            "transfer": transfer_id,
        }
        self.reversals[reversal_id] = reversal
        previous = {
            "amount_reversed": transfer["amount_reversed"],
            "reversed": transfer["reversed"],
        }
        transfer["amount_reversed"] += amount
        transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
        embedded = transfer["reversals"]
        embedded["data"] = [reversal, *embedded["data"]][:10]
        embedded["total_count"] += 1
        embedded["has_more"] = embedded["total_count"] > 10
        return reversal, self._emit("transfer.reversed", transfer, previous=previous, ctx=ctx)

    def create_reversal(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._reverse(id, params, ctx)[0]

    def list_reversals(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        self._transfer(id)
        items = [r for r in reversed(self.reversals.values()) if r["transfer"] == id]
        return paginate(items, params, f"/v1/transfers/{id}/reversals", "transfer_reversal")

    def retrieve_reversal(
        self,
        params: Params,
        ctx: dict[str, Any],
        id: str,
        rid: str,
    ) -> Obj:
        self._transfer(id)
        reversal = self.reversals.get(rid)
        if reversal is None or reversal["transfer"] != id:
            raise no_such("transfer_reversal", rid)
        return reversal

    # -- Balance, balance transactions, events ------------------------------------------------
    def retrieve_balance(self, params: Params, ctx: dict[str, Any]) -> Obj:
        currencies = sorted(self.balance) or ["usd"]
        return {
            "object": "balance",
            "available": [
                {
                    "amount": self.balance.get(c, 0),
                    "currency": c,
                    "source_types": {"card": self.balance.get(c, 0)},
                }
                for c in currencies
            ],
            "pending": [
                {"amount": 0, "currency": c, "source_types": {"card": 0}} for c in currencies
            ],
            "livemode": False,
        }

    def list_balance_transactions(self, params: Params, ctx: dict[str, Any]) -> Obj:
        created_ok = created_filter(params)
        wanted = {name: string_param(params, name) for name in ("type", "source", "currency")}
        items = [
            t
            for t in reversed(self.balance_transactions.values())
            if created_ok(t["created"]) and all(v is None or t[k] == v for k, v in wanted.items())
        ]
        return paginate(items, params, "/v1/balance_transactions", "balance_transaction")

    def retrieve_balance_transaction(
        self,
        params: Params,
        ctx: dict[str, Any],
        id: str,
    ) -> Obj:
        if id not in self.balance_transactions:
            raise no_such("balance transaction", id)
        return self.balance_transactions[id]

    def list_events(self, params: Params, ctx: dict[str, Any]) -> Obj:
        created_ok = created_filter(params)
        type_ = string_param(params, "type")
        types = params.get("types")
        if types is not None and not isinstance(types, list):
            raise ApiError(400, "Invalid array", param="types")
        items = [
            e
            for e in reversed(self.events.values())
            if created_ok(e["created"])
            and (type_ is None or e["type"] == type_)
            and (types is None or e["type"] in types)
        ]
        return paginate(items, params, "/v1/events", "event")

    def retrieve_event(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        if id not in self.events:
            raise no_such("event", id)
        return self.events[id]

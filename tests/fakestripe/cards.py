"""Card money of the fake: PaymentIntents, Charges, Refunds, Disputes, the platform's own
payouts and Stripe's adjustments, plus ``expand``.

A paid Checkout Session makes a PaymentIntent whose ``latest_charge`` is a Charge with a
``charge`` balance transaction (Stripe's processing fee in ``fee``), as Stripe does. Money
coming back is modelled the way Stripe reports it:

* a refund (from the dashboard) is a Refund with a ``refund`` balance transaction (negative,
  no fee), the Charge's cumulative ``amount_refunded`` grows and ``charge.refunded`` carries
  the Charge;
* a dispute withdraws the disputed amount plus Stripe's dispute fee (an ``adjustment`` with
  ``reporting_category`` ``dispute``; ``charge.dispute.created`` then
  ``charge.dispute.funds_withdrawn``); a won dispute reinstates the amount (``dispute_reversal``;
  ``charge.dispute.funds_reinstated`` then ``charge.dispute.closed``), a lost one only closes.
  Every dispute event carries the Dispute with all its ``balance_transactions`` so far;
* a platform payout to the bank is a ``payout`` balance transaction (``payout.created``, then
  ``payout.paid`` or ``payout.failed`` with a ``payout_failure`` transaction);
* an adjustment is a balance transaction with no event (Stripe posts them silently).

Mixed into ``StripeState``; everything runs under its lock.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .validation import ApiError, Obj, Params, no_such

if TYPE_CHECKING:
    from collections.abc import Callable

#: Stripe's US dispute fee (minor units), withdrawn with the disputed amount.
DISPUTE_FEE = 1500

_KINDS = {
    "pi": ("payment_intents", "payment_intent"),
    "ch": ("charges", "charge"),
    "re": ("refunds", "refund"),
    "dp": ("disputes", "dispute"),
    "txn": ("balance_transactions", "balance transaction"),
    "tr": ("transfers", "transfer"),
    "acct": ("accounts", "account"),
    "po": ("payouts", "payout"),
}


class CardsMixin:
    """State and handlers for card payments and what comes back from them."""

    if TYPE_CHECKING:  # provided by StripeState
        balance: dict[str, int]
        balance_transactions: dict[str, Obj]
        payouts: dict[str, Obj]
        charge_fee: Callable[[int, str], int]

        def now(self) -> int: ...
        def new_id(self, prefix: str) -> str: ...
        def _emit(self, type_: str, obj: Obj, **kwargs: Any) -> Obj: ...
        def _balance_txn(self, **kwargs: Any) -> Obj: ...

    def _init_cards(self) -> None:
        self.payment_intents: dict[str, Obj] = {}
        self.charges: dict[str, Obj] = {}
        self.refunds: dict[str, Obj] = {}
        self.disputes: dict[str, Obj] = {}
        #: ``payment_intent_data[metadata]`` of each Checkout Session, copied onto its payment.
        self.checkout_payment_metadata: dict[str, dict[str, str]] = {}
        #: Stripe's dispute fee, withdrawn with a dispute; set to 0 to model a region without.
        self.dispute_fee = DISPUTE_FEE
        #: Whether a won dispute also returns the dispute fee (negative fee on reinstatement).
        self.dispute_fee_returned_when_won = False

    # -- a paid Checkout Session -------------------------------------------------------------
    def _pay(
        self, *, amount: int, currency: str, metadata: dict[str, str], email: str | None
    ) -> Obj:
        """Create the succeeded PaymentIntent and its Charge (with its fee); return the PI."""
        created = self.now()
        pi_id, charge_id = self.new_id("pi"), self.new_id("ch")
        txn = self._balance_txn(
            amount=amount,
            currency=currency,
            type_="charge",
            source=charge_id,
            fee=self.charge_fee(amount, currency),
            category="charge",
            description="Checkout payment",
        )
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "balance_transaction": txn["id"],
            "billing_details": {"email": email, "name": None},
            "captured": True,
            "created": created,
            "currency": currency,
            "customer": None,
            "description": None,
            "disputed": False,
            "livemode": False,
            "metadata": dict(metadata),
            "outcome": {"network_status": "approved_by_network", "type": "authorized"},
            "paid": True,
            "payment_intent": pi_id,
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
            "receipt_email": email,
            "refunded": False,
            "status": "succeeded",
            "transfer_group": None,
        }
        self.payment_intents[pi_id] = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "capture_method": "automatic_async",
            "created": created,
            "currency": currency,
            "customer": None,
            "latest_charge": charge_id,
            "livemode": False,
            "metadata": dict(metadata),
            "payment_method_types": ["card"],
            "status": "succeeded",
        }
        return self.payment_intents[pi_id]

    # -- retrieve endpoints --------------------------------------------------------------------
    def _get(self, store: str, kind: str, object_id: str) -> Obj:
        records: dict[str, Obj] = getattr(self, store)
        if object_id not in records:
            raise no_such(kind, object_id)
        return records[object_id]

    def retrieve_payment_intent(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._get("payment_intents", "payment_intent", id)

    def retrieve_charge(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._get("charges", "charge", id)

    def retrieve_refund(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._get("refunds", "refund", id)

    def retrieve_dispute(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._get("disputes", "dispute", id)

    def retrieve_payout(self, params: Params, ctx: dict[str, Any], id: str) -> Obj:
        return self._get("payouts", "payout", id)

    # -- expand ----------------------------------------------------------------------------------
    def _lookup(self, object_id: str) -> Obj | None:
        prefix = object_id.rsplit("_F", 1)[0]
        store = _KINDS.get(prefix)
        return getattr(self, store[0]).get(object_id) if store else None

    def expand(self, obj: Obj, paths: Any) -> Obj:
        """Replace ids named by ``expand[]`` dotted paths with their objects (a copy), like
        Stripe; a path that names no expandable id is a 400."""
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ApiError(400, "Invalid array", param="expand")
        result = copy.deepcopy(obj)
        for path in paths:
            self._expand_path(result, path.split("."), path)
        return result

    def _expand_path(self, node: Obj, parts: list[str], path: str) -> None:
        head, rest = parts[0], parts[1:]
        if head == "data" and isinstance(node.get("data"), list) and rest:  # a list object
            for item in node["data"]:
                self._expand_path(item, rest, path)
            return
        value = node.get(head) if isinstance(node, dict) else None
        if isinstance(value, str):
            found = self._lookup(value)
            if found is None:
                raise ApiError(400, f"This property cannot be expanded ({head}).", param="expand")
            node[head] = value = copy.deepcopy(found)
        elif not isinstance(value, dict):
            if value is None and head in node:
                return  # a null expandable stays null, as at Stripe
            raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        if rest:
            self._expand_path(value, rest, path)

    # -- refunds ----------------------------------------------------------------------------------
    def _refund(self, charge_id: str, amount: int | None, reason: str | None) -> list[Obj]:
        charge = self._get("charges", "charge", charge_id)
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = remaining if amount is None else amount
        if amount <= 0 or amount > remaining:
            raise ApiError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining})",
                param="amount",
            )
        refund_id = self.new_id("re")
        txn = self._balance_txn(
            amount=-amount,
            currency=charge["currency"],
            type_="refund",
            source=refund_id,
            category="refund",
            description="REFUND FOR CHARGE",
        )
        self.refunds[refund_id] = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": txn["id"],
            "charge": charge_id,
            "created": txn["created"],
            "currency": charge["currency"],
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "succeeded",
        }
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        return [self._emit("charge.refunded", charge, previous=previous)]

    # -- disputes ---------------------------------------------------------------------------------
    def _dispute(self, charge_id: str, amount: int | None, reason: str) -> list[Obj]:
        charge = self._get("charges", "charge", charge_id)
        if charge["disputed"]:
            raise ValueError(f"charge {charge_id} is already disputed")
        amount = charge["amount"] if amount is None else amount
        dispute_id = self.new_id("dp")
        txn = self._balance_txn(
            amount=-amount,
            currency=charge["currency"],
            type_="adjustment",
            source=dispute_id,
            fee=self.dispute_fee,
            category="dispute",
            description=f"Chargeback withdrawal for {charge_id}",
        )
        if self.dispute_fee:
            txn["fee_details"][0]["description"] = "Dispute fee"
        created = txn["created"]
        dispute: Obj = {
            "id": dispute_id,
            "object": "dispute",
            "amount": amount,
            "balance_transactions": [copy.deepcopy(txn)],
            "charge": charge_id,
            "created": created,
            "currency": charge["currency"],
            "evidence": {"customer_email_address": None, "uncategorized_text": None},
            "evidence_details": {
                "due_by": created + 7 * 86400,
                "has_evidence": False,
                "past_due": False,
                "submission_count": 0,
            },
            "is_charge_refundable": False,
            "livemode": False,
            "metadata": {},
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "status": "needs_response",
        }
        self.disputes[dispute_id] = dispute
        charge["disputed"] = True
        return [
            self._emit("charge.dispute.created", dispute),
            self._emit("charge.dispute.funds_withdrawn", dispute),
        ]

    def _close_dispute(self, dispute_id: str, won: bool) -> list[Obj]:
        dispute = self._get("disputes", "dispute", dispute_id)
        if dispute["status"] in ("won", "lost"):
            raise ValueError(f"dispute {dispute_id} is already {dispute['status']}")
        events: list[Obj] = []
        if won:
            returned_fee = self.dispute_fee if self.dispute_fee_returned_when_won else 0
            txn = self._balance_txn(
                amount=dispute["amount"],
                currency=dispute["currency"],
                type_="adjustment",
                source=dispute_id,
                fee=-returned_fee,
                category="dispute_reversal",
                description=f"Chargeback reversal for {dispute['charge']}",
            )
            if returned_fee:
                txn["fee_details"] = [
                    {
                        "amount": -returned_fee,
                        "application": None,
                        "currency": dispute["currency"],
                        "description": "Dispute fee refund",
                        "type": "stripe_fee",
                    }
                ]
            dispute["balance_transactions"].append(copy.deepcopy(txn))
            dispute["status"] = "won"
            events.append(self._emit("charge.dispute.funds_reinstated", dispute))
        else:
            dispute["status"] = "lost"
        events.append(self._emit("charge.dispute.closed", dispute))
        return events

    # -- the platform's own payouts and adjustments ------------------------------------------------
    def _platform_payout(self, amount: int, currency: str, fail: bool) -> list[Obj]:
        payout_id = self.new_id("po")
        txn = self._balance_txn(
            amount=-amount, currency=currency, type_="payout", source=payout_id, category="payout"
        )
        payout: Obj = {
            "id": payout_id,
            "object": "payout",
            "amount": amount,
            "arrival_date": txn["created"] + 2 * 86400,
            "automatic": True,
            "balance_transaction": txn["id"],
            "created": txn["created"],
            "currency": currency,
            "destination": "ba_platform",
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": {},
            "method": "standard",
            "source_type": "card",
            "status": "pending",
            "type": "bank_account",
        }
        self.payouts[payout_id] = payout
        events = [self._emit("payout.created", payout)]
        if fail:
            failure = self._balance_txn(
                amount=amount,
                currency=currency,
                type_="payout_failure",
                source=payout_id,
                category="payout_reversal",
            )
            payout.update(
                status="failed",
                failure_balance_transaction=failure["id"],
                failure_code="account_closed",
                failure_message="The bank account has been closed.",
            )
            events.append(self._emit("payout.failed", payout))
        else:
            payout["status"] = "paid"
            events.append(self._emit("payout.paid", payout))
        return events

    def _adjustment(self, amount: int, currency: str, type_: str, description: str) -> Obj:
        return self._balance_txn(
            amount=amount,
            currency=currency,
            type_=type_,
            source=None,
            category="fee" if type_ == "stripe_fee" else "other_adjustment",
            description=description,
        )

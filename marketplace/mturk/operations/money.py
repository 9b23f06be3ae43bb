"""Balance and bonuses: `payments` balances and `tasks.bonuses` (ledger entries with the fee)."""

from __future__ import annotations

import uuid
from typing import Any

from payments import services as payments
from tasks.bonuses import bonus_grant
from tasks.models import Bundle
from tasks.sandbox import PLAY_MONEY_CURRENCY
from tasks.selectors import worker_public_id

from ..hits import hit_of, token_use
from ..ids import assignment_text
from ..models import SentBonus
from ..protocol import Call, listing, money_minor, money_text, operation, page, request_error
from ..selectors import assignment_of

CURRENCY = "usd"


@operation("GetAccountBalance")
def get_account_balance(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Available: what the requester may spend; on hold: what their bundles' escrow holds
    for work not yet paid (rewards and fees)."""
    currency = PLAY_MONEY_CURRENCY if call.sandbox else CURRENCY
    if call.sandbox:  # MTurk's sandbox showed $10,000.00: play money, filled up on sight
        payments.play_money_fill(requester=call.requester)
    available = payments.requester_available(requester_id=call.requester.pk, currency=currency)
    bundle_ids = Bundle.objects.filter(requester=call.requester).values_list("pk", flat=True)
    held = sum(
        holding.balance_minor
        for holding in payments.escrow_holdings(bundle_ids=list(bundle_ids)).values()
        if holding.currency == currency
    )
    return {"AvailableBalance": money_text(available), "OnHoldBalance": money_text(held)}


@operation("SendBonus")
def send_bonus(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    assignment = assignment_of(call.requester, call.sandbox, params["AssignmentId"])
    if worker_public_id(call.requester.pk, assignment.worker_id) != params["WorkerId"]:
        raise request_error("The assignment is not this worker's.", "WorkerDoesNotMatch")
    token = params.get("UniqueRequestToken")
    token_use(requester=call.requester, operation="SendBonus", token=token)
    amount = money_minor(params["BonusAmount"], "BonusAmount")
    if amount < 1:
        raise request_error("BonusAmount must be at least 0.01.")
    bonus = bonus_grant(
        requester=call.requester,
        amount_minor=amount,
        currency=assignment.bundle.currency,  # play money for a sandbox HIT
        reason=params["Reason"],
        client_token=f"mturk-{token or uuid.uuid4().hex}",
        assignment_id=assignment.pk,
    )
    SentBonus.objects.get_or_create(
        bonus=bonus, defaults={"assignment": assignment, "hit": assignment.item.mturk_hit}
    )
    return {}


@operation("ListBonusPayments")
def list_bonus_payments(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if ("HITId" in params) == ("AssignmentId" in params):
        raise request_error("Give exactly one of HITId and AssignmentId.")
    rows = SentBonus.objects.filter(bonus__requester=call.requester).select_related(
        "bonus", "assignment"
    )
    if "HITId" in params:
        rows = rows.filter(hit=hit_of(call.requester, call.sandbox, params["HITId"]))
    else:
        rows = rows.filter(
            assignment=assignment_of(call.requester, call.sandbox, params["AssignmentId"])
        )
    batch, token = page(rows, params)
    return listing(
        "BonusPayments",
        (
            {
                "WorkerId": worker_public_id(call.requester.pk, row.bonus.worker_id),
                "BonusAmount": money_text(row.bonus.amount_minor),
                "AssignmentId": assignment_text(row.assignment_id),
                "Reason": row.bonus.reason,
                "GrantTime": row.bonus.created_at,
            }
            for row in batch
        ),
        token,
    )

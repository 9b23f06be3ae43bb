"""Card money after a top-up: Stripe's processing fee, refunds and disputes of its charge.

* Fee: once a top-up's credit commits, `topup_charge_sync` looks up the charge behind its
  PaymentIntent (a Stripe call, outside any transaction) and books Stripe's fee from the
  charge's balance transaction: platform revenue -> Stripe clearing (`charge-<ch>-fee`). The
  platform pays card fees, so revenue is not overstated and clearing mirrors Stripe's net
  balance. `topups_sync_charges` (beat) catches any sync that did not run.
* Refund (`charge.refunded`): the charge's cumulative `amount_refunded` is compared with what
  was booked; only the difference moves (`charge-<ch>-refunded-<total>`), so duplicates,
  replays and reordered events move nothing twice.
* Dispute (`charge.dispute.*`): every balance transaction on the dispute (funds withdrawn,
  funds reinstated) is booked once by its id, its amount and Stripe's dispute fee apart
  (`dispute-<dp>-<txn>`, `...-fee`), whichever event carries it first.

The requester bears refunds, disputes and dispute fees: `requester_debit` takes what their
balance holds and books the rest as debt; money reinstated pays the debt first.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q

from marketplace.errors import DomainError

from .. import stripe_gateway as gateway
from ..ledger import account_get, normalize_currency, post_entry
from ..models import AccountKind, Dispute, EntryKind, JournalEntry, TopUp, TopUpStatus
from ..models.disputes import DISPUTE_FINAL_STATUSES
from ..selectors import requester_debt
from .debt import requester_credit, requester_debit, requester_debt_notify

logger = logging.getLogger(__name__)


def _clearing(currency: str) -> Any:
    return account_get(kind=AccountKind.STRIPE_CLEARING, currency=currency)


# ---------------------------------------------------------------------------------------------
# Stripe's fee on a top-up's charge


def topup_charge_sync(*, topup_id: int) -> TopUp:
    """Store the top-up's charge id and book Stripe's fee on it, once.

    Calls Stripe (outside any transaction), then books in its own. Gateway errors propagate
    to the caller (the Celery task logs them; the beat sweep retries)."""
    topup = TopUp.objects.get(pk=topup_id)
    if topup.stripe_fee_minor is not None or not topup.payment_intent_id:
        return topup
    payment = gateway.retrieve_payment_charge(topup.payment_intent_id)
    if payment is None or payment.fee is None or payment.fee_currency is None:
        return topup  # no charge or balance transaction yet: the sweep comes back
    fee, currency = payment.fee, normalize_currency(payment.fee_currency)
    with transaction.atomic():
        topup = TopUp.objects.select_for_update().get(pk=topup_id)
        if topup.stripe_fee_minor is not None:
            return topup
        if fee:
            post_entry(
                idempotency_key=f"charge-{payment.charge_id}-fee",
                kind=EntryKind.STRIPE_FEE,
                postings=[
                    (account_get(kind=AccountKind.PLATFORM_REVENUE, currency=currency), -fee),
                    (_clearing(currency), fee),
                ],
                memo=f"Stripe fee on top-up {topup.pk} (charge {payment.charge_id})",
                reference_type="topup",
                reference_id=topup.pk,
                external_id=payment.charge_id,
            )
        TopUp.objects.filter(pk=topup.pk).update(
            charge_id=topup.charge_id or payment.charge_id, stripe_fee_minor=fee
        )
    topup.refresh_from_db()
    return topup


def topups_sync_charges(*, limit: int = 200) -> int:
    """Sync every credited top-up whose fee is not booked yet (beat); returns how many got
    booked. One failing top-up does not stop the others."""
    ids = list(
        TopUp.objects.filter(entry__isnull=False, stripe_fee_minor__isnull=True)
        .exclude(payment_intent_id="")
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    booked = 0
    for topup_id in ids:
        try:
            if topup_charge_sync(topup_id=topup_id).stripe_fee_minor is not None:
                booked += 1
        except gateway.GatewayError as exc:
            logger.warning("charge sync of top-up %s failed: %s", topup_id, exc)
    return booked


# ---------------------------------------------------------------------------------------------
# Finding the top-up a charge or dispute is about


def _topup_for(*, charge_id: str, payment_intent_id: str, metadata: Any) -> TopUp | None:
    """By charge id, PaymentIntent id or the `topup_id` our Checkout put in the metadata."""
    match = Q(pk__in=[])
    if charge_id:
        match |= Q(charge_id=charge_id)
    if payment_intent_id:
        match |= Q(payment_intent_id=payment_intent_id)
    topup = TopUp.objects.filter(match).first()
    ref = str(metadata.get("topup_id", "")) if isinstance(metadata, dict) else ""
    if topup is None and ref.isdigit():
        topup = TopUp.objects.filter(pk=int(ref)).first()
    return topup


def _locked_credited(topup: TopUp, charge_id: str) -> TopUp:
    """The top-up, locked; refuses (for a later replay) while its credit is not booked, since
    money cannot come back before it was credited in our books."""
    topup = TopUp.objects.select_for_update().get(pk=topup.pk)
    if topup.entry_id is None:
        raise DomainError(
            f"top-up {topup.pk} is not credited yet; its refund or dispute is replayed later",
            code="topup_not_credited",
        )
    if charge_id and not topup.charge_id:
        TopUp.objects.filter(pk=topup.pk).update(charge_id=charge_id)
    return topup


def _id(value: Any) -> str:
    return str(value.get("id") if isinstance(value, dict) else value or "")


# ---------------------------------------------------------------------------------------------
# Refunds


def charge_refunded(*, charge: dict[str, Any]) -> TopUp | None:
    """`charge.refunded`: take the newly refunded part from the requester (available first,
    the rest as debt) to Stripe clearing. None for a charge that is not a top-up's (it stays
    unbooked, and reconciliation names it)."""
    charge_id = _id(charge.get("id"))
    topup = _topup_for(
        charge_id=charge_id,
        payment_intent_id=_id(charge.get("payment_intent")),
        metadata=charge.get("metadata"),
    )
    if topup is None:
        logger.warning("charge.refunded for %s, which is no top-up's charge", charge_id)
        return None
    total = int(charge.get("amount_refunded") or 0)
    with transaction.atomic():
        topup = _locked_credited(topup, charge_id)
        delta = min(total, topup.amount_minor) - topup.refunded_minor
        if delta <= 0:
            return topup
        requester_debit(
            requester_id=topup.requester_id,
            currency=topup.currency,
            amount_minor=delta,
            target=_clearing(topup.currency),
            idempotency_key=f"charge-{charge_id}-refunded-{total}",
            kind=EntryKind.REFUND,
            memo=f"card refund of top-up {topup.pk} (charge {charge_id})",
            reference_type="topup",
            reference_id=topup.pk,
            external_id=charge_id,
        )
        refunded = topup.refunded_minor + delta
        TopUp.objects.filter(pk=topup.pk).update(refunded_minor=refunded)
        if refunded >= topup.amount_minor and topup.status == TopUpStatus.SUCCEEDED:
            TopUp.objects.filter(pk=topup.pk).update(status=TopUpStatus.REFUNDED)
        _notify_if_in_debt(topup)
    topup.refresh_from_db()
    return topup


def _notify_if_in_debt(topup: TopUp) -> None:
    if requester_debt(requester_id=topup.requester_id, currency=topup.currency) > 0:
        requester_debt_notify(requester_id=topup.requester_id)


# ---------------------------------------------------------------------------------------------
# Disputes


def dispute_sync(*, dispute: dict[str, Any]) -> Dispute | None:
    """Any `charge.dispute.*` event: record the dispute's status and book each of its balance
    transactions not booked yet. None for a dispute of a charge that is no top-up's."""
    dispute_id = _id(dispute.get("id"))
    charge_id = _id(dispute.get("charge"))
    topup = _topup_for(
        charge_id=charge_id,
        payment_intent_id=_id(dispute.get("payment_intent")),
        metadata=dispute.get("metadata"),
    )
    if topup is None:
        logger.warning("dispute %s of %s, which is no top-up's charge", dispute_id, charge_id)
        return None
    status = str(dispute.get("status") or "")
    due = (dispute.get("evidence_details") or {}).get("due_by")
    with transaction.atomic():
        topup = _locked_credited(topup, charge_id)
        row, _ = Dispute.objects.get_or_create(
            stripe_dispute_id=dispute_id,
            defaults={
                "topup": topup,
                "amount_minor": int(dispute.get("amount") or 0),
                "currency": normalize_currency(str(dispute.get("currency") or topup.currency)),
                "reason": str(dispute.get("reason") or "")[:100],
                "status": status,
            },
        )
        row = Dispute.objects.select_for_update().get(pk=row.pk)
        for txn in dispute.get("balance_transactions") or []:
            if isinstance(txn, dict):
                _book_dispute_txn(row, topup, gateway.balance_txn_from_dict(txn))
        if status and not (row.is_final and status not in DISPUTE_FINAL_STATUSES):
            row.status = status
        if due:
            row.evidence_due_by = datetime.fromtimestamp(int(due), tz=UTC)
        row.save(update_fields=["status", "evidence_due_by", "updated_at"])
        _topup_dispute_status(topup)
        _notify_if_in_debt(topup)
    return row


def _book_dispute_txn(row: Dispute, topup: TopUp, txn: gateway.BalanceTxn) -> None:
    """Book one balance transaction of a dispute, once: its amount (negative = withdrawn)
    and Stripe's fee on it, each against the requester."""
    key = f"dispute-{row.stripe_dispute_id}-{txn.id}"
    if JournalEntry.objects.filter(idempotency_key__in=[key, f"{key}-fee"]).exists():
        return
    currency = normalize_currency(txn.currency)
    clearing = _clearing(currency)
    parts = [(txn.amount, key, EntryKind.DISPUTE), (-txn.fee, f"{key}-fee", EntryKind.DISPUTE_FEE)]
    for amount, part_key, kind in parts:
        what = "dispute fee" if kind == EntryKind.DISPUTE_FEE else "card dispute"
        memo = f"{what} {row.stripe_dispute_id} of top-up {topup.pk} (charge {topup.charge_id})"
        if amount < 0:
            requester_debit(
                requester_id=topup.requester_id,
                currency=currency,
                amount_minor=-amount,
                target=clearing,
                idempotency_key=part_key,
                kind=kind,
                memo=memo,
                reference_type="dispute",
                reference_id=row.pk,
                external_id=txn.id,
            )
        elif amount > 0:
            requester_credit(
                requester_id=topup.requester_id,
                currency=currency,
                amount_minor=amount,
                source=clearing,
                idempotency_key=part_key,
                kind=kind,
                memo=f"{memo}: returned",
                reference_type="dispute",
                reference_id=row.pk,
                external_id=txn.id,
            )
    changes = {"fees_minor": row.fees_minor + txn.fee}
    if txn.amount < 0:
        changes["withdrawn_minor"] = row.withdrawn_minor - txn.amount
    else:
        changes["reinstated_minor"] = row.reinstated_minor + txn.amount
    Dispute.objects.filter(pk=row.pk).update(**changes)
    for field, value in changes.items():
        setattr(row, field, value)


def _topup_dispute_status(topup: TopUp) -> None:
    """Disputed while any dispute of it is open or lost; otherwise what refunds make it."""
    statuses = set(topup.disputes.values_list("status", flat=True))
    open_or_lost = any(s not in DISPUTE_FINAL_STATUSES or s == "lost" for s in statuses)
    if open_or_lost:
        target = TopUpStatus.DISPUTED
    elif topup.refunded_minor >= topup.amount_minor:
        target = TopUpStatus.REFUNDED
    else:
        target = TopUpStatus.SUCCEEDED
    TopUp.objects.filter(pk=topup.pk).update(status=target)

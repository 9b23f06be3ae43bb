"""Finding out what Stripe did when our own record cannot say, and an admin's way out.

A payout's transfer carries `payout-<id>` as its `transfer_group` (and the id in metadata), so
`find_transfer` lists that group: the answer when a response was lost and Stripe may have
forgotten the idempotency key, when Stripe refused the key (`idempotency_error`), and before
anything is returned to a worker whose earlier attempt may have paid.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from django.utils import timezone

from accounts.models import User
from marketplace.errors import DomainError

from .. import stripe_gateway as gateway
from ..models import Payout, PayoutStatus
from .outcomes import give_up_after, payout_record_paid, payout_return

logger = logging.getLogger(__name__)


def transfer_group(payout: Payout) -> str:
    return f"payout-{payout.pk}"


def find_transfer(payout: Payout) -> gateway.TransferResult | None:
    """The transfer Stripe made for this payout, or None when Stripe has none. Raises the
    gateway's errors (the caller decides: retry later, or tell the admin)."""
    found = [
        t
        for t in gateway.list_transfers(transfer_group=transfer_group(payout))
        if t.metadata.get("payout_id") in (None, str(payout.pk))
    ]
    if len(found) > 1:
        logger.error(
            "payout %s has %d transfers at Stripe (%s): paid more than once; reverse the extra",
            payout.pk,
            len(found),
            ", ".join(t.id for t in found),
        )
    return min(found, key=lambda t: (t.created, t.id)) if found else None


def payout_resolve(
    *,
    payout_id: int,
    action: Literal["retry", "return"],
    by: User | None,
    now: datetime | None = None,
) -> Payout:
    """An admin settles a payout that needs attention.

    `retry`: back to pending with a fresh retry window (the next attempt still looks the
    transfer up first if the first one is old). `return`: look the transfer up; if Stripe made
    it, record it as paid; only when Stripe has none, give the money back to the worker. When
    Stripe cannot be asked, nothing changes (DomainError `stripe_unavailable`).
    """
    now = now or timezone.now()
    payout = Payout.objects.get(pk=payout_id)
    if payout.status != PayoutStatus.NEEDS_ATTENTION:
        raise DomainError(
            f"Payout {payout.pk} is {payout.status}, not waiting for an admin.",
            code="payout_not_needing_attention",
            http_status=409,
        )
    who = f"admin {by.pk}" if by is not None else "an admin"
    if action == "retry":
        Payout.objects.filter(pk=payout.pk, status=PayoutStatus.NEEDS_ATTENTION).update(
            status=PayoutStatus.PENDING,
            next_attempt_at=now,
            retry_until=now + give_up_after(),
            failure_code="",
            last_error=f"retry asked by {who}; before: {payout.last_error}"[:2000],
        )
        logger.warning("payout %s: retry asked by %s", payout.pk, who)
        return Payout.objects.get(pk=payout.pk)
    if action != "return":
        raise DomainError(f"Unknown action {action!r}.", code="invalid_action")
    try:
        found = find_transfer(payout) if payout.method == "stripe" else None
    except gateway.GatewayError as exc:
        raise DomainError(
            f"Stripe cannot be asked whether payout {payout.pk} was paid: {exc}",
            code="stripe_unavailable",
            http_status=503,
        ) from exc
    if found is not None:
        logger.warning(
            "payout %s: %s found transfer %s; recorded as paid", payout.pk, who, found.id
        )
        return payout_record_paid(
            payout_id=payout.pk, transfer_id=found.id, amount_minor=found.amount
        )
    logger.warning("payout %s: no transfer at Stripe; returned by %s", payout.pk, who)
    return payout_return(
        payout_id=payout.pk,
        code="returned_by_admin",
        reason=f"no transfer at Stripe; returned by {who}",
    )

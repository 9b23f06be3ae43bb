"""An admin's hold on a worker's money: hold, release, write off; an audit row for each.

A clawback after fraud (a bonus paid from a stolen card, a dispute on the top-up that funded
the work) brings money back by a transfer reversal; while the worker's hold is on, it lands in
`worker_held` rather than `worker_available`, and nothing is paid out. The admin then either
releases it (held -> available, the hold ends) or writes it off (held -> platform clawbacks: the
platform keeps it against the loss; the hold stays on until released).

Every decision is taken under the lock of the worker's available (and held) accounts, the same
lock a payout request and a reversal credit take, so none of them interleaves with a hold.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from accounts.models import User
from marketplace.errors import DomainError

from ..ledger import account_get, lock_accounts, post_entry
from ..models import (
    AccountKind,
    EntryKind,
    HoldAction,
    LedgerAccount,
    WorkerHold,
    WorkerHoldEvent,
)


def _worker_accounts(worker_id: int) -> dict[str, tuple[LedgerAccount, LedgerAccount]]:
    """{currency: (available, held)} for every currency the worker has money in, locked."""
    currencies = sorted(
        set(
            LedgerAccount.objects.filter(
                owner_id=worker_id,
                kind__in=[AccountKind.WORKER_AVAILABLE, AccountKind.WORKER_HELD],
            ).values_list("currency", flat=True)
        )
    )
    pairs = {
        cur: (
            account_get(kind=AccountKind.WORKER_AVAILABLE, currency=cur, owner_id=worker_id),
            account_get(kind=AccountKind.WORKER_HELD, currency=cur, owner_id=worker_id),
        )
        for cur in currencies
    }
    locked = lock_accounts([acc for pair in pairs.values() for acc in pair])
    return {cur: (locked[a.pk], locked[h.pk]) for cur, (a, h) in pairs.items()}


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            "A reason is required (it is kept in the audit trail).", code="reason_required"
        )
    return reason


def _move(
    *,
    worker: User,
    action: str,
    kind: str,
    moves: list[tuple[LedgerAccount, LedgerAccount, int]],
    reason: str,
    by: User | None,
) -> list[WorkerHoldEvent]:
    """Post one entry per currency (source -> target) and write the audit rows."""
    events: list[WorkerHoldEvent] = []
    for source, target, amount in moves:
        entry = post_entry(
            idempotency_key=f"worker-{worker.pk}-{action}-{uuid.uuid4().hex}",
            kind=kind,
            postings=[(source, -amount), (target, amount)],
            memo=f"{action.replace('_', ' ')}: {reason}",
            created_by=by,
            reference_type="worker_hold",
            reference_id=worker.pk,
        )
        events.append(
            WorkerHoldEvent.objects.create(
                worker=worker,
                action=action,
                reason=reason,
                amount_minor=amount,
                currency=source.currency,
                entry=entry,
                created_by=by,
            )
        )
    if not events:
        events.append(
            WorkerHoldEvent.objects.create(
                worker=worker, action=action, reason=reason, created_by=by
            )
        )
    return events


def worker_hold(*, worker: User, reason: str, by: User | None) -> list[WorkerHoldEvent]:
    """Hold a worker's money: payouts stop and what is available now moves to held. Holding
    again (a hold already on) sweeps what became available since. Returns the audit rows."""
    reason = _reason(reason)
    with transaction.atomic():
        accounts = _worker_accounts(worker.pk)
        WorkerHold.objects.update_or_create(
            worker=worker, defaults={"active": True, "reason": reason}
        )
        moves = [
            (available, held, int(available.balance_minor or 0))
            for available, held in accounts.values()
            if int(available.balance_minor or 0) > 0
        ]
        return _move(
            worker=worker,
            action=HoldAction.HOLD,
            kind=EntryKind.WORKER_HOLD,
            moves=moves,
            reason=reason,
            by=by,
        )


def worker_hold_release(*, worker: User, reason: str, by: User | None) -> list[WorkerHoldEvent]:
    """End the hold: everything held goes back to available and payouts resume."""
    reason = _reason(reason)
    with transaction.atomic():
        accounts = _worker_accounts(worker.pk)
        lifted = WorkerHold.objects.filter(worker=worker, active=True).update(active=False)
        moves = [
            (held, available, int(held.balance_minor or 0))
            for available, held in accounts.values()
            if int(held.balance_minor or 0) > 0
        ]
        if not lifted and not moves:
            raise DomainError(f"{worker} has no hold to release.", code="not_on_hold")
        return _move(
            worker=worker,
            action=HoldAction.RELEASE,
            kind=EntryKind.WORKER_HOLD_RELEASE,
            moves=moves,
            reason=reason,
            by=by,
        )


def worker_hold_write_off(*, worker: User, reason: str, by: User | None) -> list[WorkerHoldEvent]:
    """The platform keeps what is held (held -> platform clawbacks), e.g. against a dispute it
    lost on the money that paid the worker. The hold stays on; release it to resume payouts."""
    reason = _reason(reason)
    with transaction.atomic():
        accounts = _worker_accounts(worker.pk)
        moves = [
            (
                held,
                account_get(kind=AccountKind.PLATFORM_CLAWBACK, currency=held.currency),
                int(held.balance_minor or 0),
            )
            for _available, held in accounts.values()
            if int(held.balance_minor or 0) > 0
        ]
        if not moves:
            raise DomainError(f"{worker} has nothing held to write off.", code="nothing_held")
        return _move(
            worker=worker,
            action=HoldAction.WRITE_OFF,
            kind=EntryKind.WORKER_HOLD_WRITE_OFF,
            moves=moves,
            reason=reason,
            by=by,
        )

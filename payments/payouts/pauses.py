"""Why a worker cannot be paid out right now: an admin's hold, or a Stripe account that is
deauthorized, disabled or owes Stripe information (KYC). One answer for the request, the
transfer attempt and the pages, in words the worker reads."""

from __future__ import annotations

from ..models import ConnectedAccount, WorkerHold

HOLD_REASON = (
    "Your payouts are on hold while an administrator reviews your account; "
    "contact support if you think this is a mistake."
)


def worker_on_hold(*, worker_id: int) -> bool:
    """An admin's hold is active. Read it under the lock of the worker's available account
    (the hold services take that lock too) when a decision depends on it."""
    return WorkerHold.objects.filter(worker_id=worker_id, active=True).exists()


def payout_pause_reason(*, worker_id: int, stripe: bool) -> str:
    """ "" when the worker can be paid now, else why not. `stripe`: payouts go by Stripe
    Connect, so the worker's connected account must be ready too."""
    if worker_on_hold(worker_id=worker_id):
        return HOLD_REASON
    if not stripe:
        return ""
    account = ConnectedAccount.objects.filter(worker_id=worker_id).first()
    if account is None:
        return "Finish setting up your Stripe payout account."
    return account.pause_reason

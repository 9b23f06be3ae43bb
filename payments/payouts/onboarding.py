"""Workers' Stripe Connect accounts: onboarding links and the webhooks that keep them current.

The gateway is called through `payments.stripe_gateway` (the package), so a test that replaces
one of its names there is seen here too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import DomainError

from .. import stripe_gateway as gateway
from ..models import ConnectedAccount


def payout_account_onboard(*, worker: User) -> str:
    """Return a fresh Stripe onboarding link for the worker, creating their Express account on
    first use (idempotency key `worker-<id>-connect-account`, so a retry creates one account).

    An account that deauthorized our platform is gone for good: a new Express account replaces
    it (key `worker-<id>-connect-account-after-<old id>`, again one per retry)."""
    if not gateway.is_configured():
        raise DomainError(
            "Payouts are made by bank transfer here; no Stripe account is needed.",
            code="stripe_not_configured",
            http_status=409,
        )
    account = ConnectedAccount.objects.filter(worker=worker).first()
    try:
        if account is not None and account.deauthorized_at is not None:
            account = _replace_deauthorized(account, worker)
        if account is None:
            profile = getattr(worker, "worker_profile", None)
            stripe_id = gateway.create_express_account(
                email=worker.email,
                country=(getattr(profile, "country", "") or "US"),
                worker_ref=f"worker-{worker.pk}",
                idempotency_key=f"worker-{worker.pk}-connect-account",
            )
            try:
                with transaction.atomic():
                    account = ConnectedAccount.objects.create(
                        worker=worker, stripe_account_id=stripe_id
                    )
            except IntegrityError:  # a concurrent request stored it (same key: same id)
                account = ConnectedAccount.objects.get(worker=worker)
        site = settings.SITE_URL.rstrip("/")
        return gateway.create_account_link(
            account_id=account.stripe_account_id,
            refresh_url=f"{site}/work/earnings/?payout_account=refresh",
            return_url=f"{site}/work/earnings/?payout_account=done",
        )
    except gateway.GatewayTransientError as exc:
        raise DomainError(
            "Stripe is not answering; try again.", code="stripe_unavailable", http_status=503
        ) from exc
    except gateway.GatewayPermanentError as exc:
        raise DomainError(f"Stripe refused: {exc}", code="stripe_error", http_status=502) from exc


def _replace_deauthorized(account: ConnectedAccount, worker: User) -> ConnectedAccount:
    profile = getattr(worker, "worker_profile", None)
    old = account.stripe_account_id
    stripe_id = gateway.create_express_account(
        email=worker.email,
        country=(getattr(profile, "country", "") or "US"),
        worker_ref=f"worker-{worker.pk}",
        idempotency_key=f"worker-{worker.pk}-connect-account-after-{old}",
    )
    ConnectedAccount.objects.filter(pk=account.pk, stripe_account_id=old).update(
        stripe_account_id=stripe_id,
        charges_enabled=False,
        payouts_enabled=False,
        details_submitted=False,
        transfers_active=False,
        disabled_reason="",
        requirements_due=[],
        deauthorized_at=None,
        status_as_of=0,
        updated_at=timezone.now(),
    )
    account.refresh_from_db()
    return account


def connected_account_sync(*, data: dict[str, object], as_of: int) -> ConnectedAccount | None:
    """Apply an `account.updated` payload unless a newer status was already applied
    (webhooks arrive out of order). Stripe's `requirements.currently_due` and
    `disabled_reason` are kept: either pauses payouts (`ConnectedAccount.pause_reason`)."""
    status = gateway.account_status_from_dict(data)
    account = ConnectedAccount.objects.filter(stripe_account_id=status.id).first()
    if account is None:
        return None
    ConnectedAccount.objects.filter(pk=account.pk, status_as_of__lte=as_of).update(
        charges_enabled=status.charges_enabled,
        payouts_enabled=status.payouts_enabled,
        details_submitted=status.details_submitted,
        transfers_active=status.can_receive_transfers,
        disabled_reason=status.disabled_reason or "",
        requirements_due=list(status.requirements_due),
        status_as_of=as_of,
        updated_at=timezone.now(),
    )
    account.refresh_from_db()
    return account


def connected_account_deauthorized(*, account_id: str) -> ConnectedAccount | None:
    """`account.application.deauthorized` (a Connect event): the worker disconnected their
    account from our platform, so no transfer can reach it any more. Payouts pause with a
    reason the worker sees until they set up a new account; a payout not yet sent goes back to
    their balance when its transfer comes up (`payout_execute`)."""
    if not account_id:
        return None
    ConnectedAccount.objects.filter(
        stripe_account_id=account_id, deauthorized_at__isnull=True
    ).update(deauthorized_at=timezone.now(), transfers_active=False, updated_at=timezone.now())
    return ConnectedAccount.objects.filter(stripe_account_id=account_id).first()


def connected_payout_failed(*, account_id: str, payout: dict[str, object]) -> None:
    """`payout.failed` (a Connect event): the worker's *bank* payout from their Express balance
    failed. The money is still theirs, in their Stripe balance, and Stripe pays it again once
    they fix their bank details, so the ledger does not move; we flag the account so the
    worker is told."""
    ConnectedAccount.objects.filter(stripe_account_id=account_id).update(
        last_payout_failure=str(payout.get("failure_code") or "failed")[:255],
        last_payout_failure_at=timezone.now(),
    )

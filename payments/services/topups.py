"""Top-ups by Stripe Checkout: start a session, credit it on the verified webhook, once.

The gateway is called through `payments.stripe_gateway` (the package), so a test that replaces
one of its names there is seen here too.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, DomainError

from .. import stripe_gateway as gateway
from ..ledger import account_get, normalize_currency
from ..models import AccountKind, EntryKind, TopUp, TopUpStatus
from ._shared import positive_amount
from .debt import requester_credit


def topup_create(*, requester: User, amount_minor: int, currency: str, client_token: str) -> TopUp:
    """Start a Stripe Checkout top-up and return it with its `checkout_url`.

    Nothing is credited here; the verified `checkout.session.completed` webhook credits it.
    The TopUp row is committed before Stripe is called, and the Checkout call carries
    `topup-<id>-checkout` as its idempotency key, so retrying a request (same client_token)
    returns the same session instead of opening a second one.
    """
    currency = normalize_currency(currency)
    positive_amount(amount_minor)
    if not client_token or len(client_token) > 100:
        raise DomainError(
            "client_token is required (at most 100 characters).", code="invalid_client_token"
        )
    if not gateway.is_configured():
        raise DomainError(
            "Card top-ups are not available here; ask an admin to credit your balance.",
            code="stripe_not_configured",
            http_status=503,
        )
    minimum = int(getattr(settings, "TOPUP_MINIMUM_MINOR", 100))
    if amount_minor < minimum:
        raise DomainError(
            f"The smallest top-up is {minimum}.", code="amount_too_small", minimum_minor=minimum
        )
    try:
        with transaction.atomic():
            topup, _ = TopUp.objects.get_or_create(
                requester=requester,
                client_token=client_token,
                defaults={"amount_minor": amount_minor, "currency": currency},
            )
    except IntegrityError:
        topup = TopUp.objects.get(requester=requester, client_token=client_token)
    if (topup.amount_minor, topup.currency) != (amount_minor, currency):
        raise Conflict(
            "client_token was already used for a different top-up.", code="idempotency_conflict"
        )
    if topup.checkout_url or topup.status != TopUpStatus.PENDING:
        return topup
    site = settings.SITE_URL.rstrip("/")
    try:
        session = gateway.create_checkout_session(
            amount_minor=amount_minor,
            currency=currency,
            topup_id=topup.pk,
            requester_email=requester.email,
            success_url=f"{site}/?topup={topup.pk}&status=success",
            cancel_url=f"{site}/?topup={topup.pk}&status=cancelled",
            idempotency_key=f"topup-{topup.pk}-checkout",
        )
    except gateway.GatewayTransientError as exc:
        raise DomainError(
            "Stripe is not answering; try again.", code="stripe_unavailable", http_status=503
        ) from exc
    except gateway.GatewayPermanentError as exc:
        raise DomainError(
            f"Stripe refused the top-up: {exc}", code="stripe_error", http_status=502
        ) from exc
    TopUp.objects.filter(pk=topup.pk).update(
        checkout_session_id=session.id, checkout_url=session.url
    )
    topup.refresh_from_db()
    return topup


def topup_complete(*, session: dict[str, Any]) -> TopUp | None:
    """Credit the top-up a paid Checkout Session names (from the verified webhook), once.

    The ledger key `topup-<id>-credit` makes a duplicate, replayed or concurrent delivery a
    no-op. The amount credited is the one Stripe reports as paid; it must match the top-up.
    An `expired` top-up whose payment still completed is credited: the card was charged. A
    requester in debt has it paid first. The PaymentIntent is stored, and once this commits
    `topup_charge_sync` looks up its charge and books Stripe's fee (a Stripe call, so never
    inside this transaction).
    """
    if session.get("payment_status") != "paid":
        return None
    ref = str(session.get("client_reference_id") or session.get("metadata", {}).get("topup_id"))
    topup = TopUp.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    if topup is None:
        topup = TopUp.objects.filter(checkout_session_id=session.get("id") or "-").first()
    if topup is None:
        raise DomainError(
            f"No top-up for Checkout Session {session.get('id')}.", code="unknown_topup"
        )
    amount, currency = int(session["amount_total"]), normalize_currency(session["currency"])
    if (amount, currency) != (topup.amount_minor, topup.currency):
        raise DomainError(
            f"Checkout Session {session.get('id')} paid {amount} {currency}, top-up {topup.pk} "
            f"asked for {topup.amount_minor} {topup.currency}.",
            code="topup_mismatch",
        )
    clearing = account_get(kind=AccountKind.STRIPE_CLEARING, currency=currency)
    payment_intent = session.get("payment_intent")
    if isinstance(payment_intent, dict):  # expanded
        payment_intent = payment_intent.get("id")
    with transaction.atomic():
        topup = TopUp.objects.select_for_update().get(pk=topup.pk)
        entry = requester_credit(
            requester_id=topup.requester_id,
            currency=currency,
            amount_minor=amount,
            source=clearing,
            idempotency_key=f"topup-{topup.pk}-credit",
            kind=EntryKind.TOPUP,
            memo=f"Stripe Checkout top-up {topup.pk}",
            reference_type="topup",
            reference_id=topup.pk,
            external_id=str(session.get("id") or ""),
        )
        if topup.entry_id is None or topup.status in (TopUpStatus.PENDING, TopUpStatus.EXPIRED):
            TopUp.objects.filter(pk=topup.pk).update(
                status=TopUpStatus.SUCCEEDED,
                entry=entry,
                completed_at=timezone.now(),
                checkout_session_id=topup.checkout_session_id or str(session.get("id") or ""),
            )
        if payment_intent and not topup.payment_intent_id:
            TopUp.objects.filter(pk=topup.pk).update(payment_intent_id=str(payment_intent))
        if topup.stripe_fee_minor is None:
            _sync_charge_after_commit(topup.pk)
    topup.refresh_from_db()
    return topup


def _sync_charge_after_commit(topup_id: int) -> None:
    from ..tasks import topup_charge_sync_task  # the Celery entry module imports the services

    transaction.on_commit(lambda: topup_charge_sync_task.delay(topup_id))


def topup_expire(*, session: dict[str, Any]) -> TopUp | None:
    """Mark a pending top-up expired (`checkout.session.expired`); a succeeded one stays."""
    ref = str(session.get("client_reference_id") or "")
    if not ref.isdigit():
        return None
    TopUp.objects.filter(pk=int(ref), status=TopUpStatus.PENDING).update(
        status=TopUpStatus.EXPIRED, completed_at=timezone.now()
    )
    return TopUp.objects.filter(pk=int(ref)).first()

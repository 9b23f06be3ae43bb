"""Paying workers: their Stripe Connect accounts, payouts and the manual bank-transfer batches.

Imports nothing from `payments.models` (the package imports this module).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q


class ConnectedAccount(models.Model):
    """A worker's Stripe Connect Express account, kept current by `account.updated`."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="connected_account"
    )
    stripe_account_id = models.CharField(max_length=255, unique=True)
    charges_enabled = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    transfers_active = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=255, blank=True)
    # Stripe timestamp of the newest status applied: an older event arriving late is ignored.
    status_as_of = models.BigIntegerField(default=0)
    # Stripe's requirements.currently_due: what Stripe still needs (KYC); payouts pause until
    # it is empty.
    requirements_due = models.JSONField(default=list, blank=True)
    # Set by `account.application.deauthorized`: the account left our platform for good.
    deauthorized_at = models.DateTimeField(null=True, blank=True)
    last_payout_failure = models.CharField(max_length=255, blank=True)
    last_payout_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stripe_account_id} ({self.worker})"

    @property
    def set_up(self) -> bool:
        """The worker went through Stripe's onboarding (even if Stripe paused the account since,
        or the worker disconnected it): anything still missing is a pause, not a first setup."""
        return self.details_submitted or self.transfers_active or self.deauthorized_at is not None

    @property
    def pause_reason(self) -> str:
        """Why no transfer can go to this account now, in words for the worker ("" = none)."""
        if self.deauthorized_at is not None:
            return "Your Stripe account was disconnected from this site: set up payouts again."
        if not self.set_up:
            return "Finish setting up your Stripe payout account."
        if self.disabled_reason:
            return (
                f"Stripe has paused payouts to your account ({self.disabled_reason}): "
                "update your details with Stripe."
            )
        if self.requirements_due:
            due = ", ".join(str(field) for field in self.requirements_due)
            return f"Stripe needs more information before you can be paid: {due}."
        if not (self.transfers_active or self.payouts_enabled):
            return "Stripe does not accept transfers to your account yet."
        return ""

    @property
    def ready(self) -> bool:
        """Stripe will accept a transfer to this account and nothing pauses payouts."""
        return not self.pause_reason


class PayoutMethod(models.TextChoices):
    STRIPE = "stripe", "Stripe Connect transfer"
    MANUAL = "manual", "Manual bank transfer"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending (money reserved, waiting to be sent)"
    PROCESSING = "processing", "Processing (transfer being made)"
    PAID = "paid", "Paid"
    RETURNED = "returned", "Returned to the worker's balance"
    # Retries gave up, or Stripe refused the key, while a transfer may exist: the money stays
    # in flight until an admin resolves it (payouts.payout_resolve looks the transfer up).
    NEEDS_ATTENTION = "needs_attention", "Needs attention (an admin is checking it)"


#: Allowed payout status changes (changed only by a conditional UPDATE in payments.payouts).
PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    PayoutStatus.PENDING: frozenset(
        {PayoutStatus.PROCESSING, PayoutStatus.PAID, PayoutStatus.RETURNED}
    ),
    PayoutStatus.PROCESSING: frozenset(
        {
            PayoutStatus.PENDING,
            PayoutStatus.PROCESSING,
            PayoutStatus.PAID,
            PayoutStatus.RETURNED,
            PayoutStatus.NEEDS_ATTENTION,
        }
    ),
    PayoutStatus.NEEDS_ATTENTION: frozenset(
        {PayoutStatus.PENDING, PayoutStatus.PAID, PayoutStatus.RETURNED}
    ),
    PayoutStatus.PAID: frozenset({PayoutStatus.RETURNED}),  # transfer reversed in full
    PayoutStatus.RETURNED: frozenset(),
}


class ManualBatchStatus(models.TextChoices):
    OPEN = "open", "Open (collecting payouts)"
    EXPORTED = "exported", "Exported (CSV downloaded)"
    PAID = "paid", "Paid"


class ManualPayoutBatch(models.Model):
    """Payouts made by bank transfer where Stripe is not configured: an admin downloads the CSV
    (which closes the batch), pays it at the bank, then marks it paid."""

    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=ManualBatchStatus.choices, default=ManualBatchStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    exported_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = "manual payout batches"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["currency"],
                condition=Q(status="open"),
                name="manual_batch_one_open_per_currency",
            )
        ]

    def __str__(self) -> str:
        return f"manual batch {self.pk} {self.currency} ({self.status})"


class Payout(models.Model):
    """Money leaving a worker's balance. Reserved first (worker available -> in flight) and
    committed before Stripe is called with `payout-<id>-transfer`; the amount never changes."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount_minor = models.PositiveBigIntegerField(editable=False)
    currency = models.CharField(max_length=3, editable=False)
    method = models.CharField(max_length=16, choices=PayoutMethod.choices)
    status = models.CharField(
        max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.PENDING, db_index=True
    )
    # Unique per request (an API client token or the weekly run): a retried request is one payout.
    request_key = models.CharField(max_length=200, unique=True)
    destination = models.CharField(max_length=255, blank=True)
    batch = models.ForeignKey(
        ManualPayoutBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="payouts"
    )
    transfer_id = models.CharField(max_length=255, blank=True, db_index=True)
    reversed_minor = models.PositiveBigIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # When the transfer was first sent to Stripe: a retry long after it looks the transfer up
    # (Stripe forgets keys after ~24 h), and retries end a bounded time after it.
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    # Transient failures are retried until then; afterwards an admin decides (needs attention).
    retry_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"payout {self.pk} {self.amount_minor} {self.currency} ({self.status})"

    @property
    def transfer_idempotency_key(self) -> str:
        return f"payout-{self.pk}-transfer"

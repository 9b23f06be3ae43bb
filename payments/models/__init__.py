"""Money: a double-entry ledger plus the records that explain why money moved.

The ledger (LedgerAccount, JournalEntry, Posting) is the only record of who owns what. Every
movement is one JournalEntry whose postings sum to zero per currency; entries and postings are
append-only (no update or delete path: the model and queryset guards of `_append_only` refuse,
and admin is read-only). Amounts are integers in the currency's minor unit (cents), never floats.

Sign convention: an account's balance is the sum of its postings. A requester's or worker's
balance is positive when we owe them money; external clearing accounts go negative when money
came in from outside (a top-up) and positive when it left (a payout). A requester's debt (card
money that came back after they spent it) is a receivable: never positive, negative by what
they owe us.

`payments` never imports `tasks`: a bundle is named by its integer id.

A package: the ledger, top-ups, bonuses and Stripe's records here; payouts and workers'
Connect accounts in `payouts`; admins' holds on workers' money in `holds`; workers' bank details
for manual payouts in `details`. Import every model from `payments.models`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from ._append_only import AppendOnlyError, AppendOnlyModel, AppendOnlyQuerySet  # noqa: F401

# Models in their own modules (they import nothing from this one), registered here.
from .details import PayoutDetails  # noqa: F401
from .disputes import Dispute  # noqa: F401
from .holds import HoldAction, WorkerHold, WorkerHoldEvent  # noqa: F401
from .payouts import (  # noqa: F401
    PAYOUT_TRANSITIONS,
    ConnectedAccount,
    ManualBatchStatus,
    ManualPayoutBatch,
    Payout,
    PayoutMethod,
    PayoutStatus,
)


class AccountKind(models.TextChoices):
    REQUESTER_AVAILABLE = "requester_available", "Requester available"
    BUNDLE_ESCROW = "bundle_escrow", "Bundle escrow"
    WORKER_AVAILABLE = "worker_available", "Worker available"
    WORKER_PAYOUT_IN_FLIGHT = "worker_payout_in_flight", "Worker payout in flight"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    STRIPE_CLEARING = "stripe_clearing", "Stripe clearing"
    MANUAL_PAYOUT_CLEARING = "manual_payout_clearing", "Manual payout clearing (bank transfers)"
    ADMIN_CREDIT_CLEARING = "admin_credit_clearing", "Admin credit clearing (invoices)"
    # A worker's money an admin froze (a clawback after fraud): theirs, not withdrawable.
    WORKER_HELD = "worker_held", "Worker held (frozen by an admin)"
    # Held worker money an admin wrote off: the platform keeps it (it offsets the fraud loss).
    PLATFORM_CLAWBACK = "platform_clawback", "Platform clawbacks (held money written off)"
    REQUESTER_DEBT = "requester_debt", "Requester debt (owed to the platform)"
    TEST_FUNDS_CLEARING = "test_funds_clearing", "Test money clearing (not real money)"
    PLATFORM_BANK = "platform_bank", "Platform bank (Stripe payouts to the platform)"


#: Accounts that hold somebody's money and so may never go below zero. Their balance is cached
#: on the row and changed only under a row lock in the same transaction as the postings.
BOUNDED_KINDS: frozenset[str] = frozenset(
    {
        AccountKind.REQUESTER_AVAILABLE,
        AccountKind.BUNDLE_ESCROW,
        AccountKind.WORKER_AVAILABLE,
        AccountKind.WORKER_PAYOUT_IN_FLIGHT,
        AccountKind.WORKER_HELD,
    }
)
#: Receivables: what somebody owes the platform. Never positive; cached and locked like the
#: bounded kinds, so paying a debt and adding to it cannot race.
DEBT_KINDS: frozenset[str] = frozenset({AccountKind.REQUESTER_DEBT})
#: Kinds whose balance is cached on the row (and locked by every entry that touches them).
CACHED_KINDS: frozenset[str] = BOUNDED_KINDS | DEBT_KINDS


class LedgerAccount(models.Model):
    """One balance bucket per (kind, owner or bundle, currency), named by a unique `key`.

    Only bounded kinds keep a cached `balance_minor`: they are locked anyway for the
    never-negative check. Platform and clearing accounts keep NULL and their balance is derived
    from postings, so they never become a hot row every approval on the platform waits for.
    """

    key = models.CharField(max_length=120, unique=True, editable=False)
    kind = models.CharField(max_length=32, choices=AccountKind.choices, editable=False)
    currency = models.CharField(max_length=3, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
        editable=False,
    )
    # Names a tasks.Bundle by id (payments never imports tasks).
    bundle_id = models.BigIntegerField(null=True, blank=True, db_index=True, editable=False)
    # Cached sum of postings for bounded kinds (never negative) and debt kinds (never
    # positive); NULL for the others.
    balance_minor = models.BigIntegerField(null=True, blank=True, editable=False)
    # Escrow only: the fee percent fixed when escrow was first reserved, so approvals draw
    # exactly what was reserved even if PLATFORM_FEE_PERCENT changes later.
    fee_percent = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # Escrow only: the minimum fee per judgment fixed with `fee_percent` (PLATFORM_MIN_FEE_MINOR
    # at the first reservation). NULL with a percent set means reserved before minimums
    # existed: no minimum, which is what that escrow was priced at. Never changes once set.
    fee_minimum_minor = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=(
                    Q(kind__in=sorted(BOUNDED_KINDS), balance_minor__gte=0)
                    | Q(kind__in=sorted(DEBT_KINDS), balance_minor__lte=0)
                    | (~Q(kind__in=sorted(CACHED_KINDS)) & Q(balance_minor__isnull=True))
                ),
                name="ledger_account_bounded_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[a-z]{3}$"), name="ledger_account_currency_lower"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["owner", "kind", "currency"])]

    def __str__(self) -> str:
        return self.key

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("ledger accounts are never deleted")

    @property
    def is_bounded(self) -> bool:
        return self.kind in BOUNDED_KINDS


class EntryKind(models.TextChoices):
    ADMIN_CREDIT = "admin_credit", "Admin credit"
    TOPUP = "topup", "Stripe top-up"
    ESCROW_RESERVE = "escrow_reserve", "Escrow reserve"
    ESCROW_RELEASE = "escrow_release", "Escrow release"
    ASSIGNMENT_PAY = "assignment_pay", "Assignment payment"
    BONUS = "bonus", "Bonus"
    PAYOUT_RESERVE = "payout_reserve", "Payout reserve"
    PAYOUT_PAID = "payout_paid", "Payout paid"
    PAYOUT_RETURN = "payout_return", "Payout returned"
    TRANSFER_REVERSED = "transfer_reversed", "Transfer reversed"
    WORKER_HOLD = "worker_hold", "Worker money held"
    WORKER_HOLD_RELEASE = "worker_hold_release", "Held worker money released"
    WORKER_HOLD_WRITE_OFF = "worker_hold_write_off", "Held worker money written off"
    STRIPE_FEE = "stripe_fee", "Stripe processing fee"
    REFUND = "refund", "Card refund"
    DISPUTE = "dispute", "Card dispute (chargeback)"
    DISPUTE_FEE = "dispute_fee", "Stripe dispute fee"
    TEST_CREDIT = "test_credit", "Test money (not real)"
    PLATFORM_PAYOUT = "platform_payout", "Stripe payout to the platform's bank"
    PLATFORM_PAYOUT_FAILED = "platform_payout_failed", "Stripe payout to the platform failed"
    STRIPE_ADJUSTMENT = "stripe_adjustment", "Stripe adjustment (booked by an operator)"


class JournalEntry(AppendOnlyModel):
    """One balanced movement of money. `idempotency_key` is unique: posting twice with the same
    key returns the first entry, so a retried request or task can never move money twice."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=EntryKind.choices, db_index=True)
    memo = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # What caused the entry: the object in our own tables and (for Stripe) Stripe's id.
    reference_type = models.CharField(max_length=32, blank=True)
    reference_id = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=255, blank=True, db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"
        indexes: ClassVar = [models.Index(fields=["reference_type", "reference_id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class Posting(AppendOnlyModel):
    """One side of an entry. Never zero (a zero posting says nothing and hides mistakes)."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="posting_amount_nonzero"),
        ]
        indexes: ClassVar = [models.Index(fields=["account", "entry"])]

    def __str__(self) -> str:
        return f"{self.account.key} {self.amount_minor:+d}"


class Bonus(models.Model):
    """A requester's bonus to a worker. Unique per (requester, client_token): a retried POST
    returns the first bonus instead of paying again."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bonuses_given"
    )
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bonuses_received"
    )
    amount_minor = models.PositiveBigIntegerField()
    fee_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    client_token = models.CharField(max_length=100)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="bonus")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "bonuses"
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["requester", "client_token"], name="bonus_requester_client_token"
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="bonus_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"bonus {self.amount_minor} {self.currency} to {self.worker_id}"


class TopUpStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    EXPIRED = "expired", "Expired"
    REFUNDED = "refunded", "Refunded in full"
    DISPUTED = "disputed", "Disputed (chargeback open or lost)"


class TopUp(models.Model):
    """A Stripe Checkout top-up. Credited only by the verified `checkout.session.completed`
    webhook (ledger key `topup-<id>-credit`), never by the browser coming back. The payment
    behind it (PaymentIntent, Charge) is kept so that Stripe's fee, refunds and disputes of
    that charge find their top-up and its requester."""

    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topups"
    )
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=TopUpStatus.choices, default=TopUpStatus.PENDING, db_index=True
    )
    client_token = models.CharField(max_length=100)
    checkout_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    charge_id = models.CharField(max_length=255, blank=True, db_index=True)
    # Stripe's processing fee on the charge, once booked (platform revenue -> Stripe clearing).
    stripe_fee_minor = models.BigIntegerField(null=True, blank=True)
    # Cumulative amount refunded and booked; only ever grows (Stripe's `amount_refunded`).
    refunded_minor = models.PositiveBigIntegerField(default=0)
    entry = models.OneToOneField(
        JournalEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="topup"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["requester", "client_token"], name="topup_requester_client_token"
            ),
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="topup_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"top-up {self.pk} {self.amount_minor} {self.currency} ({self.status})"


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class StripeEvent(models.Model):
    """The webhook inbox: every verified event once (unique Stripe id), processed idempotently;
    a failed one keeps its error and can be replayed from admin or by the beat task."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    account = models.CharField(max_length=255, blank=True)
    created = models.BigIntegerField(help_text="Stripe's event timestamp (seconds)")
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED, db_index=True
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id} ({self.status})"


class ReconciliationReport(models.Model):
    """One comparison of the Stripe clearing account with Stripe's balance transactions."""

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    summary = models.JSONField(default=dict)
    differences = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        state = "ok" if self.ok else f"{len(self.differences)} differences"
        return f"reconciliation {self.period_start:%Y-%m-%d}..{self.period_end:%Y-%m-%d}: {state}"

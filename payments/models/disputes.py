"""A card dispute (chargeback) of a top-up, as Stripe last reported it.

The money moves in the ledger (entries `dispute-<dp>-<txn>` and their fees, one per balance
transaction Stripe withdrew or reinstated); this row is what an admin looks at: which top-up,
which requester, how much, why, and by when evidence is due. Kept out of `payments.models`
(re-exported there) only to keep that module a readable size.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

#: Stripe's final dispute statuses: once one is recorded, a late event with an open status
#: (delivered out of order) does not bring the dispute back.
DISPUTE_FINAL_STATUSES = frozenset({"won", "lost", "prevented", "warning_closed"})


class Dispute(models.Model):
    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    topup = models.ForeignKey("payments.TopUp", on_delete=models.PROTECT, related_name="disputes")
    amount_minor = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=100, blank=True)
    # Stripe's status: needs_response, under_review, won, lost, warning_* ...
    status = models.CharField(max_length=40, db_index=True)
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    # What the ledger booked from this dispute's balance transactions (amounts, fees apart).
    withdrawn_minor = models.BigIntegerField(default=0)
    reinstated_minor = models.BigIntegerField(default=0)
    fees_minor = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return (
            f"dispute {self.stripe_dispute_id} {self.amount_minor} {self.currency} ({self.status})"
        )

    @property
    def is_final(self) -> bool:
        return self.status in DISPUTE_FINAL_STATUSES

"""Workers' bank details for manual (bank-transfer) payouts, encrypted at rest.

Only the Fernet token is stored (`payments.payouts.details` encrypts and decrypts it with the
key from settings); `masked_account` (the last four characters) lets pages and admin lists
show which account without decrypting. Imports nothing from `payments.models`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PayoutDetails(models.Model):
    """One row per worker; replaced, never versioned (the batch CSV copies what it sends)."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_details"
    )
    # Fernet token of {"account_holder", "account", "bank_code"} as JSON. Never plain text.
    ciphertext = models.TextField(editable=False)
    masked_account = models.CharField(max_length=40, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "payout details"

    def __str__(self) -> str:
        return f"payout details of {self.worker} ({self.masked_account})"

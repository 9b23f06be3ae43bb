"""`manage.py book_stripe_transaction TXN_ID --reason "..."`.

Books a Stripe balance transaction that no webhook books (an adjustment, a Stripe billing fee)
against platform revenue, once per id, so that the reconciliation that named it as `unbooked`
is clean again. Charges, refunds, disputes, transfers and payouts are refused: they are booked
from their webhooks (replay the event in admin instead).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.errors import DomainError
from payments import stripe_gateway as gateway
from payments.services import stripe_transaction_book


class Command(BaseCommand):
    help = "Book a Stripe balance transaction (adjustment, Stripe fee) that has no webhook."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("transaction_id", help="txn_... as in the reconciliation report")
        parser.add_argument("--reason", required=True, help="why (ticket, invoice, note)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            entry = stripe_transaction_book(
                transaction_id=options["transaction_id"], reason=options["reason"], by=None
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        except gateway.GatewayError as exc:
            raise CommandError(f"Stripe: {exc}") from exc
        self.stdout.write(f"Booked {options['transaction_id']} (entry {entry.pk}).")

"""`manage.py credit_balance EMAIL AMOUNT_MINOR [--currency usd] --reference REF`.

For money that arrived outside Stripe (invoice paid, bank transfer). Idempotent by reference:
running it twice with the same reference credits once.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from marketplace.errors import DomainError
from payments.services import balance_credit, requester_available


class Command(BaseCommand):
    help = "Credit a requester's balance (invoice or bank transfer), once per reference."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("amount_minor", type=int, help="integer minor units, e.g. cents")
        parser.add_argument("--currency", default="usd")
        parser.add_argument("--reference", required=True, help="invoice or bank reference")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"No user with email {options['email']}.")
        try:
            entry = balance_credit(
                requester=user,
                amount_minor=options["amount_minor"],
                currency=options["currency"],
                reference=options["reference"],
                by=None,
            )
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.detail}") from exc
        balance = requester_available(requester_id=user.pk, currency=options["currency"])
        self.stdout.write(
            f"Credited {options['amount_minor']} {options['currency'].lower()} to {user.email} "
            f"(reference {options['reference']}, entry {entry.pk}); balance now {balance}."
        )

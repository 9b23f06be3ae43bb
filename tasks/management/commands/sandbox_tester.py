"""`manage.py sandbox_tester REQUESTER_EMAIL [WORKER_EMAIL ...] [--remove]`: choose the
workers who see a requester's sandbox (play-money) bundles; with no worker, list them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from marketplace.errors import DomainError
from tasks.sandbox import sandbox_tester_add, sandbox_tester_remove, sandbox_testers


class Command(BaseCommand):
    help = "Add (or --remove) sandbox test workers of a requester; list them without workers."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("requester")
        parser.add_argument("workers", nargs="*")
        parser.add_argument("--remove", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        requester = User.objects.filter(email__iexact=options["requester"]).first()
        if requester is None:
            raise CommandError(f"No user {options['requester']}.")
        try:
            for email in options["workers"]:
                if options["remove"]:
                    sandbox_tester_remove(requester=requester, worker=email)
                else:
                    sandbox_tester_add(requester=requester, worker=email)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        for tester in sandbox_testers(requester):
            self.stdout.write(tester.email)

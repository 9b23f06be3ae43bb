"""`manage.py check_books`: the whole money self-check. Every ledger entry balanced, every
cached balance equal to its postings and not negative (`payments.selectors.ledger_problems`),
and every bundle's escrow covering its pending work at its cost per judgment
(`tasks.selectors.escrow_problems`). Prints each problem and exits non-zero if there is one,
so cron or CI notices."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tasks.selectors import books_problems


class Command(BaseCommand):
    help = "Check the ledger and that every bundle's escrow covers its pending work."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = books_problems()
        for problem in problems:
            self.stdout.write(f"PROBLEM {problem}")
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in the books")
        self.stdout.write("OK: the ledger balances and every escrow covers its pending work.")

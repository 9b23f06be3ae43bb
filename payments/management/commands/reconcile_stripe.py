"""`manage.py reconcile_stripe --since 2026-11-24 --until 2026-11-25`: compare the Stripe
clearing account with Stripe's balance transactions for the period and print the differences.
Exits non-zero when they disagree, so cron or CI notices."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from payments.reconciliation import reconcile


def _moment(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not an ISO date or datetime: {value}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.get_current_timezone())
    return parsed


class Command(BaseCommand):
    help = "Compare ledger Stripe clearing with Stripe balance transactions for a period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="ISO date/datetime (default: yesterday 00:00 UTC)")
        parser.add_argument("--until", help="ISO date/datetime, exclusive (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = datetime.combine(
            timezone.now().date(), time.min, tzinfo=timezone.get_current_timezone()
        )
        until = _moment(options["until"]) if options["until"] else today
        since = _moment(options["since"]) if options["since"] else until - timedelta(days=1)
        if since >= until:
            raise CommandError("--since must be before --until")
        report = reconcile(since=since, until=until)
        self.stdout.write(f"Reconciliation report {report.pk}: {since} .. {until}")
        self.stdout.write(json.dumps(report.summary, indent=2, sort_keys=True))
        if report.error:
            self.stdout.write(f"note: {report.error}")
        for difference in report.differences:
            self.stdout.write(f"DIFFERENCE {json.dumps(difference, sort_keys=True)}")
        if not report.ok:
            raise CommandError(f"{len(report.differences)} differences (report {report.pk})")
        self.stdout.write("OK: ledger and Stripe agree.")

"""Shared setup for the fair-pay and due-process tests."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tasks import services
from tasks import work as tasks_work
from tasks.models import Assignment


def answer(bundle, worker, *, seconds: float = 10.0, value: str = "pos") -> Assignment:
    """Claim and submit one task as `worker`, having worked `seconds` on it (the claim is
    moved back in time, so the hot path records that work time itself)."""
    claimed = tasks_work.assignment_claim(bundle=bundle, worker=worker)
    Assignment.objects.filter(pk=claimed.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=seconds)
    )
    return services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer=value)


def drain(requester, currency: str = "usd") -> int:
    """Take the requester's whole available balance back out (an honest ledger entry against
    admin-credit clearing), so a test can see what happens when they cannot pay."""
    from payments.ledger import post_entry
    from payments.models import AccountKind, EntryKind
    from payments.services import account_get, requester_available

    held = requester_available(requester_id=requester.pk, currency=currency)
    if held:
        available = account_get(
            kind=AccountKind.REQUESTER_AVAILABLE, currency=currency, owner_id=requester.pk
        )
        clearing = account_get(kind=AccountKind.ADMIN_CREDIT_CLEARING, currency=currency)
        post_entry(
            idempotency_key=f"test-drain-{requester.pk}-{held}",
            kind=EntryKind.ADMIN_CREDIT,
            postings=[(available, -held), (clearing, held)],
        )
    return held

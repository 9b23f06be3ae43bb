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

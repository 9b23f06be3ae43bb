"""Whether a worker may claim in a bundle now, and if not, why."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from accounts.models import User, WorkerStatus
from accounts.qualifications import (
    requirement_failures,
    requirements_parse,
    worker_qualification_values,
)
from marketplace.errors import DomainError
from tasks.models import Bundle

from .sql import SQL, fetch


class NoTasksAvailable(DomainError):
    code = "no_tasks_available"
    http_status = 409


@dataclass(frozen=True)
class WorkerStanding:
    """Whether a worker may claim in a bundle now, and if not, why (code + reason)."""

    allowed: bool
    code: str = ""
    reason: str = ""
    submitted: int = 0
    held_assignment_id: int | None = None


def worker_standing(*, worker: User, bundle: Bundle) -> WorkerStanding:
    """Account status, own bundle, per-bundle block and qualifications, in that order, plus
    the claim the worker already holds here (one query unless the bundle has requirements)."""
    refusal = account_refusal(worker, bundle)
    if refusal is not None:
        return refusal
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    row = fetch(SQL.standing, [worker.pk, bundle.pk, now, worker.pk, bundle.pk])
    assert row is not None  # one row always: the stats are LEFT JOINed to a constant
    blocked, blocked_reason, submitted, paused, held = row
    if blocked:
        return WorkerStanding(False, "blocked", blocked_reason or "Blocked from this bundle.")
    if paused:
        reason = "Paused for review by the requester: " + (blocked_reason or "a quality rule.")
        return WorkerStanding(False, "paused", reason)
    unqualified = qualification_failure(worker, bundle)
    if unqualified is not None:
        return unqualified
    return WorkerStanding(True, submitted=submitted or 0, held_assignment_id=held)


def account_refusal(worker: User, bundle: Bundle) -> WorkerStanding | None:
    """What the worker object alone says against claiming here (no query)."""
    profile = getattr(worker, "worker_profile", None)
    if profile is None:
        return WorkerStanding(False, "not_a_worker", "This needs a worker account.")
    if profile.status != WorkerStatus.ACTIVE:
        reason = f"Your account is {profile.status}: {profile.status_reason}".rstrip(": ")
        return WorkerStanding(False, "blocked", reason)
    if bundle.requester_id == worker.pk:
        return WorkerStanding(False, "own_bundle", "You cannot work on your own bundle.")
    return None


def qualification_failure(worker: User, bundle: Bundle) -> WorkerStanding | None:
    """The bundle's requirements the worker misses, if any (a query only when it has some)."""
    requirements = requirements_parse(bundle.requirements)
    if not requirements:
        return None
    values = worker_qualification_values(worker, [bundle.requester_id])
    failures = requirement_failures(requirements, values, bundle.requester_id)
    if not failures:
        return None
    return WorkerStanding(False, "not_qualified", "Requires " + "; ".join(failures))

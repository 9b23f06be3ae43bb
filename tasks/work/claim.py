"""Claiming: hand a worker one task from a bundle, never beyond what an item needs."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from marketplace.db import statement_savepoint
from marketplace.errors import Forbidden
from tasks.models import Assignment, AssignmentStatus, Bundle, BundleStatus

from .expiry import claim_expire
from .rows import claimed_assignment, json_value
from .sql import SQL, Prepared, fetch
from .standing import (
    NoTasksAvailable,
    WorkerStanding,
    account_refusal,
    qualification_failure,
    worker_standing,
)

DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE for a deadlock victim

# New workers see gold more often so they are calibrated quickly (Toloka's training idea).
GOLD_WARMUP_SUBMISSIONS = 10
GOLD_WARMUP_FACTOR = 3.0


def assignment_claim(*, bundle: Bundle, worker: User) -> Assignment:
    """Hand the worker one task from the bundle, or say why not.

    A worker holds at most one live claim per bundle (a partial unique index says so): asking
    again returns the claim they hold, so a retried request never takes a second slot, and a
    claim left past its deadline is expired then and there. On PostgreSQL the standing checks,
    the pick and the new assignment are one statement: `FOR UPDATE SKIP LOCKED` lets
    concurrent workers pass each other without waiting, and `slots_open` (decremented in the
    same UPDATE) means no item is ever handed out beyond what it needs. On SQLite, BEGIN
    IMMEDIATE serialises the same steps.
    """
    refusal = account_refusal(worker, bundle)
    if refusal is not None:
        raise Forbidden(refusal.reason, code=refusal.code)
    qualified = qualification_failure(worker, bundle)
    for attempt in range(3):
        now = timezone.now()
        deadline = now + timedelta(seconds=bundle.time_limit_seconds)
        try:
            if connection.vendor == "postgresql":
                return _claim_postgresql(bundle, worker, qualified, now, deadline)
            return _claim_portable(bundle, worker, now, deadline)
        except IntegrityError:
            # The worker already holds a claim here (a retried request, or one left past its
            # deadline): hand that back, or expire it and try again.
            held = _live_claim(bundle, worker, now)
            if held is not None:
                return held
            if attempt == 2:
                raise
        except OperationalError as exc:
            # PostgreSQL chose this one statement as a deadlock's victim; it rolled back
            # entirely, so running it again is safe outside a caller's transaction. (The
            # deadlock CI found, with the whole-bundle re-estimate, is gone at its cause: the
            # lock order of `tasks.locking`; this stays as a safety net.)
            deadlock = getattr(exc.__cause__, "pgcode", None) == DEADLOCK_DETECTED
            if not deadlock or connection.in_atomic_block or attempt == 2:
                raise
    raise AssertionError("unreachable")


def gold_rate_for(bundle: Bundle, submitted: int) -> float:
    """The chance of a gold claim for a worker with `submitted` answers in the bundle."""
    if submitted < GOLD_WARMUP_SUBMISSIONS:
        return max(bundle.gold_rate, min(0.5, bundle.gold_rate * GOLD_WARMUP_FACTOR))
    return bundle.gold_rate


def claim_statement(bundle: Bundle, worker: User) -> tuple[str, list[Any] | dict[str, Any]]:
    """The statement a claim runs on this database, with its parameters (for EXPLAIN)."""
    if connection.vendor == "postgresql":
        now = timezone.now()
        deadline = now + timedelta(seconds=bundle.time_limit_seconds)
        return SQL.claim.sql, claim_params(bundle, worker, now, deadline, 1.0)
    return SQL.take, {"bundle": bundle.pk, "worker": worker.pk}


def claim_params(
    bundle: Bundle, worker: User, now: datetime, deadline: datetime, draw: float
) -> dict[str, Any]:
    """Parameters of the PostgreSQL claim (and of the claim half of the loop statement)."""
    # A draw under the normal gold rate never gets here; one under the warm-up rate means gold
    # if the worker is still new here, which only the statement knows.
    warming = draw < gold_rate_for(bundle, 0)
    return {
        "worker": worker.pk,
        "bundle": bundle.pk,
        "now": now,
        "deadline": deadline,
        "min_submitted": GOLD_WARMUP_SUBMISSIONS if warming else 0,
    }


def _claim_postgresql(
    bundle: Bundle,
    worker: User,
    qualified: WorkerStanding | None,
    now: datetime,
    deadline: datetime,
) -> Assignment:
    """The whole claim in one statement: take the first open item the worker has not seen
    and record the assignment, unless the worker is blocked here or (for the gold draw
    between the normal and the warm-up rate) is still in gold warm-up. Anything else that can
    stop a claim is decided before it runs, and why nothing was taken is asked only after."""
    published = bundle.status == BundleStatus.PUBLISHED
    draw = random.random() if bundle.gold_rate > 0 else 1.0
    params = claim_params(bundle, worker, now, deadline, draw)
    # Training first: a bundle with training items takes the long way below.
    if published and qualified is None and draw >= bundle.gold_rate and not bundle.training_items:
        taken = _run_claim(SQL.claim, params)
        if taken is not None:
            return claimed_assignment(
                bundle, worker, *taken, is_gold=False, now=now, deadline=deadline
            )
    # Nothing taken, or nothing to take: find out why, in the order a worker should hear it.
    standing = fetch(SQL.claim_stats, [worker.pk, bundle.pk])
    blocked, reason, submitted, paused = standing or (False, "", 0, False)
    if blocked:
        raise Forbidden(reason or "Blocked from this bundle.", code="blocked")
    if paused:
        raise Forbidden(
            "Paused for review by the requester: " + (reason or "a quality rule."), code="paused"
        )
    if qualified is not None:
        raise Forbidden(qualified.reason, code=qualified.code)
    if not published:
        raise NoTasksAvailable(f"The bundle is {bundle.status}.")
    if bundle.training_items:
        training = _claim_gold(bundle, worker, now, deadline, training=True)
        if training is not None:
            return training
    if draw < gold_rate_for(bundle, submitted):
        picked = _claim_gold(bundle, worker, now, deadline)
        if picked is not None:
            return picked
    params["min_submitted"] = 0  # gold was drawn and tried, or not drawn: real work now
    taken = _run_claim(SQL.claim_waiting, params)
    if taken is not None:
        return claimed_assignment(bundle, worker, *taken, is_gold=False, now=now, deadline=deadline)
    raise NoTasksAvailable("No tasks are left for you in this bundle.")


def _run_claim(statement: Prepared, params: dict[str, Any]) -> tuple[int, int, Any] | None:
    """Run a one-statement claim: (assignment, item, payload), or None if it took nothing."""
    with statement_savepoint():
        row = fetch(statement, params)
    return None if row is None else (row[0], row[1], json_value(row[2]))


def _claim_portable(bundle: Bundle, worker: User, now: datetime, deadline: datetime) -> Assignment:
    standing = worker_standing(worker=worker, bundle=bundle)
    if not standing.allowed:
        raise Forbidden(standing.reason, code=standing.code)
    if bundle.status != BundleStatus.PUBLISHED:
        raise NoTasksAvailable(f"The bundle is {bundle.status}.")
    if standing.held_assignment_id is not None:
        return Assignment.objects.select_related("item").get(pk=standing.held_assignment_id)
    if bundle.training_items:
        training = _claim_gold(bundle, worker, now, deadline, training=True)
        if training is not None:
            return training
    wants_gold = bundle.gold_rate > 0 and random.random() < gold_rate_for(
        bundle, standing.submitted
    )
    picked = _claim_gold(bundle, worker, now, deadline) if wants_gold else None
    if picked is not None:
        return picked
    taken = _take_open_item(bundle.pk, worker.pk, now, deadline)
    if taken is None:
        raise NoTasksAvailable("No tasks are left for you in this bundle.")
    return claimed_assignment(bundle, worker, *taken, is_gold=False, now=now, deadline=deadline)


def _live_claim(bundle: Bundle, worker: User, now: datetime) -> Assignment | None:
    """The claim the worker holds in this bundle if it is still within its deadline; one past
    it is expired (its slot goes back) so the caller can claim afresh."""
    claim = (
        Assignment.objects.select_related("item")
        .filter(bundle=bundle, worker=worker, status=AssignmentStatus.CLAIMED)
        .first()
    )
    if claim is None:
        return None
    if claim.deadline > now:
        return claim
    claim_expire(
        assignment_id=claim.pk, bundle_id=claim.bundle_id, item_id=claim.item_id,
        is_gold=claim.is_gold,
    )  # fmt: skip
    return None


def _take_open_item(
    bundle_id: int, worker_id: int, now: datetime, deadline: datetime
) -> tuple[int, int, Any] | None:
    """Take a slot and record the claim in one transaction (the portable path; BEGIN IMMEDIATE
    on SQLite serialises it)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(SQL.take, {"bundle": bundle_id, "worker": worker_id})
            row = cursor.fetchone()
        if row is None:
            return None
        item_id, payload = row
        assignment_id = _insert_claim(bundle_id, item_id, worker_id, False, now, deadline)
    return assignment_id, item_id, json_value(payload)


def _claim_gold(
    bundle: Bundle, worker: User, now: datetime, deadline: datetime, *, training: bool = False
) -> Assignment | None:
    """Claim a gold item the worker has not seen (with `training`, the first training item
    they have not done), if the bundle's gold budget allows one."""
    with connection.cursor() as cursor:
        pick = SQL.pick_training if training else SQL.pick_gold
        cursor.execute(pick, {"bundle": bundle.pk, "worker": worker.pk})
        picked = cursor.fetchone()
    if picked is None:
        return None
    item_id, payload = picked[0], json_value(picked[1])
    with transaction.atomic():
        # Gold is paid like any work: take one of the gold judgments escrow paid for.
        took = Bundle.objects.filter(pk=bundle.pk, gold_slots_open__gt=0).update(
            gold_slots_open=F("gold_slots_open") - 1
        )
        if not took:
            return None
        assignment_id = _insert_claim(bundle.pk, item_id, worker.pk, True, now, deadline)
    return claimed_assignment(
        bundle, worker, assignment_id, item_id, payload, is_gold=True, now=now, deadline=deadline
    )


def _insert_claim(
    bundle_id: int, item_id: int, worker_id: int, is_gold: bool, now: datetime, deadline: datetime
) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "bundle": bundle_id,
        "item": item_id,
        "worker": worker_id,
        "is_gold": is_gold,
        "now": adapt(now),
        "deadline": adapt(deadline),
    }
    with connection.cursor() as cursor:
        cursor.execute(SQL.insert_claim, params)
        return cursor.fetchone()[0]

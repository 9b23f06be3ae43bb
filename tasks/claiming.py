"""The hot path: claiming a task, submitting an answer, giving it back, expiring claims.

Claim and submit run thousands of times a minute, so they are written as a few lean SQL
statements (each portable between PostgreSQL and SQLite) rather than ORM round trips:
a claim is one read and one short transaction of two statements; a submit is one locked read
and three writes. Everything else about tasks goes through the ORM in `tasks.services`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User, WorkerStatus
from accounts.qualifications import (
    requirement_failures,
    requirements_parse,
    worker_qualification_values,
)
from marketplace.db import execute_prepared
from marketplace.errors import Conflict, DomainError, Forbidden, InvalidTransition

from .models import Assignment, AssignmentStatus, Bundle, BundleStatus, Item
from .schema import answer_validate, answers_agree
from .states import (
    STATS_CONFLICT,
    STATS_UPSERT,
    AssignmentNotFound,
    assignment_transition,
    lock_assignment,
    release_claim_slot,
    stats_params,
)

# New workers see gold more often so they are calibrated quickly (Toloka's training idea).
GOLD_WARMUP_SUBMISSIONS = 10
GOLD_WARMUP_FACTOR = 3.0


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


_STANDING_SQL = """
    SELECT s.blocked, s.blocked_reason, s.submitted,
           (SELECT a.id FROM tasks_assignment a
             WHERE a.worker_id = %s AND a.status = 'claimed' AND a.bundle_id = %s
               AND a.deadline > %s
             ORDER BY a.id LIMIT 1)
      FROM (SELECT 1 AS one) AS x
      LEFT JOIN tasks_workerbundlestats s ON s.worker_id = %s AND s.bundle_id = %s
"""


def worker_standing(*, worker: User, bundle: Bundle) -> WorkerStanding:
    """Account status, own bundle, per-bundle block and qualifications, in that order, plus
    the claim the worker already holds here (one query unless the bundle has requirements)."""
    profile = getattr(worker, "worker_profile", None)
    if profile is None:
        return WorkerStanding(False, "not_a_worker", "This needs a worker account.")
    if profile.status != WorkerStatus.ACTIVE:
        reason = f"Your account is {profile.status}: {profile.status_reason}".rstrip(": ")
        return WorkerStanding(False, "blocked", reason)
    if bundle.requester_id == worker.pk:
        return WorkerStanding(False, "own_bundle", "You cannot work on your own bundle.")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        execute_prepared(
            cursor, "cm_standing", _STANDING_SQL, [worker.pk, bundle.pk, now, worker.pk, bundle.pk]
        )
        blocked, blocked_reason, submitted, held = cursor.fetchone()
    if blocked:
        return WorkerStanding(False, "blocked", blocked_reason or "Blocked from this bundle.")
    requirements = requirements_parse(bundle.requirements)
    if requirements:
        values = worker_qualification_values(worker, [bundle.requester_id])
        failures = requirement_failures(requirements, values, bundle.requester_id)
        if failures:
            return WorkerStanding(False, "not_qualified", "Requires " + "; ".join(failures))
    return WorkerStanding(True, submitted=submitted or 0, held_assignment_id=held)


def assignment_claim(*, bundle: Bundle, worker: User) -> Assignment:
    """Hand the worker one task from the bundle, or say why not.

    A worker holds at most one live claim per bundle: asking again returns the claim they hold
    (so a retried request never takes a second slot). The pick is one short transaction; on
    PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent workers pass each other without
    waiting, and `slots_open` (decremented in the same UPDATE) means no item is ever handed
    out beyond what it needs. On SQLite, BEGIN IMMEDIATE serialises the same statements.
    """
    standing = worker_standing(worker=worker, bundle=bundle)
    if not standing.allowed:
        raise Forbidden(standing.reason, code=standing.code)
    if bundle.status != BundleStatus.PUBLISHED:
        raise NoTasksAvailable(f"The bundle is {bundle.status}.")
    if standing.held_assignment_id is not None:
        return Assignment.objects.select_related("item").get(pk=standing.held_assignment_id)
    now = timezone.now()
    deadline = now + timedelta(seconds=bundle.time_limit_seconds)
    picked = None
    if bundle.gold_rate > 0 and random.random() < gold_rate_for(bundle, standing.submitted):
        picked = _pick_gold_item(bundle.pk, worker.pk)
    if picked is not None:
        item_id, payload, is_gold = picked
        with transaction.atomic():
            # Gold is paid like any work: take one of the gold judgments escrow paid for.
            took = Bundle.objects.filter(pk=bundle.pk, gold_slots_open__gt=0).update(
                gold_slots_open=F("gold_slots_open") - 1
            )
            if took:
                assignment_id = _insert_claim(bundle.pk, item_id, worker.pk, True, now, deadline)
        if not took:
            picked = None
    if picked is None:
        taken = _take_open_item(bundle.pk, worker.pk, now, deadline)
        if taken is None:
            raise NoTasksAvailable("No tasks are left for you in this bundle.")
        assignment_id, item_id, payload = taken
        is_gold = False
    assignment = Assignment(
        pk=assignment_id,
        bundle=bundle,
        item=Item(pk=item_id, bundle=bundle, payload=payload, is_gold=is_gold),
        worker=worker,
        status=AssignmentStatus.CLAIMED,
        is_gold=is_gold,
        claimed_at=now,
        deadline=deadline,
    )
    assignment._state.adding = False
    return assignment


def gold_rate_for(bundle: Bundle, submitted: int) -> float:
    if submitted < GOLD_WARMUP_SUBMISSIONS:
        return max(bundle.gold_rate, min(0.5, bundle.gold_rate * GOLD_WARMUP_FACTOR))
    return bundle.gold_rate


def claim_statement(bundle_id: int, worker_id: int) -> tuple[str, list[Any]]:
    """The one statement that takes a slot: the first open item (in serving order) that the
    worker has not seen, served from the partial index `item_claim_open`; rows other workers
    hold locked are skipped, not waited on."""
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = f"""
        UPDATE tasks_item
           SET slots_open = slots_open - 1,
               state = CASE WHEN slots_open = 1 THEN 'full' ELSE 'open' END
         WHERE id = (
               SELECT i.id FROM tasks_item i
                WHERE i.bundle_id = %s AND i.state = 'open' AND i.is_gold = %s
                  AND i.slots_open > 0
                  AND NOT EXISTS (SELECT 1 FROM tasks_assignment a
                                   WHERE a.item_id = i.id AND a.worker_id = %s)
                ORDER BY i.priority, i.id
                LIMIT 1{lock})
           AND slots_open > 0
     RETURNING id, payload
    """  # noqa: S608 - only the constant lock clause is interpolated
    return sql, [bundle_id, False, worker_id]


_CLAIM_PG = """
    WITH taken AS ({claim})
    INSERT INTO tasks_assignment
           (bundle_id, item_id, worker_id, status, is_gold, claimed_at, deadline,
            auto_approved, reject_reason)
    SELECT %s, taken.id, %s, 'claimed', false, %s, %s, false, '' FROM taken
    RETURNING id, item_id, (SELECT payload FROM taken)
"""


def _take_open_item(
    bundle_id: int, worker_id: int, now: datetime, deadline: datetime
) -> tuple[int, int, Any] | None:
    """Take a slot and record the claim atomically: on PostgreSQL as one statement (one round
    trip, one commit); elsewhere as the same two statements in one transaction."""
    sql, params = claim_statement(bundle_id, worker_id)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            execute_prepared(
                cursor,
                "cm_claim",
                _CLAIM_PG.format(claim=sql),
                [*params, bundle_id, worker_id, now, deadline],
            )
            row = cursor.fetchone()
        return None if row is None else (row[0], row[1], _json(row[2]))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        item_id, payload = row
        assignment_id = _insert_claim(bundle_id, item_id, worker_id, False, now, deadline)
    return assignment_id, item_id, _json(payload)


def _pick_gold_item(bundle_id: int, worker_id: int) -> tuple[int, Any, bool] | None:
    """A gold item the worker has not seen, in a per-worker shuffled order (so workers cannot
    compare notes on "the first gold"). Gold is never used up, so nothing is locked."""
    sql = """
        SELECT i.id, i.payload FROM tasks_item i
         WHERE i.bundle_id = %s AND i.state = 'open' AND i.is_gold = %s
           AND NOT EXISTS (SELECT 1 FROM tasks_assignment a
                            WHERE a.item_id = i.id AND a.worker_id = %s)
         ORDER BY (i.id * 2654435761 + %s * 40503) %% 1000003, i.id
         LIMIT 1
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [bundle_id, True, worker_id, worker_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0], _json(row[1]), True


_INSERT_CLAIM = """
    INSERT INTO tasks_assignment
           (bundle_id, item_id, worker_id, status, is_gold, claimed_at, deadline,
            auto_approved, reject_reason)
    VALUES (%s, %s, %s, 'claimed', %s, %s, %s, %s, '')
    RETURNING id
"""


def _insert_claim(
    bundle_id: int, item_id: int, worker_id: int, is_gold: bool, now: datetime, deadline: datetime
) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_CLAIM,
            [bundle_id, item_id, worker_id, is_gold, adapt(now), adapt(deadline), False],
        )
        return cursor.fetchone()[0]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


_SUBMIT_READ = """
    SELECT a.status, a.deadline, a.claimed_at, a.is_gold, a.item_id, a.bundle_id,
           i.gold, b.question, b.min_overlap, b.max_overlap, b.min_gold_accuracy,
           b.min_seconds_per_task
      FROM tasks_assignment a
      JOIN tasks_item i ON i.id = a.item_id
      JOIN tasks_bundle b ON b.id = a.bundle_id
     WHERE a.id = %s AND a.worker_id = %s
"""
_SUBMIT_WRITE = """
    UPDATE tasks_assignment
       SET status = 'submitted', answer = %s, submitted_at = %s, seconds_spent = %s,
           gold_correct = %s
     WHERE id = %s AND status = 'claimed' AND deadline > %s
"""
_ITEM_JUDGMENT = """
    UPDATE tasks_item
       SET judgments_submitted = judgments_submitted + 1,
           state = CASE WHEN judgments_submitted + 1 >= %s THEN 'complete' ELSE state END,
           slots_open = CASE WHEN judgments_submitted + 1 >= %s THEN 0 ELSE slots_open END
     WHERE id = %s
"""
# PostgreSQL: the three writes of a submission as one statement (atomic by itself); the item
# and the stats change only if the assignment did.
_SUBMIT_PG = f"""
    WITH done AS ({_SUBMIT_WRITE} RETURNING id),
    judged AS ({_ITEM_JUDGMENT} AND %s AND EXISTS (SELECT 1 FROM done) RETURNING id),
    counted AS (
        INSERT INTO tasks_workerbundlestats
               (worker_id, bundle_id, submitted, approved, rejected, gold_seen, gold_correct,
                blocked, blocked_reason)
        SELECT %s, %s, %s, %s, %s, %s, %s, %s, '' FROM done
        {STATS_CONFLICT}
        RETURNING id)
    SELECT (SELECT count(*) FROM done), (SELECT count(*) FROM judged),
           (SELECT count(*) FROM counted)
"""  # noqa: S608 - composed from the constant statements above


def assignment_submit(*, assignment_id: int, worker: User, answer: Any) -> Assignment:
    """Record the worker's answer: validated against the schema, gold scored now, the item's
    judgment counted (it completes when it has what it needs), the worker's stats updated,
    all in one transaction. Every write is conditional on the claim still being live, so a
    concurrent expiry or return makes this a clean conflict, never a double count.

    A submission after the deadline expires the claim (committed) and is refused."""
    with connection.cursor() as cursor:
        execute_prepared(cursor, "cm_submit_read", _SUBMIT_READ, [assignment_id, worker.pk])
        row = cursor.fetchone()
    if row is None:
        raise AssignmentNotFound("No such assignment.")
    (status, deadline, claimed_at, is_gold, item_id, bundle_id, gold, question, min_overlap,
     max_overlap, min_gold_accuracy, min_seconds) = row  # fmt: skip
    if status != AssignmentStatus.CLAIMED:
        raise InvalidTransition(f"This assignment is {status}; it cannot be submitted.")
    now = timezone.now()
    if _datetime(deadline) <= now:
        _expire_claim(assignment_id, bundle_id, item_id, is_gold)
        raise DomainError("The time limit has passed.", code="deadline_passed", http_status=409)
    question = _json(question)
    clean = answer_validate(question, answer)
    gold_correct = answers_agree(question, clean, _json(gold)) if is_gold else None
    seconds = (now - _datetime(claimed_at)).total_seconds()
    when = connection.ops.adapt_datetimefield_value(now)
    write = [json.dumps(clean), when, seconds, gold_correct, assignment_id, when]
    # Fixed overlap completes an item at its overlap; dynamic overlap only at max here, and
    # earlier when the quality engine finds the item confident (tasks.quality.services).
    complete_at = max_overlap
    judgment = [complete_at, complete_at, item_id]
    gold_seen, gold_right = (1, int(bool(gold_correct))) if is_gold else (0, 0)
    stats = stats_params(worker.pk, bundle_id, submitted=1, gold_seen=gold_seen,
                         gold_correct=gold_right)  # fmt: skip
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            execute_prepared(
                cursor, "cm_submit", _SUBMIT_PG, [*write, *judgment, not is_gold, *stats]
            )
            submitted = cursor.fetchone()[0]
        else:
            with transaction.atomic():
                cursor.execute(_SUBMIT_WRITE, write)
                submitted = cursor.rowcount
                if submitted:
                    if not is_gold:
                        cursor.execute(_ITEM_JUDGMENT, judgment)
                    cursor.execute(STATS_UPSERT, stats)
    if submitted != 1:
        raise Conflict("The assignment changed meanwhile (expired or returned); reload it.")
    assignment = Assignment(
        pk=assignment_id, bundle_id=bundle_id, item_id=item_id, worker=worker,
        status=AssignmentStatus.SUBMITTED, is_gold=is_gold, answer=clean,
        gold_correct=gold_correct, claimed_at=_datetime(claimed_at),
        deadline=_datetime(deadline), submitted_at=now, seconds_spent=seconds,
    )  # fmt: skip
    assignment._state.adding = False
    dynamic = max_overlap > min_overlap and not is_gold
    if dynamic or (is_gold and min_gold_accuracy is not None) or min_seconds is not None:
        from .quality import services as quality

        quality.submission_recorded(
            assignment_id=assignment_id, bundle_id=bundle_id, worker_id=worker.pk,
            item_id=item_id, is_gold=is_gold,
        )  # fmt: skip
    return assignment


def _expire_claim(assignment_id: int, bundle_id: int, item_id: int, is_gold: bool) -> None:
    with transaction.atomic():
        expired = Assignment.objects.filter(
            pk=assignment_id, status=AssignmentStatus.CLAIMED
        ).update(status=AssignmentStatus.EXPIRED)
        if expired:
            release_claim_slot(bundle_id=bundle_id, item_id=item_id, is_gold=is_gold)


@transaction.atomic
def assignment_return(*, assignment_id: int, worker: User) -> Assignment:
    """The worker gives the task back; the slot goes back to the pool, nothing is paid."""
    assignment = lock_assignment(assignment_id, worker=worker)
    assignment_transition(assignment, AssignmentStatus.RETURNED)
    release_claim_slot(
        bundle_id=assignment.bundle_id, item_id=assignment.item_id, is_gold=assignment.is_gold
    )
    return assignment


def assignments_expire(*, now: Any = None, batch_size: int = 500) -> int:
    """Expire claims past their deadline and put their slots back. Safe to run concurrently:
    each batch locks what it takes with SKIP LOCKED, and the status UPDATE is conditional."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            query = Assignment.objects.filter(status=AssignmentStatus.CLAIMED, deadline__lte=now)
            if connection.vendor == "postgresql":
                query = query.select_for_update(skip_locked=True)
            due = list(query.values_list("id", "bundle_id", "item_id", "is_gold")[:batch_size])
            for assignment_id, bundle_id, item_id, is_gold in due:
                expired = Assignment.objects.filter(
                    pk=assignment_id, status=AssignmentStatus.CLAIMED
                ).update(status=AssignmentStatus.EXPIRED)
                if expired:
                    release_claim_slot(bundle_id=bundle_id, item_id=item_id, is_gold=is_gold)
                total += expired
        if len(due) < batch_size:
            return total


__all__ = [
    "NoTasksAvailable",
    "WorkerStanding",
    "assignment_claim",
    "assignment_return",
    "assignment_submit",
    "assignments_expire",
    "claim_statement",
    "worker_standing",
]

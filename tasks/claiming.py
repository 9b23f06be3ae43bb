"""The hot path: claiming a task, submitting an answer, giving it back, expiring claims.

Claim and submit run thousands of times a minute, so they are written as lean SQL rather than
ORM round trips. On PostgreSQL a claim is one statement, a submit is one (when the caller has
the bundle at hand), and a worker's loop step (answer plus next task) is one; what they did not
take goes a longer way that says why. On SQLite the same steps run as short transactions that
BEGIN IMMEDIATE serialises. Everything else about tasks goes through the ORM in
`tasks.services`.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User, WorkerStatus
from accounts.qualifications import (
    requirement_failures,
    requirements_parse,
    worker_qualification_values,
)
from marketplace.db import fetch_prepared, loaded_instance, statement_savepoint
from marketplace.errors import Conflict, DomainError, Forbidden, InvalidTransition

from .models import Assignment, AssignmentStatus, Bundle, BundleStatus, Item, ItemState
from .schema import InvalidAnswer, answer_validate, answers_agree
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
    refusal = _account_refusal(worker, bundle)
    if refusal is not None:
        return refusal
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    blocked, blocked_reason, submitted, held = fetch_prepared(
        "cm_standing", _STANDING_SQL, [worker.pk, bundle.pk, now, worker.pk, bundle.pk]
    )
    if blocked:
        return WorkerStanding(False, "blocked", blocked_reason or "Blocked from this bundle.")
    unqualified = _qualification_failure(worker, bundle)
    if unqualified is not None:
        return unqualified
    return WorkerStanding(True, submitted=submitted or 0, held_assignment_id=held)


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
    refusal = _account_refusal(worker, bundle)
    if refusal is not None:
        raise Forbidden(refusal.reason, code=refusal.code)
    qualified = _qualification_failure(worker, bundle)
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
    raise AssertionError("unreachable")


def _claim_portable(bundle: Bundle, worker: User, now: datetime, deadline: datetime) -> Assignment:
    standing = worker_standing(worker=worker, bundle=bundle)
    if not standing.allowed:
        raise Forbidden(standing.reason, code=standing.code)
    if bundle.status != BundleStatus.PUBLISHED:
        raise NoTasksAvailable(f"The bundle is {bundle.status}.")
    if standing.held_assignment_id is not None:
        return _held(standing.held_assignment_id)
    wants_gold = bundle.gold_rate > 0 and random.random() < gold_rate_for(
        bundle, standing.submitted
    )
    picked = _claim_gold(bundle, worker, now, deadline) if wants_gold else None
    if picked is not None:
        return picked
    taken = _take_open_item(bundle.pk, worker.pk, now, deadline)
    if taken is None:
        raise NoTasksAvailable("No tasks are left for you in this bundle.")
    return _claimed(bundle, worker, *taken, is_gold=False, now=now, deadline=deadline)


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
    _expire_claim(claim.pk, claim.bundle_id, claim.item_id, claim.is_gold)
    return None


def _account_refusal(worker: User, bundle: Bundle) -> WorkerStanding | None:
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


def _qualification_failure(worker: User, bundle: Bundle) -> WorkerStanding | None:
    """The bundle's requirements the worker misses, if any (a query only when it has some)."""
    requirements = requirements_parse(bundle.requirements)
    if not requirements:
        return None
    values = worker_qualification_values(worker, [bundle.requester_id])
    failures = requirement_failures(requirements, values, bundle.requester_id)
    if not failures:
        return None
    return WorkerStanding(False, "not_qualified", "Requires " + "; ".join(failures))


# PostgreSQL: the whole claim in one statement: take the first open item the worker has not
# seen and record the assignment, unless the worker is blocked here or (for the gold draw
# between the normal and the warm-up rate) is still in gold warm-up. Anything else that can
# stop a claim is decided before it runs, and why nothing was taken is asked only afterwards.
_TAKE_CTE = """taken AS (
        UPDATE tasks_item
           SET slots_open = slots_open - 1,
               state = CASE WHEN slots_open = 1 THEN 'full' ELSE 'open' END
         WHERE id = (
               SELECT i.id FROM tasks_item i
                WHERE {gate} i.bundle_id = %(bundle)s AND i.state = 'open'
                  AND i.is_gold = false AND i.slots_open > 0
                  AND NOT EXISTS (SELECT 1 FROM tasks_assignment a
                                   WHERE a.item_id = i.id AND a.worker_id = %(worker)s)
                  AND coalesce((SELECT NOT s.blocked AND s.submitted >= %(min_submitted)s::int
                                  FROM tasks_workerbundlestats s
                                 WHERE s.worker_id = %(worker)s AND s.bundle_id = %(bundle)s),
                               %(min_submitted)s::int = 0)
                ORDER BY i.priority, i.id
                LIMIT 1 {lock})
           AND slots_open > 0
        RETURNING id, payload)"""
_INSERT_CLAIM_FROM_TAKEN = """
    INSERT INTO tasks_assignment
           (bundle_id, item_id, worker_id, status, is_gold, claimed_at, deadline,
            auto_approved, reject_reason)
    SELECT %(bundle)s, taken.id, %(worker)s, 'claimed', false, %(now)s, %(deadline)s, false, ''
      FROM taken"""
_CLAIM_TEMPLATE = f"""
    WITH {_TAKE_CTE}
    {_INSERT_CLAIM_FROM_TAKEN}
    RETURNING id, item_id, (SELECT payload FROM taken)
"""  # noqa: S608 - composed from constant statements
_CLAIM_STATEMENT = _CLAIM_TEMPLATE.format(lock="FOR UPDATE SKIP LOCKED", gate="")
# SKIP LOCKED passes over items that other claims hold locked at this instant, so near the end
# of a bundle it can find nothing while a slot is about to be left open (an item with three
# slots locked by the claim taking its first). Before saying "no tasks", wait for them once.
_CLAIM_WAITING = _CLAIM_TEMPLATE.format(lock="FOR UPDATE", gate="")
_STATS_READ = """
    SELECT s.blocked, s.blocked_reason, s.submitted FROM tasks_workerbundlestats s
     WHERE s.worker_id = %s AND s.bundle_id = %s
"""


def _claim_postgresql(
    bundle: Bundle,
    worker: User,
    qualified: WorkerStanding | None,
    now: datetime,
    deadline: datetime,
) -> Assignment:
    published = bundle.status == BundleStatus.PUBLISHED
    draw = random.random() if bundle.gold_rate > 0 else 1.0
    params = _claim_params(bundle, worker, now, deadline, draw)
    if published and qualified is None and draw >= bundle.gold_rate:
        taken = _run_claim("cm_claim", _CLAIM_STATEMENT, params)
        if taken is not None:
            return _claimed(bundle, worker, *taken, is_gold=False, now=now, deadline=deadline)
    # Nothing taken, or nothing to take: find out why, in the order a worker should hear it.
    standing = fetch_prepared("cm_claim_stats", _STATS_READ, [worker.pk, bundle.pk])
    blocked, reason, submitted = standing or (False, "", 0)
    if blocked:
        raise Forbidden(reason or "Blocked from this bundle.", code="blocked")
    if qualified is not None:
        raise Forbidden(qualified.reason, code=qualified.code)
    if not published:
        raise NoTasksAvailable(f"The bundle is {bundle.status}.")
    if draw < gold_rate_for(bundle, submitted):
        picked = _claim_gold(bundle, worker, now, deadline)
        if picked is not None:
            return picked
    params["min_submitted"] = 0  # gold was drawn and tried, or not drawn: real work now
    taken = _run_claim("cm_claim_waiting", _CLAIM_WAITING, params)
    if taken is not None:
        return _claimed(bundle, worker, *taken, is_gold=False, now=now, deadline=deadline)
    raise NoTasksAvailable("No tasks are left for you in this bundle.")


def _run_claim(name: str, sql: str, params: dict[str, Any]) -> tuple[int, int, Any] | None:
    """Run a one-statement claim: (assignment, item, payload), or None if it took nothing."""
    with statement_savepoint():
        row = fetch_prepared(name, sql, params)
    return None if row is None else (row[0], row[1], _json(row[2]))


def _claim_params(
    bundle: Bundle, worker: User, now: datetime, deadline: datetime, draw: float
) -> dict[str, Any]:
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


def _held(assignment_id: int) -> Assignment:
    return Assignment.objects.select_related("item").get(pk=assignment_id)


def _claim_gold(
    bundle: Bundle, worker: User, now: datetime, deadline: datetime
) -> Assignment | None:
    """Claim a gold item the worker has not seen, if the bundle's gold budget allows one."""
    picked = _pick_gold_item(bundle.pk, worker.pk)
    if picked is None:
        return None
    item_id, payload, _ = picked
    with transaction.atomic():
        # Gold is paid like any work: take one of the gold judgments escrow paid for.
        took = Bundle.objects.filter(pk=bundle.pk, gold_slots_open__gt=0).update(
            gold_slots_open=F("gold_slots_open") - 1
        )
        if not took:
            return None
        assignment_id = _insert_claim(bundle.pk, item_id, worker.pk, True, now, deadline)
    return _claimed(
        bundle, worker, assignment_id, item_id, payload, is_gold=True, now=now, deadline=deadline
    )


def _claimed(
    bundle: Bundle,
    worker: User,
    assignment_id: int,
    item_id: int,
    payload: Any,
    *,
    is_gold: bool,
    now: datetime,
    deadline: datetime,
) -> Assignment:
    item = loaded_instance(
        Item,
        {"bundle": bundle},
        id=item_id,
        bundle_id=bundle.pk,
        payload=payload,
        is_gold=is_gold,
        state=ItemState.OPEN,
    )
    return loaded_instance(
        Assignment,
        {"bundle": bundle, "item": item, "worker": worker},
        id=assignment_id,
        bundle_id=bundle.pk,
        item_id=item_id,
        worker_id=worker.pk,
        status=AssignmentStatus.CLAIMED,
        is_gold=is_gold,
        claimed_at=now,
        deadline=deadline,
    )


def gold_rate_for(bundle: Bundle, submitted: int) -> float:
    if submitted < GOLD_WARMUP_SUBMISSIONS:
        return max(bundle.gold_rate, min(0.5, bundle.gold_rate * GOLD_WARMUP_FACTOR))
    return bundle.gold_rate


def claim_statement(bundle: Bundle, worker: User) -> tuple[str, list[Any] | dict[str, Any]]:
    """The statement a claim runs on this database, with its parameters (for EXPLAIN)."""
    if connection.vendor == "postgresql":
        now = timezone.now()
        deadline = now + timedelta(seconds=bundle.time_limit_seconds)
        return _CLAIM_STATEMENT, _claim_params(bundle, worker, now, deadline, 1.0)
    return _take_statement(bundle.pk, worker.pk)


def _take_statement(bundle_id: int, worker_id: int) -> tuple[str, list[Any]]:
    """The portable statement that takes a slot: the first open item (in serving order) that
    the worker has not seen, served from the partial index `item_claim_open`."""
    sql = """
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
                LIMIT 1)
           AND slots_open > 0
     RETURNING id, payload
    """
    return sql, [bundle_id, False, worker_id]


def _take_open_item(
    bundle_id: int, worker_id: int, now: datetime, deadline: datetime
) -> tuple[int, int, Any] | None:
    """Take a slot and record the claim in one transaction (the portable path; BEGIN IMMEDIATE
    on SQLite serialises it)."""
    sql, params = _take_statement(bundle_id, worker_id)
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


class _Rules(NamedTuple):
    """What of the bundle a submission needs (live rules as of the caller's read)."""

    min_overlap: int
    max_overlap: int
    min_gold_accuracy: float | None
    min_seconds_per_task: float | None

    def watched(self, is_gold: bool) -> bool:
        """Whether the quality engine has anything to do after a submission: dynamic overlap
        may complete the item early, gold or speed rules may block the worker."""
        dynamic = self.max_overlap > self.min_overlap and not is_gold
        gold_rule = is_gold and self.min_gold_accuracy is not None
        return dynamic or gold_rule or self.min_seconds_per_task is not None


# PostgreSQL: a submission's three writes as one statement (atomic by itself). The item and
# the stats change only if the assignment did, and the assignment only if it is this worker's
# live claim in this bundle, of the kind (gold or not) the client scored it as.
_SUBMIT_CTES = f"""
    done AS (
        UPDATE tasks_assignment
           SET status = 'submitted', answer = %(answer)s::jsonb,
               submitted_at = %(now)s::timestamptz,
               seconds_spent = EXTRACT(EPOCH FROM (%(now)s::timestamptz - claimed_at))::float8,
               gold_correct = %(gold_correct)s::boolean
         WHERE id = %(assignment)s AND worker_id = %(worker)s AND bundle_id = %(bundle)s
           AND status = 'claimed' AND deadline > %(now)s::timestamptz
           AND is_gold = %(is_gold)s::boolean
        RETURNING item_id, claimed_at, deadline, seconds_spent),
    judged AS (
        UPDATE tasks_item i
           SET judgments_submitted = i.judgments_submitted + 1,
               state = CASE WHEN i.judgments_submitted + 1 >= %(complete_at)s::int
                            THEN 'complete' ELSE i.state END,
               slots_open = CASE WHEN i.judgments_submitted + 1 >= %(complete_at)s::int
                                 THEN 0 ELSE i.slots_open END
          FROM done
         WHERE i.id = done.item_id AND NOT %(is_gold)s::boolean
        RETURNING i.id),
    counted AS (
        INSERT INTO tasks_workerbundlestats
               (worker_id, bundle_id, submitted, approved, rejected, gold_seen, gold_correct,
                blocked, blocked_reason)
        SELECT %(worker)s, %(bundle)s, 1, 0, 0, %(gold_seen)s::int, %(gold_right)s::int,
               false, ''
          FROM done
        {STATS_CONFLICT}
        RETURNING id)"""  # noqa: S608 - composed from constant statements
_SUBMIT_ONE_STATEMENT = f"""
    WITH {_SUBMIT_CTES}
    SELECT item_id, claimed_at, deadline, seconds_spent FROM done
"""  # noqa: S608 - composed from constant statements
# PostgreSQL: a worker's loop, answer and next task, as one statement. The next item is
# looked for only once the answer is recorded and its item counted (the gate reads `judged`,
# which reads `done`): the worker's one live claim has become a submission by the time the
# new one is inserted, and the only row lock this statement can wait for (the answered item)
# is taken before it holds any other item, so two such statements never wait on each other.
_SUBMIT_AND_CLAIM_STATEMENT = f"""
    WITH {_SUBMIT_CTES},
    {_TAKE_CTE.format(lock="FOR UPDATE SKIP LOCKED", gate="EXISTS (SELECT 1 FROM judged) AND")},
    inserted AS ({_INSERT_CLAIM_FROM_TAKEN} RETURNING id, item_id)
    SELECT d.item_id, d.claimed_at, d.deadline, d.seconds_spent,
           ins.id, ins.item_id, (SELECT payload FROM taken)
      FROM done d LEFT JOIN inserted ins ON true
"""  # noqa: S608 - composed from constant statements


def assignment_submit(
    *, assignment_id: int, worker: User, answer: Any, bundle: Bundle | None = None
) -> Assignment:
    """Record the worker's answer: validated against the schema, gold scored now, the item's
    judgment counted (it completes when it has what it needs), the worker's stats updated,
    all in one transaction. Every write is conditional on the claim still being live, so a
    concurrent expiry or return makes this a clean conflict, never a double count.

    Callers that have the assignment's bundle at hand pass it: on PostgreSQL a non-gold
    submission is then a single statement, with no read first. Anything that statement does
    not take (gold, expired, returned, someone else's) goes the long way, which reads the
    assignment and says why. A submission after the deadline expires the claim (committed)
    and is refused."""
    now = timezone.now()
    if bundle is not None and connection.vendor == "postgresql":
        try:
            clean = answer_validate(bundle.question, answer)
        except InvalidAnswer:
            pass  # said against the assignment's own question below
        else:
            rules = _Rules(
                bundle.min_overlap, bundle.max_overlap, bundle.min_gold_accuracy,
                bundle.min_seconds_per_task,
            )  # fmt: skip
            submitted = _submit_postgresql(
                assignment_id, worker, bundle.pk, rules, clean, None, now
            )
            if submitted is not None:
                return submitted
    row = fetch_prepared("cm_submit_read", _SUBMIT_READ, [assignment_id, worker.pk])
    if row is None:
        raise AssignmentNotFound("No such assignment.")
    status, deadline, claimed_at, is_gold, item_id, bundle_id, gold, question = row[:8]
    rules = _Rules(*row[8:])
    if status != AssignmentStatus.CLAIMED:
        raise InvalidTransition(f"This assignment is {status}; it cannot be submitted.")
    if _datetime(deadline) <= now:
        _expire_claim(assignment_id, bundle_id, item_id, is_gold)
        raise DomainError("The time limit has passed.", code="deadline_passed", http_status=409)
    question = _json(question)
    clean = answer_validate(question, answer)
    gold_correct = answers_agree(question, clean, _json(gold)) if is_gold else None
    if connection.vendor == "postgresql":
        submitted = _submit_postgresql(
            assignment_id, worker, bundle_id, rules, clean, gold_correct, now
        )
        if submitted is None:
            raise Conflict("The assignment changed meanwhile (expired or returned); reload it.")
        return submitted
    seconds = (now - _datetime(claimed_at)).total_seconds()
    when = connection.ops.adapt_datetimefield_value(now)
    gold_seen, gold_right = (1, int(bool(gold_correct))) if is_gold else (0, 0)
    stats = stats_params(worker.pk, bundle_id, submitted=1, gold_seen=gold_seen,
                         gold_correct=gold_right)  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _SUBMIT_WRITE, [json.dumps(clean), when, seconds, gold_correct, assignment_id, when]
        )
        if cursor.rowcount != 1:
            raise Conflict("The assignment changed meanwhile (expired or returned); reload it.")
        if not is_gold:
            cursor.execute(_ITEM_JUDGMENT, [rules.max_overlap, rules.max_overlap, item_id])
        cursor.execute(STATS_UPSERT, stats)
    return _submitted(
        assignment_id, worker, bundle_id, item_id, clean, is_gold, gold_correct,
        claimed_at=_datetime(claimed_at), deadline=_datetime(deadline), now=now,
        seconds=seconds, quality_hook=rules.watched(is_gold),
    )  # fmt: skip


@dataclass(frozen=True)
class SubmittedAndNext:
    """A submission, and the worker's next task in the same bundle or why there is none."""

    submitted: Assignment
    next: Assignment | None
    no_next: DomainError | None = None


def assignment_submit_and_claim_next(
    *, assignment_id: int, worker: User, answer: Any, bundle: Bundle
) -> SubmittedAndNext:
    """Record the answer and hand the worker their next task in the bundle: the loop of a
    worker labelling one item after another, which the task page and `?next=1` on the API's
    submit use. Exactly what `assignment_submit` then `assignment_claim` would do; on
    PostgreSQL, when nothing about this submission can change whether the worker may go on
    (no quality rule watching, no gold drawn), both happen in one statement.

    The answer is refused (and nothing claimed) as `assignment_submit` refuses it; not getting
    a next task is not an error here but `no_next`."""
    now = timezone.now()
    both = _submit_and_claim_postgresql(assignment_id, worker, answer, bundle, now)
    if both is not None:
        submitted, taken, deadline = both
        if taken is not None:
            claimed = _claimed(bundle, worker, *taken, is_gold=False, now=now, deadline=deadline)
            return SubmittedAndNext(submitted, claimed)
    else:
        submitted = assignment_submit(
            assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle
        )
    try:
        return SubmittedAndNext(submitted, assignment_claim(bundle=bundle, worker=worker))
    except (NoTasksAvailable, Forbidden) as exc:
        return SubmittedAndNext(submitted, None, exc)


def _submit_and_claim_postgresql(
    assignment_id: int, worker: User, answer: Any, bundle: Bundle, now: datetime
) -> tuple[Assignment, tuple[int, int, Any] | None, datetime] | None:
    """The one-statement loop step, when it applies: (submitted, taken or None, its deadline).
    None when it does not apply or took nothing; the caller then goes the two-call way."""
    if connection.vendor != "postgresql" or bundle.status != BundleStatus.PUBLISHED:
        return None
    rules = _Rules(
        bundle.min_overlap, bundle.max_overlap, bundle.min_gold_accuracy,
        bundle.min_seconds_per_task,
    )  # fmt: skip
    draw = random.random() if bundle.gold_rate > 0 else 1.0
    if rules.watched(False) or draw < bundle.gold_rate:
        return None  # the quality engine or a gold claim comes between the two
    if _account_refusal(worker, bundle) or _qualification_failure(worker, bundle):
        return None
    try:
        clean = answer_validate(bundle.question, answer)
    except InvalidAnswer:
        return None  # judged against the assignment's own question the long way
    deadline = now + timedelta(seconds=bundle.time_limit_seconds)
    params = {
        **_submit_params(assignment_id, worker, bundle.pk, rules, clean, None, now),
        **_claim_params(bundle, worker, now, deadline, draw),
    }
    with statement_savepoint():
        row = fetch_prepared("cm_submit_and_claim", _SUBMIT_AND_CLAIM_STATEMENT, params)
    if row is None:
        return None
    item_id, claimed_at, old_deadline, seconds, next_id, next_item_id, payload = row
    submitted = _submitted(
        assignment_id, worker, bundle.pk, item_id, clean, False, None,
        claimed_at=claimed_at, deadline=old_deadline, now=now, seconds=seconds,
        quality_hook=False,
    )  # fmt: skip
    taken = None if next_id is None else (next_id, next_item_id, _json(payload))
    return submitted, taken, deadline


def _submit_postgresql(
    assignment_id: int,
    worker: User,
    bundle_id: int,
    rules: _Rules,
    clean: Any,
    gold_correct: bool | None,
    now: datetime,
) -> Assignment | None:
    """The one-statement submission; None when the statement took nothing."""
    is_gold = gold_correct is not None
    params = _submit_params(assignment_id, worker, bundle_id, rules, clean, gold_correct, now)
    row = fetch_prepared("cm_submit_one", _SUBMIT_ONE_STATEMENT, params)
    if row is None:
        return None
    item_id, claimed_at, deadline, seconds = row
    return _submitted(
        assignment_id, worker, bundle_id, item_id, clean, is_gold, gold_correct,
        claimed_at=claimed_at, deadline=deadline, now=now, seconds=seconds,
        quality_hook=rules.watched(is_gold),
    )  # fmt: skip


def _submit_params(
    assignment_id: int,
    worker: User,
    bundle_id: int,
    rules: _Rules,
    clean: Any,
    gold_correct: bool | None,
    now: datetime,
) -> dict[str, Any]:
    is_gold = gold_correct is not None
    return {
        "assignment": assignment_id,
        "worker": worker.pk,
        "bundle": bundle_id,
        "answer": json.dumps(clean),
        "now": now,
        "gold_correct": gold_correct,
        "is_gold": is_gold,
        # Fixed overlap completes an item at its overlap; dynamic overlap only at max here, and
        # earlier when the quality engine finds the item confident (tasks.quality.services).
        "complete_at": rules.max_overlap,
        "gold_seen": int(is_gold),
        "gold_right": int(bool(gold_correct)),
    }


def _submitted(
    assignment_id: int,
    worker: User,
    bundle_id: int,
    item_id: int,
    clean: Any,
    is_gold: bool,
    gold_correct: bool | None,
    *,
    claimed_at: datetime,
    deadline: datetime,
    now: datetime,
    seconds: float,
    quality_hook: bool,
) -> Assignment:
    """The submitted assignment as it now stands, after the quality engine has seen it."""
    assignment = loaded_instance(
        Assignment, {"worker": worker},
        id=assignment_id, bundle_id=bundle_id, item_id=item_id, worker_id=worker.pk,
        status=AssignmentStatus.SUBMITTED, is_gold=is_gold, answer=clean,
        gold_correct=gold_correct, claimed_at=claimed_at, deadline=deadline,
        submitted_at=now, seconds_spent=seconds,
    )  # fmt: skip
    if quality_hook:
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
    "SubmittedAndNext",
    "WorkerStanding",
    "assignment_claim",
    "assignment_return",
    "assignment_submit",
    "assignment_submit_and_claim_next",
    "assignments_expire",
    "claim_statement",
    "worker_standing",
]

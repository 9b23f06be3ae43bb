"""A worker's loop: answer one task and take the next, in one call and, when nothing about the
answer needs the quality engine, in one statement (PostgreSQL)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.models import User
from marketplace.db import statement_savepoint
from marketplace.errors import DomainError, Forbidden
from tasks.models import Assignment, Bundle, BundleStatus
from tasks.schema import InvalidAnswer
from tasks.states import AssignmentNotFound

from .claim import assignment_claim, claim_params
from .rows import claimed_assignment, json_value, submitted_assignment
from .sql import SQL, fetch
from .standing import NoTasksAvailable, account_refusal, qualification_failure
from .submit import Rules, answer_for_claim, submit_params


@dataclass(frozen=True)
class SubmittedAndNext:
    """A submission, and the worker's next task in the same bundle or why there is none."""

    submitted: Assignment
    next: Assignment | None
    no_next: DomainError | None = None


def submission_record_and_claim(
    *, assignment_id: int, worker: User, answer: Any, bundle: Bundle
) -> SubmittedAndNext | None:
    """The loop step in one statement, when it applies: on PostgreSQL, for a published bundle
    no quality rule watches, with no gold drawn and nothing about the worker in the way.
    Exactly what a submission and then a claim would do.

    None when it does not apply or recorded nothing (the claim was not live, or was gold):
    nothing has changed, and the caller submits and claims the two-call way, which says why.
    No quality follow-up can be due here: a bundle whose rules watch submissions never gets
    this far."""
    now = timezone.now()
    both = _submit_and_claim_postgresql(assignment_id, worker, answer, bundle, now)
    if both is None:
        return None
    submitted, taken, deadline = both
    if taken is None:  # recorded, but nothing to take: ask the claim why
        return claim_next(submitted=submitted, bundle=bundle, worker=worker)
    claimed = claimed_assignment(bundle, worker, *taken, is_gold=False, now=now, deadline=deadline)
    return SubmittedAndNext(submitted, claimed)


def claim_next(*, submitted: Assignment, bundle: Bundle, worker: User) -> SubmittedAndNext:
    """The worker's next task after a recorded submission; no task is not an error here but
    `no_next`."""
    try:
        return SubmittedAndNext(submitted, assignment_claim(bundle=bundle, worker=worker))
    except (NoTasksAvailable, Forbidden) as exc:
        return SubmittedAndNext(submitted, None, exc)


def _submit_and_claim_postgresql(
    assignment_id: int, worker: User, answer: Any, bundle: Bundle, now: datetime
) -> tuple[Assignment, tuple[int, int, Any] | None, datetime] | None:
    """(submitted, taken or None, its deadline), or None when the statement does not apply or
    took nothing."""
    if connection.vendor != "postgresql" or bundle.status != BundleStatus.PUBLISHED:
        return None
    rules = Rules.of(bundle)
    draw = random.random() if bundle.gold_rate > 0 else 1.0
    if rules.watched(False) or draw < bundle.gold_rate or bundle.training_items:
        return None  # the quality engine, a gold or a training claim comes between the two
    if account_refusal(worker, bundle) or qualification_failure(worker, bundle):
        return None
    try:
        clean = answer_for_claim(
            bundle.question, answer, assignment_id=assignment_id, worker_id=worker.pk
        )
    except (InvalidAnswer, AssignmentNotFound):
        return None  # judged against the assignment's own question the long way
    deadline = now + timedelta(seconds=bundle.time_limit_seconds)
    params = {
        **submit_params(assignment_id, worker, bundle.pk, rules, clean, None, now),
        **claim_params(bundle, worker, now, deadline, draw),
    }
    with statement_savepoint():
        row = fetch(SQL.submit_and_claim, params)
    if row is None:
        return None
    item_id, claimed_at, old_deadline, seconds, next_id, next_item_id, payload = row
    submitted = submitted_assignment(
        assignment_id, worker, bundle.pk, item_id, clean, False, None,
        claimed_at=claimed_at, deadline=old_deadline, now=now, seconds=seconds,
    )  # fmt: skip
    taken = None if next_id is None else (next_id, next_item_id, json_value(payload))
    return submitted, taken, deadline

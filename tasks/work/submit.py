"""Submitting: record a worker's answer, and say what the quality engine has to follow up.

Recording is all or nothing and never waits for the quality engine: the caller (the service
layer, `tasks.services.assignment_submit`) schedules the follow-up once the submission has
committed, so this package needs nothing from `tasks.quality`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, DomainError, InvalidTransition
from tasks.models import Assignment, AssignmentStatus, Bundle
from tasks.schema import InvalidAnswer, annotation_type, answer_validate, gold_judge
from tasks.states import AssignmentNotFound

from .expiry import claim_expire
from .rows import aware_datetime, json_value, submitted_assignment
from .sql import SQL, fetch


@dataclass(frozen=True)
class FollowUp:
    """What the quality engine is to look at after one committed submission: the keyword
    arguments of `tasks.quality.services.submission_recorded`."""

    assignment_id: int
    bundle_id: int
    worker_id: int
    item_id: int
    is_gold: bool


@dataclass(frozen=True)
class Submission:
    """A recorded answer: the assignment as the submission left it, and the quality follow-up
    it needs once committed (None when no rule of the bundle watches this submission)."""

    assignment: Assignment
    follow_up: FollowUp | None = None


class Rules(NamedTuple):
    """What of the bundle a submission needs (live rules as of the caller's read)."""

    min_overlap: int
    max_overlap: int
    min_gold_accuracy: float | None
    min_seconds_per_task: float | None

    @classmethod
    def of(cls, bundle: Bundle) -> Rules:
        return cls(
            bundle.min_overlap, bundle.max_overlap, bundle.min_gold_accuracy,
            bundle.min_seconds_per_task,
        )  # fmt: skip

    def watched(self, is_gold: bool) -> bool:
        """Whether the quality engine has anything to do after a submission: dynamic overlap
        may complete the item early, gold or speed rules may block the worker."""
        dynamic = self.max_overlap > self.min_overlap and not is_gold
        gold_rule = is_gold and self.min_gold_accuracy is not None
        return dynamic or gold_rule or self.min_seconds_per_task is not None


def submission_record(
    *, assignment_id: int, worker: User, answer: Any, bundle: Bundle | None = None
) -> Submission:
    """Record the worker's answer: validated against the schema, gold scored now, the item's
    judgment counted (it completes when it has what it needs), the worker's stats updated,
    all in one transaction. Every write is conditional on the claim still being live, so a
    concurrent expiry or return makes this a clean conflict, never a double count.

    Callers that have the assignment's bundle at hand pass it: on PostgreSQL a non-gold
    submission is then a single statement, with no read first. Anything that statement does
    not take (gold, expired, returned, someone else's) goes the long way, which reads the
    assignment and says why. A submission after the deadline expires the claim (committed)
    and is refused. Annotation answers are judged against the item's payload, which costs
    them one read more (`answer_for_claim`); the plain types never read it."""
    now = timezone.now()
    if bundle is not None and connection.vendor == "postgresql":
        try:
            clean = answer_for_claim(
                bundle.question, answer, assignment_id=assignment_id, worker_id=worker.pk
            )
        except (InvalidAnswer, AssignmentNotFound):
            pass  # said against the assignment's own question below
        else:
            rules = Rules.of(bundle)
            submitted = _submit_postgresql(
                assignment_id, worker, bundle.pk, rules, clean, None, now
            )
            if submitted is not None:
                return submitted
    row = fetch(SQL.submit_read, [assignment_id, worker.pk])
    if row is None:
        raise AssignmentNotFound("No such assignment.")
    status, deadline, claimed_at, is_gold, item_id, bundle_id, gold, question = row[:8]
    rules = Rules(*row[8:])
    if status != AssignmentStatus.CLAIMED:
        raise InvalidTransition(f"This assignment is {status}; it cannot be submitted.")
    if aware_datetime(deadline) <= now:
        claim_expire(
            assignment_id=assignment_id, bundle_id=bundle_id, item_id=item_id, is_gold=is_gold
        )
        raise DomainError("The time limit has passed.", code="deadline_passed", http_status=409)
    question = json_value(question)
    clean = answer_for_claim(question, answer, assignment_id=assignment_id, worker_id=worker.pk)
    gold_correct, gold_score = (
        gold_judge(question, clean, json_value(gold)) if is_gold else (None, None)
    )
    if connection.vendor == "postgresql":
        submitted = _submit_postgresql(
            assignment_id, worker, bundle_id, rules, clean, gold_correct, now, gold_score
        )
        if submitted is None:
            raise Conflict("The assignment changed meanwhile (expired or returned); reload it.")
        return submitted
    seconds = (now - aware_datetime(claimed_at)).total_seconds()
    params = {
        **submit_params(
            assignment_id, worker, bundle_id, rules, clean, gold_correct, now, gold_score
        ),
        "now": connection.ops.adapt_datetimefield_value(now),
        "seconds": seconds,
        "item": item_id,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(SQL.submit_write, params)
        if cursor.rowcount != 1:
            raise Conflict("The assignment changed meanwhile (expired or returned); reload it.")
        if not is_gold:
            cursor.execute(SQL.item_judgment, params)
        cursor.execute(SQL.stats_add, params)
    return _recorded(
        submitted_assignment(
            assignment_id, worker, bundle_id, item_id, clean, is_gold, gold_correct,
            claimed_at=aware_datetime(claimed_at), deadline=aware_datetime(deadline), now=now,
            seconds=seconds, gold_score=gold_score,
        ),
        rules,
    )  # fmt: skip


def answer_for_claim(
    question: dict[str, Any], answer: Any, *, assignment_id: int, worker_id: int
) -> Any:
    """The normalised answer to a worker's claim, or InvalidAnswer. The plain types are judged
    on the answer alone, with no read; annotation types against the claimed item's payload
    (one read: the image's size, the text of spans). AssignmentNotFound when the claim is
    not this worker's."""
    if annotation_type(question) is None:
        return answer_validate(question, answer)
    row = fetch(SQL.claim_payload, [assignment_id, worker_id])
    if row is None:
        raise AssignmentNotFound("No such assignment.")
    return answer_validate(question, answer, payload=json_value(row[0]))


def submit_params(
    assignment_id: int,
    worker: User,
    bundle_id: int,
    rules: Rules,
    clean: Any,
    gold_correct: bool | None,
    now: datetime,
    gold_score: float | None = None,
) -> dict[str, Any]:
    """Parameters of the submission statements (and of the submit half of the loop's)."""
    is_gold = gold_correct is not None
    return {
        "assignment": assignment_id,
        "worker": worker.pk,
        "bundle": bundle_id,
        "answer": json.dumps(clean),
        "now": now,
        "gold_correct": gold_correct,
        "gold_score": gold_score,
        "is_gold": is_gold,
        # Fixed overlap completes an item at its overlap; dynamic overlap only at max here, and
        # earlier when the quality engine finds the item confident (tasks.quality.services).
        "complete_at": rules.max_overlap,
        "gold_seen": int(is_gold),
        "gold_right": int(bool(gold_correct)),
    }


def _submit_postgresql(
    assignment_id: int,
    worker: User,
    bundle_id: int,
    rules: Rules,
    clean: Any,
    gold_correct: bool | None,
    now: datetime,
    gold_score: float | None = None,
) -> Submission | None:
    """The one-statement submission; None when the statement took nothing."""
    is_gold = gold_correct is not None
    params = submit_params(
        assignment_id, worker, bundle_id, rules, clean, gold_correct, now, gold_score
    )
    row = fetch(SQL.submit_one, params)
    if row is None:
        return None
    item_id, claimed_at, deadline, seconds = row
    return _recorded(
        submitted_assignment(
            assignment_id, worker, bundle_id, item_id, clean, is_gold, gold_correct,
            claimed_at=claimed_at, deadline=deadline, now=now, seconds=seconds,
            gold_score=gold_score,
        ),
        rules,
    )  # fmt: skip


def _recorded(assignment: Assignment, rules: Rules) -> Submission:
    """The submission, with the follow-up its bundle's rules ask for."""
    if not rules.watched(bool(assignment.is_gold)):
        return Submission(assignment)
    follow_up = FollowUp(
        assignment_id=assignment.pk,
        bundle_id=assignment.bundle_id,
        worker_id=assignment.worker_id,
        item_id=assignment.item_id,
        is_gold=bool(assignment.is_gold),
    )
    return Submission(assignment, follow_up)

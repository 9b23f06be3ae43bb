"""The hot path: claiming a task, recording an answer, giving a task back, expiring claims.

Claim and submit run thousands of times a minute, so they are written as lean SQL rather than
ORM round trips (`sql`, built once from the models' metadata). On PostgreSQL a claim is one
statement, a submission is one (when the caller has the bundle at hand), and a worker's loop
step (answer plus next task) is one; what they did not take goes a longer way that says why.
On SQLite the same steps run as short transactions that BEGIN IMMEDIATE serialises.

This package records what happened and returns it; it never calls the quality engine (nor
imports `tasks.quality` or `tasks.services`). A recorded answer says whether it needs a
quality follow-up (`Submission.follow_up`), and `tasks.services.assignment_submit` schedules
that on commit. Everything else about tasks goes through the ORM in `tasks.services`.

- `standing`: whether a worker may claim in a bundle, and why not
- `claim`: hand a worker one task
- `submit`: record an answer
- `loop`: answer and take the next task in one call
- `expiry`: give a task back, expire claims past their deadline
"""

from __future__ import annotations

from .claim import (
    GOLD_WARMUP_FACTOR,
    GOLD_WARMUP_SUBMISSIONS,
    assignment_claim,
    claim_statement,
    gold_rate_for,
)
from .expiry import (
    assignment_return,
    assignments_expire,
    claim_expire,
    claims_remind_expiring,
)
from .loop import SubmittedAndNext, claim_next, submission_record_and_claim
from .standing import NoTasksAvailable, WorkerStanding, worker_standing
from .submit import FollowUp, Submission, submission_record

__all__ = [
    "GOLD_WARMUP_FACTOR",
    "GOLD_WARMUP_SUBMISSIONS",
    "FollowUp",
    "NoTasksAvailable",
    "Submission",
    "SubmittedAndNext",
    "WorkerStanding",
    "assignment_claim",
    "assignment_return",
    "assignments_expire",
    "claim_expire",
    "claims_remind_expiring",
    "claim_next",
    "claim_statement",
    "gold_rate_for",
    "submission_record",
    "submission_record_and_claim",
    "worker_standing",
]

"""Recording a worker's answer and what follows it once committed: the quality follow-up, the
pay floor's pilot and the batched live labels. Split from `tasks.services` (which re-exports
these names, the app's public entry) because the submit side grows with every quality signal.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction

from accounts.models import User
from marketplace.errors import DomainError

from . import pay_pilot, work
from .models import Assignment, Bundle, PayFloorState
from .quality import services as quality
from .quality.live import live_update_schedule
from .quality.machine_signals import answer_signals_record

logger = logging.getLogger(__name__)


def assignment_submit(
    *,
    assignment_id: int,
    worker: User,
    answer: Any,
    bundle: Bundle | None = None,
    signals: Any = None,
) -> Assignment:
    """Record the answer (`tasks.work.submission_record`: validated, gold scored, item and
    stats counted, all or nothing), then the quality follow-up (a block, an item completed
    early) once that has committed, since it reads what the submission wrote: outside a
    transaction, before this returns. With the bundle at hand PostgreSQL needs one statement."""
    submission = work.submission_record(
        assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle
    )
    if signals:
        _signals_record(submission.assignment, signals, bundle)
    if submission.follow_up is not None:
        transaction.on_commit(partial(submission_follow_up, follow_up=submission.follow_up))
        transaction.on_commit(partial(live_update_schedule, submission.assignment.bundle_id))
    else:
        follow_up_after_commit(submission.assignment, bundle=bundle)
    return submission.assignment


def assignment_submit_and_claim_next(
    *, assignment_id: int, worker: User, answer: Any, bundle: Bundle, signals: Any = None
) -> work.SubmittedAndNext:
    """A worker's loop step (the task page, the API's `submit/?next=1`): exactly
    `assignment_submit` then `tasks.work.assignment_claim`, so (outside a transaction) the next
    claim sees what the follow-up decided; one statement on PostgreSQL when no follow-up is
    due. A refused answer claims nothing; no next task is not an error but `no_next`."""
    step = work.submission_record_and_claim(
        assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle
    )
    if step is not None:
        if signals:
            _signals_record(step.submitted, signals, bundle)
        follow_up_after_commit(step.submitted, bundle=bundle)
        return step
    submitted = assignment_submit(
        assignment_id=assignment_id, worker=worker, answer=answer, bundle=bundle, signals=signals
    )
    return work.claim_next(submitted=submitted, bundle=bundle, worker=worker)


def _signals_record(assignment: Assignment, signals: Any, bundle: Bundle | None) -> None:
    """How a text answer was produced (`machine_signals`), stored before the quality follow-up
    weighs it. Bad signals never cost the worker their answer: they are logged and dropped."""
    question = bundle.question if bundle is not None else assignment.bundle.question
    try:
        answer_signals_record(assignment=assignment, question=question, signals=signals)
    except DomainError as exc:
        logger.info("signals of assignment %s dropped: %s", assignment.pk, exc.detail)


def follow_up_after_commit(assignment: Assignment, *, bundle: Bundle | None = None) -> None:
    """A submission the hot path's own rules do not follow up gets the quality follow-up once
    committed only where the bundle's rules engine must weigh it (the write itself stays the
    hot path's one statement). A fixed-overlap bundle without rules pays no follow-up per
    answer: deciding the item on every answer cost the claim/submit loop 7x its throughput
    (bench/claim.py), so its live labels come from the per-bundle live update, which every
    submission asks for here at the price of one cache lookup (`tasks.quality.live`), after
    the follow-up (the rules weigh the labels as they stood before this answer)."""
    if bundle is None or bundle.pk != assignment.bundle_id:
        row = (
            Bundle.objects.filter(pk=assignment.bundle_id)
            .values_list("quality_rules", "exam", "pay_floor_state")
            .first()
        )
        has_rules = bool(row and (row[0] or row[1]))
        pilot = bool(row and row[2] == PayFloorState.PILOT)
    else:
        has_rules = bool(bundle.quality_rules or bundle.exam)
        pilot = bundle.pay_floor_state == PayFloorState.PILOT
    if pilot:  # the pay floor's pilot closes once its first answers are in
        pay_pilot.pilot_follow_up_after_commit(assignment.bundle_id)
    if has_rules:
        follow_up = work.FollowUp(
            assignment_id=assignment.pk, bundle_id=assignment.bundle_id,
            worker_id=assignment.worker_id, item_id=assignment.item_id,
            is_gold=bool(assignment.is_gold),
        )  # fmt: skip
        transaction.on_commit(partial(submission_follow_up, follow_up=follow_up))
    transaction.on_commit(partial(live_update_schedule, assignment.bundle_id))


def submission_follow_up(*, follow_up: work.FollowUp) -> None:
    """The quality follow-up of one committed submission, now (the demo crowd, all in one
    transaction, runs it where each request would have committed); the pay floor's pilot is
    checked here too (it closes once; one query after that)."""
    pay_pilot.pilot_check(bundle_id=follow_up.bundle_id)
    quality.submission_recorded(
        assignment_id=follow_up.assignment_id, bundle_id=follow_up.bundle_id,
        worker_id=follow_up.worker_id, item_id=follow_up.item_id, is_gold=follow_up.is_gold,
    )  # fmt: skip

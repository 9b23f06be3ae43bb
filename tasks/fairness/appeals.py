"""Appeals: a worker contests a rejection (within APPEAL_WINDOW_DAYS of it) or a block, with a
message; the requester (an admin, for a platform ban) upholds it with a reason or overturns it
within APPEAL_ANSWER_DAYS. An overturned rejection is paid, once (the approval's ledger key);
a rejection appeal nobody answered in time is overturned and paid by the beat
(`appeals_overturn_due`), which is idempotent: run twice, it pays once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from marketplace.errors import Conflict, DomainError, InvalidTransition, NotFound
from tasks.escrow import escrow_settle
from tasks.locking import lock_bundle
from tasks.models import (
    Appeal,
    AppealKind,
    AppealStatus,
    Assignment,
    AssignmentStatus,
    BlockScope,
    WorkerBlock,
)
from tasks.review import assignment_overturn
from tasks.selectors import worker_public_id

from .blocks import block_lift

logger = logging.getLogger(__name__)


class AppealNotFound(NotFound):
    code = "appeal_not_found"


def _days(name: str, default: int) -> timedelta:
    return timedelta(days=int(getattr(settings, name, default)))


def _message(message: str) -> str:
    if not message or not message.strip():
        raise DomainError("Say why in a message.", code="message_required")
    if len(message) > 4000:
        raise DomainError("The message is at most 4000 characters.", code="invalid_message")
    return message.strip()


def appeal_rejection(*, worker: User, assignment_id: int, message: str) -> Appeal:
    """Appeal one of the worker's rejected answers (only theirs: anyone else's is a 404)."""
    message = _message(message)
    assignment = (
        Assignment.objects.filter(pk=assignment_id, worker=worker).select_related("bundle").first()
    )
    if assignment is None:
        raise NotFound("No such assignment.", code="assignment_not_found")
    if assignment.status != AssignmentStatus.REJECTED:
        raise DomainError("Only a rejected answer can be appealed.", code="not_rejected")
    reviewed = assignment.reviewed_at or timezone.now()
    if timezone.now() > reviewed + _days("APPEAL_WINDOW_DAYS", 14):
        raise DomainError(
            "The appeal window of this rejection has closed.", code="appeal_window_closed"
        )
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                kind=AppealKind.REJECTION, worker=worker, assignment=assignment,
                requester_id=assignment.bundle.requester_id, message=message,
                answer_due_at=timezone.now() + _days("APPEAL_ANSWER_DAYS", 7),
            )  # fmt: skip
    except IntegrityError as exc:
        raise Conflict("This rejection was appealed already.", code="already_appealed") from exc
    _notify_requester(appeal)
    return appeal


def appeal_block(*, worker: User, block_id: int, message: str) -> Appeal:
    """Appeal one of the worker's active blocks (one open appeal per block)."""
    message = _message(message)
    block = WorkerBlock.objects.filter(pk=block_id, worker=worker).first()
    if block is None:
        raise NotFound("No such block.", code="block_not_found")
    if block.lifted_at is not None:
        raise DomainError("This block was lifted already.", code="already_lifted")
    try:
        with transaction.atomic():
            appeal = Appeal.objects.create(
                kind=AppealKind.BLOCK, worker=worker, block=block,
                requester_id=block.requester_id if block.scope != BlockScope.PLATFORM else None,
                message=message, answer_due_at=timezone.now() + _days("APPEAL_ANSWER_DAYS", 7),
            )  # fmt: skip
    except IntegrityError as exc:
        raise Conflict("This block has an open appeal already.", code="already_appealed") from exc
    _notify_requester(appeal)
    return appeal


def appeals_to_answer(user: User) -> QuerySet[Appeal]:
    """The appeals `user` answers: a requester's own; staff see every one."""
    appeals = Appeal.objects.select_related("assignment__bundle", "block__bundle")
    return appeals if user.is_staff else appeals.filter(requester=user)


def appeal_answer(*, appeal_id: int, by: User, overturn: bool, reason: str = "") -> Appeal:
    """Answer an open appeal: uphold it (a reason is required) or overturn it (the rejection is
    paid, the block lifted). Only its requester answers, or staff; anyone else gets a 404."""
    if not overturn and not (reason or "").strip():
        raise DomainError("Say why the decision stands.", code="reason_required")
    if not appeals_to_answer(by).filter(pk=appeal_id).exists():
        raise AppealNotFound("No such appeal.")
    appeal = _decide(appeal_id, by=by, overturn=overturn, reason=(reason or "").strip())
    _notify_worker(appeal)
    return appeal


def appeals_overturn_due(*, now: Any = None) -> int:
    """The beat: overturn and pay every rejection appeal left unanswered past its due time.
    Each in its own transaction, re-checked under lock, so a second run (or a requester
    answering meanwhile) changes nothing; returns how many it overturned."""
    now = now or timezone.now()
    due = Appeal.objects.filter(
        kind=AppealKind.REJECTION, status=AppealStatus.OPEN, answer_due_at__lte=now
    ).values_list("pk", flat=True)
    done = 0
    for appeal_id in list(due):
        try:
            appeal = _decide(appeal_id, by=None, overturn=True, reason="", timeout=True)
        except Conflict:
            continue  # answered meanwhile
        except DomainError:
            logger.exception("overturning appeal %s on timeout failed", appeal_id)
            continue
        _notify_worker(appeal)
        done += 1
    return done


def _decide(
    appeal_id: int, *, by: User | None, overturn: bool, reason: str, timeout: bool = False
) -> Appeal:
    with transaction.atomic():
        bundle_id = (
            Appeal.objects.filter(pk=appeal_id).values_list("assignment__bundle_id", flat=True)
        ).first()
        if bundle_id is not None:
            lock_bundle(bundle_id)  # the one lock order: the bundle, then the rest
        appeal = Appeal.objects.select_for_update().get(pk=appeal_id)
        if appeal.status != AppealStatus.OPEN:
            raise Conflict("This appeal was answered already.", code="already_answered")
        if overturn and appeal.kind == AppealKind.REJECTION:
            _overturn_rejection(appeal, by=by)
        elif overturn and appeal.block_id is not None:
            block_lift(block_id=appeal.block_id, by=by, reason=reason or "appeal granted")
        Appeal.objects.filter(pk=appeal.pk).update(
            status=AppealStatus.OVERTURNED if overturn else AppealStatus.UPHELD,
            answer=reason or ("No answer in time: overturned." if timeout else ""),
            answered_by=by, answered_at=timezone.now(), overturned_on_timeout=timeout,
        )  # fmt: skip
        appeal.refresh_from_db()
    if bundle_id is not None and overturn:
        _settle_after(bundle_id)
    return appeal


def _overturn_rejection(appeal: Appeal, *, by: User | None) -> None:
    """The rejected answer becomes approved and is paid once (`review.assignment_overturn`)."""
    if appeal.assignment_id is None:  # the model's check constraint makes this impossible
        raise DomainError("A rejection appeal names its answer.", code="invalid_appeal")
    try:
        assignment_overturn(assignment_id=appeal.assignment_id, by=by)
    except InvalidTransition as exc:
        raise Conflict("The answer is no longer rejected.", code="not_rejected") from exc


def _settle_after(bundle_id: int) -> None:
    """A finished bundle's top-ups count the newly approved answer (`tasks.payfloor`)."""

    def settle() -> None:
        try:
            escrow_settle(bundle_id=bundle_id)
        except Exception:
            logger.exception("escrow settle of bundle %s failed; the sweep retries it", bundle_id)

    transaction.on_commit(settle)


def _notify_requester(appeal: Appeal) -> None:
    """Tell the requester an appeal waits for their answer (and by when); the worker is named
    by pseudonym only. Platform-ban appeals go to admins through the admin's list."""
    if appeal.requester_id is None:
        return
    requester = User.objects.filter(pk=appeal.requester_id).first()
    if requester is None or not requester.email:
        return
    worker = worker_public_id(requester.pk, appeal.worker_id)
    send_mail(
        subject=f"A worker appealed a {appeal.kind}",
        message=(
            f"{worker} appealed a {appeal.kind}: {appeal.message}\n"
            f"Answer by {appeal.answer_due_at:%Y-%m-%d %H:%M} UTC"
            + (", or it is overturned and paid." if appeal.kind == AppealKind.REJECTION else ".")
        ),
        from_email=None,
        recipient_list=[requester.email],
        fail_silently=True,
    )


def _notify_worker(appeal: Appeal) -> None:
    """Tell the worker their appeal was answered (Django's email backend; the lead joins
    this with fair-ux's notification helper at merge)."""
    worker = User.objects.filter(pk=appeal.worker_id).first()
    if worker is None or not worker.email:
        return
    outcome = "overturned" if appeal.status == AppealStatus.OVERTURNED else "upheld"
    send_mail(
        subject=f"Your appeal was {outcome}",
        message=f"Your appeal of a {appeal.kind} was {outcome}. {appeal.answer}".strip(),
        from_email=None,
        recipient_list=[worker.email],
        fail_silently=True,
    )

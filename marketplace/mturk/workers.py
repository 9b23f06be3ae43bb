"""Workers as a requester names them in the MTurk API (their pseudonym, `WorkerId`): who
that may be, blocks across all of the requester's work, and messages."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from tasks.models import Bundle, BundleStatus, WorkerBundleStats
from tasks.selectors import worker_public_id

from .errors import MTurkRequestError
from .models import QualificationRequest, WorkerBlock

LIVE = (BundleStatus.DRAFT, BundleStatus.PUBLISHED, BundleStatus.PAUSED)


def _no_such_worker(public_id: str) -> MTurkRequestError:
    return MTurkRequestError(
        f"Worker {public_id} does not exist or never worked for you.",
        "AWS.MechanicalTurk.WorkerDoesNotExist",
    )


def worker_of(requester: User, public_id: str) -> User:
    """The worker behind a pseudonym, among those who worked in the requester's bundles or
    asked for one of their qualifications; the same error for anyone else."""
    if not public_id.startswith("w_"):
        raise _no_such_worker(public_id)
    candidates = set(
        WorkerBundleStats.objects.filter(bundle__requester=requester).values_list(
            "worker_id", flat=True
        )
    ) | set(
        QualificationRequest.objects.filter(qualification_type__requester=requester).values_list(
            "worker_id", flat=True
        )
    )
    for worker_id in sorted(candidates):
        if hmac.compare_digest(worker_public_id(requester.pk, worker_id), public_id):
            return User.objects.get(pk=worker_id)
    raise _no_such_worker(public_id)


@transaction.atomic
def block_create(*, requester: User, public_id: str, reason: str) -> WorkerBlock:
    """Block the worker from all the requester's bundles, live and future (MTurk's block):
    what they already submitted stays as it is, to be reviewed."""
    if not reason.strip():
        raise MTurkRequestError("A Reason is required.", "AWS.MechanicalTurk.ReasonRequired")
    worker = worker_of(requester, public_id)
    block, _ = WorkerBlock.objects.update_or_create(
        requester=requester, worker=worker, defaults={"reason": reason.strip()}
    )
    for bundle in Bundle.objects.filter(requester=requester, status__in=LIVE):
        WorkerBundleStats.objects.update_or_create(
            worker=worker,
            bundle=bundle,
            defaults={
                "blocked": True,
                "blocked_reason": block.reason,
                "blocked_at": timezone.now(),
            },
        )
    return block


@transaction.atomic
def block_delete(*, requester: User, public_id: str) -> None:
    """Lift the requester's block; blocks the quality rules made (another reason) stay."""
    worker = worker_of(requester, public_id)
    block = WorkerBlock.objects.filter(requester=requester, worker=worker).first()
    if block is None:
        return
    WorkerBundleStats.objects.filter(
        bundle__requester=requester, worker=worker, blocked=True, blocked_reason=block.reason
    ).update(blocked=False, blocked_reason="", blocked_at=None, unblocked_at=timezone.now())
    block.delete()


@dataclass(frozen=True)
class NotifyFailure:
    worker_id: str
    code: str
    message: str


def workers_notify(
    *, requester: User, public_ids: list[str], subject: str, text: str
) -> list[NotifyFailure]:
    """Email each named worker (never showing their address); the ones we cannot reach come
    back as failures, as MTurk reports them, and the rest are still sent."""
    if not 1 <= len(public_ids) <= 100:
        raise MTurkRequestError("WorkerIds takes 1 to 100 workers.", "AWS.MechanicalTurk.Limit")
    if len(subject) > 200 or len(text) > 4096:
        raise MTurkRequestError(
            "Subject is at most 200 characters and MessageText at most 4096.",
            "AWS.MechanicalTurk.Limit",
        )
    failures = []
    for public_id in public_ids:
        try:
            worker = worker_of(requester, public_id)
        except MTurkRequestError as exc:
            failures.append(NotifyFailure(public_id, "HardFailure", exc.message))
            continue
        blocked = WorkerBlock.objects.filter(requester=requester, worker=worker).exists()
        if blocked or not worker.is_active:
            failures.append(
                NotifyFailure(public_id, "HardFailure", "The worker cannot be sent to.")
            )
            continue
        try:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [worker.email])
        except OSError as exc:
            failures.append(NotifyFailure(public_id, "SoftFailure", f"Sending failed: {exc}"))
    return failures

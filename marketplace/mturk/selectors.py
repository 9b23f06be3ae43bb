"""Reads for the MTurk API, scoped to the calling requester, in MTurk's shapes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from tasks.models import Assignment, AssignmentStatus, BundleStatus, ItemState
from tasks.sandbox import PLAY_MONEY_CURRENCY
from tasks.selectors import worker_public_id

from .errors import MTurkRequestError
from .ids import assignment_pk, assignment_text
from .models import HIT, AssignmentFeedback
from .questions import answers_xml, parse_question

# The statuses MTurk shows; a claim in progress, returned or expired is no assignment there.
MTURK_STATUS = {
    AssignmentStatus.SUBMITTED: "Submitted",
    AssignmentStatus.APPROVED: "Approved",
    AssignmentStatus.REJECTED: "Rejected",
}
OUR_STATUS = {mturk: ours for ours, mturk in MTURK_STATUS.items()}


def in_world(sandbox: bool, bundle_path: str) -> Q:
    """Rows of the sandbox (play money) or of the live site, never both: like MTurk's two
    endpoints, each sees only its own HITs, HIT types and assignments."""
    return (
        Q(**{f"{bundle_path}__currency": PLAY_MONEY_CURRENCY})
        if sandbox
        else ~Q(**{f"{bundle_path}__currency": PLAY_MONEY_CURRENCY})
    )


def hits_of(requester: User, sandbox: bool) -> QuerySet[HIT]:
    """The requester's HITs (deleted ones aside) with the counts their status needs."""
    return (
        HIT.objects.filter(
            in_world(sandbox, "item__bundle"), requester=requester, disposed_at__isnull=True
        )  # fmt: skip
        .select_related("hit_type", "item", "item__bundle")
        .annotate(
            n_claimed=Count(
                "item__assignments", filter=Q(item__assignments__status=AssignmentStatus.CLAIMED)
            ),
            n_reviewed=Count(
                "item__assignments",
                filter=Q(
                    item__assignments__status__in=(
                        AssignmentStatus.APPROVED,
                        AssignmentStatus.REJECTED,
                    )
                ),
            ),
        )
    )


def reviewable_hits(requester: User, sandbox: bool, status: str) -> QuerySet[HIT]:
    """ListReviewableHITs: "Reviewable" (nothing claimed, nothing left to hand out: expired or
    full) or "Reviewing" (marked so by UpdateHITReviewStatus)."""
    hits = hits_of(requester, sandbox)
    if status == "Reviewing":
        return hits.filter(reviewing=True)
    return reviewable_now(hits)


def reviewable_now(hits: QuerySet[HIT]) -> QuerySet[HIT]:
    """Those of `hits` whose HITStatus is Reviewable: not marked Reviewing, nothing claimed,
    nothing left to hand out (expired or full). ListReviewableHITs and the HITReviewable
    event (`events`) read it."""
    claimed = Assignment.objects.filter(item=OuterRef("item"), status=AssignmentStatus.CLAIMED)
    return (
        hits.filter(reviewing=False)
        .exclude(Exists(claimed))
        .filter(Q(expires_at__lte=timezone.now()) | Q(item__slots_open=0))
    )


def hit_status(hit: HIT, claimed: int) -> tuple[str, int]:
    """(HITStatus, NumberOfAssignmentsAvailable) now."""
    if hit.disposed_at is not None:
        return "Disposed", 0
    # A bundle cancelled (or paused) in the console hands out nothing either.
    stopped = hit.item.bundle.status != BundleStatus.PUBLISHED
    expired = hit.expires_at <= timezone.now() or hit.item.state == ItemState.COMPLETE or stopped
    available = 0 if expired else hit.item.slots_open
    if hit.reviewing:
        return "Reviewing", available
    if available:
        return "Assignable", available
    if claimed:
        return "Unassignable", 0
    return "Reviewable", 0


def hit_shape(hit: HIT) -> dict[str, Any]:
    claimed = getattr(hit, "n_claimed", None)
    reviewed = getattr(hit, "n_reviewed", None)
    if claimed is None or reviewed is None:
        by_status = dict(
            Assignment.objects.filter(item_id=hit.item_id)
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        claimed = by_status.get(AssignmentStatus.CLAIMED, 0)
        reviewed = by_status.get(AssignmentStatus.APPROVED, 0) + by_status.get(
            AssignmentStatus.REJECTED, 0
        )
    status, available = hit_status(hit, claimed)
    kind = hit.hit_type
    return {
        "HITId": hit.hit_id,
        "HITTypeId": kind.hit_type_id,
        "HITGroupId": kind.hit_type_id,
        "CreationTime": hit.created_at,
        "Title": kind.title,
        "Description": kind.description,
        "Question": hit.item.payload.get("mturk_question", ""),
        "Keywords": kind.keywords,
        "HITStatus": status,
        "MaxAssignments": hit.max_assignments,
        "Reward": kind.reward,
        "AutoApprovalDelayInSeconds": kind.auto_approval_delay_seconds,
        "Expiration": hit.expires_at,
        "AssignmentDurationInSeconds": kind.assignment_duration_seconds,
        "RequesterAnnotation": hit.requester_annotation or None,
        "QualificationRequirements": kind.qualification_requirements,
        "HITReviewStatus": hit.review_status,
        "NumberOfAssignmentsPending": claimed,
        "NumberOfAssignmentsAvailable": available,
        "NumberOfAssignmentsCompleted": reviewed,
    }


def assignments_of(requester: User, sandbox: bool) -> QuerySet[Assignment]:
    """The requester's MTurk assignments (submitted or reviewed work on their HITs)."""
    return Assignment.objects.filter(
        in_world(sandbox, "bundle"),
        bundle__requester=requester,
        item__mturk_hit__isnull=False,
        status__in=list(MTURK_STATUS),
    ).select_related("bundle", "item", "item__mturk_hit")


def assignment_of(requester: User, sandbox: bool, assignment_id: str) -> Assignment:
    """The requester's assignment by its AssignmentId; one error for unknown and foreign."""
    pk = assignment_pk(assignment_id)
    found = assignments_of(requester, sandbox).filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise MTurkRequestError(
            f"Assignment {assignment_id} does not exist.",
            "AWS.MechanicalTurk.AssignmentDoesNotExist",
        )
    return found


def assignment_shape(assignment: Assignment) -> dict[str, Any]:
    hit = assignment.item.mturk_hit
    answer = assignment.answer if isinstance(assignment.answer, dict) else {}
    parsed = parse_question(assignment.item.payload.get("mturk_question", ""))
    approved = assignment.status == AssignmentStatus.APPROVED
    rejected = assignment.status == AssignmentStatus.REJECTED
    feedback = (
        assignment.reject_reason
        if rejected
        else AssignmentFeedback.objects.filter(assignment=assignment)
        .values_list("feedback", flat=True)
        .first()
    )
    submitted = assignment.submitted_at
    return {
        "AssignmentId": assignment_text(assignment.pk),
        "WorkerId": worker_public_id(assignment.bundle.requester_id, assignment.worker_id),
        "HITId": hit.hit_id,
        "AssignmentStatus": MTURK_STATUS[assignment.status],  # type: ignore[index]
        "AutoApprovalTime": (
            submitted + timedelta(seconds=assignment.bundle.auto_approve_after_seconds)
            if submitted
            else None
        ),
        "AcceptTime": assignment.claimed_at,
        "SubmitTime": submitted,
        "ApprovalTime": assignment.reviewed_at if approved else None,
        "RejectionTime": assignment.reviewed_at if rejected else None,
        "Deadline": assignment.deadline,
        "Answer": answers_xml(answer, parsed),
        "RequesterFeedback": feedback or None,
    }

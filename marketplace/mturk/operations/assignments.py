"""Assignments: listing and review, through `tasks.review` (which pays from escrow)."""

from __future__ import annotations

from typing import Any

from tasks.models import AssignmentStatus
from tasks.review import assignment_approve, assignment_overturn, assignment_reject

from ..hits import hit_of
from ..models import AssignmentFeedback
from ..protocol import Call, listing, operation, page, request_error
from ..selectors import OUR_STATUS, assignment_of, assignment_shape, assignments_of, hit_shape


@operation("ListAssignmentsForHIT")
def list_assignments_for_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit = hit_of(call.requester, call.sandbox, params["HITId"])
    rows = assignments_of(call.requester, call.sandbox).filter(item_id=hit.item_id)
    wanted = params.get("AssignmentStatuses")
    if wanted:
        unknown = set(wanted) - set(OUR_STATUS)
        if unknown:
            raise request_error("AssignmentStatuses are Submitted, Approved or Rejected.")
        rows = rows.filter(status__in=[OUR_STATUS[s] for s in wanted])
    batch, token = page(rows, params)
    return listing("Assignments", map(assignment_shape, batch), token)


@operation("GetAssignment")
def get_assignment(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    assignment = assignment_of(call.requester, call.sandbox, params["AssignmentId"])
    hit = hit_of(call.requester, call.sandbox, assignment.item.mturk_hit.hit_id)
    return {"Assignment": assignment_shape(assignment), "HIT": hit_shape(hit)}


@operation("ApproveAssignment")
def approve_assignment(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    assignment = assignment_of(call.requester, call.sandbox, params["AssignmentId"])
    if params.get("OverrideRejection") and assignment.status == AssignmentStatus.REJECTED:
        assignment_overturn(
            assignment_id=assignment.pk, by=call.requester, requester=call.requester
        )
    else:
        assignment_approve(assignment_id=assignment.pk, by=call.requester, requester=call.requester)
    feedback = params.get("RequesterFeedback", "")
    if feedback:
        AssignmentFeedback.objects.update_or_create(
            assignment=assignment, defaults={"feedback": feedback[:1024]}
        )
    return {}


@operation("RejectAssignment")
def reject_assignment(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    assignment = assignment_of(call.requester, call.sandbox, params["AssignmentId"])
    assignment_reject(
        assignment_id=assignment.pk,
        by=call.requester,
        reason=params["RequesterFeedback"][:1024],
        requester=call.requester,
    )
    return {}


@operation("GetFileUploadURL")
def get_file_upload_url(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    assignment = assignment_of(call.requester, call.sandbox, params["AssignmentId"])
    answer = assignment.answer if isinstance(assignment.answer, dict) else {}
    identifier = params["QuestionIdentifier"]
    if identifier not in answer:
        raise request_error(f"The assignment has no answer to {identifier}.")
    # Our question formats have no FileUploadAnswer: every answer is text in Answer's XML.
    raise request_error(
        f"{identifier} is a text answer (no uploaded file): read it in Assignment.Answer.",
        "NoFileUpload",
    )

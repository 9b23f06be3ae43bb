"""HIT types and HITs: thin translations onto `marketplace.mturk.hits`."""

from __future__ import annotations

from typing import Any

from ..hits import (
    hit_add_assignments,
    hit_change_type,
    hit_create,
    hit_delete,
    hit_of,
    hit_review_status,
    hit_type_get_or_create,
    hit_update_expiration,
)
from ..models import HITType
from ..protocol import Call, as_datetime, listing, operation, page, request_error
from ..selectors import hit_shape, hits_of, in_world, reviewable_hits


def _hit_type_of(call: Call, hit_type_id: str) -> HITType:
    found = HITType.objects.filter(
        in_world(call.sandbox, "bundle"), requester=call.requester, hit_type_id=hit_type_id
    ).first()
    if found is None:
        raise request_error(f"HIT type {hit_type_id} does not exist.", "HITTypeDoesNotExist")
    return found


def _unsupported(params: dict[str, Any]) -> None:
    if params.get("HITLayoutId") or params.get("HITLayoutParameters"):
        raise request_error(
            "HIT layouts were templates kept in MTurk's web site: send the Question XML.",
            "UnsupportedParameter",
        )
    if params.get("AssignmentReviewPolicy") or params.get("HITReviewPolicy"):
        raise request_error(
            "Review policies are not supported: use the bundle's quality rules instead.",
            "UnsupportedParameter",
        )
    if not params.get("Question"):
        raise request_error("Question is required.")


def _create(call: Call, hit_type: HITType, params: dict[str, Any]) -> dict[str, Any]:
    _unsupported(params)
    hit = hit_create(
        requester=call.requester,
        hit_type=hit_type,
        max_assignments=params.get("MaxAssignments", 1),
        lifetime_seconds=params["LifetimeInSeconds"],
        question=params["Question"],
        annotation=params.get("RequesterAnnotation", ""),
        token=params.get("UniqueRequestToken"),
    )
    return {"HIT": hit_shape(hit_of(call.requester, call.sandbox, hit.hit_id))}


@operation("CreateHITType")
def create_hit_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit_type = hit_type_get_or_create(requester=call.requester, params=params, sandbox=call.sandbox)
    return {"HITTypeId": hit_type.hit_type_id}


@operation("CreateHIT")
def create_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _unsupported(params)
    hit_type = hit_type_get_or_create(requester=call.requester, params=params, sandbox=call.sandbox)
    return _create(call, hit_type, params)


@operation("CreateHITWithHITType")
def create_hit_with_hit_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return _create(call, _hit_type_of(call, params["HITTypeId"]), params)


@operation("GetHIT")
def get_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"HIT": hit_shape(hit_of(call.requester, call.sandbox, params["HITId"]))}


@operation("ListHITs")
def list_hits(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hits, token = page(hits_of(call.requester, call.sandbox), params)
    return listing("HITs", map(hit_shape, hits), token)


@operation("ListReviewableHITs")
def list_reviewable_hits(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    status = params.get("Status", "Reviewable")
    if status not in ("Reviewable", "Reviewing"):
        raise request_error("Status is Reviewable or Reviewing.")
    hits = reviewable_hits(call.requester, call.sandbox, status)
    if "HITTypeId" in params:
        hits = hits.filter(hit_type__hit_type_id=params["HITTypeId"])
    batch, token = page(hits, params)
    return listing("HITs", map(hit_shape, batch), token)


@operation("UpdateExpirationForHIT")
def update_expiration_for_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit = hit_of(call.requester, call.sandbox, params["HITId"])
    hit_update_expiration(hit=hit, expire_at=as_datetime(params["ExpireAt"]))
    return {}


@operation("UpdateHITReviewStatus")
def update_hit_review_status(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit = hit_of(call.requester, call.sandbox, params["HITId"])
    hit_review_status(hit=hit, revert=bool(params.get("Revert", False)))
    return {}


@operation("UpdateHITTypeOfHIT")
def update_hit_type_of_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit = hit_of(call.requester, call.sandbox, params["HITId"])
    hit_change_type(hit=hit, hit_type=_hit_type_of(call, params["HITTypeId"]))
    return {}


@operation("DeleteHIT")
def delete_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit_delete(hit=hit_of(call.requester, call.sandbox, params["HITId"]))
    return {}


@operation("CreateAdditionalAssignmentsForHIT")
def create_additional_assignments_for_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit = hit_of(call.requester, call.sandbox, params["HITId"])
    hit_add_assignments(
        hit=hit,
        number=params["NumberOfAdditionalAssignments"],
        token=params.get("UniqueRequestToken"),
    )
    return {}


@operation("ListReviewPolicyResultsForHIT")
def list_review_policy_results_for_hit(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # CreateHIT refuses review policies, so a HIT has none and no results to report.
    hit = hit_of(call.requester, call.sandbox, params["HITId"])
    return {"HITId": hit.hit_id}

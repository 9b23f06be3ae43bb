"""Qualification types, scores and requests: thin translations onto
`marketplace.mturk.qualifications`."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.models import WorkerQualification
from tasks.selectors import worker_public_id

from .. import qualifications as quals
from ..models import QualificationRequest, QualificationRequestStatus, QualificationType
from ..protocol import Call, listing, operation, page, request_error
from ..selectors import hit_shape, hits_of
from ..workers import worker_of


def type_shape(qtype: QualificationType) -> dict[str, Any]:
    return {
        "QualificationTypeId": qtype.qualification_type_id,
        "CreationTime": qtype.created_at,
        "Name": qtype.name,
        "Description": qtype.description,
        "Keywords": qtype.keywords or None,
        "QualificationTypeStatus": qtype.status,
        "Test": qtype.test or None,
        "TestDurationInSeconds": qtype.test_duration_seconds,
        "AnswerKey": qtype.answer_key or None,
        "RetryDelayInSeconds": qtype.retry_delay_seconds,
        "IsRequestable": qtype.status == "Active",
        "AutoGranted": qtype.auto_granted,
        "AutoGrantedValue": qtype.auto_granted_value if qtype.auto_granted else None,
    }


def score_shape(qtype: QualificationType, grant: WorkerQualification) -> dict[str, Any]:
    return {
        "QualificationTypeId": qtype.qualification_type_id,
        "WorkerId": worker_public_id(qtype.requester_id, grant.worker_id),
        "GrantTime": grant.updated_at,
        "IntegerValue": grant.value,
        "Status": "Granted",
    }


@operation("CreateQualificationType")
def create_qualification_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"QualificationType": type_shape(quals.qual_type_create(requester=call.requester,
                                                                  params=params))}  # fmt: skip


@operation("GetQualificationType")
def get_qualification_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
    return {"QualificationType": type_shape(qtype)}


@operation("UpdateQualificationType")
def update_qualification_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
    return {"QualificationType": type_shape(quals.qual_type_update(qtype=qtype, params=params))}


@operation("DeleteQualificationType")
def delete_qualification_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    quals.qual_type_delete(qtype=quals.qual_type_of(call.requester, params["QualificationTypeId"]))
    return {}


@operation("ListQualificationTypes")
def list_qualification_types(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Only the caller's own types are listed: requesters never see each other's.
    rows = QualificationType.objects.filter(requester=call.requester, disposed_at__isnull=True)
    if params["MustBeRequestable"]:
        rows = rows.filter(status="Active")
    query = params.get("Query", "").strip()
    if query:
        rows = rows.filter(
            Q(name__icontains=query) | Q(description__icontains=query)
            | Q(keywords__icontains=query)
        )  # fmt: skip
    batch, token = page(rows, params)
    return listing("QualificationTypes", map(type_shape, batch), token)


@operation("AssociateQualificationWithWorker")
def associate_qualification_with_worker(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
    worker = worker_of(call.requester, params["WorkerId"])
    quals.grant(qtype=qtype, worker=worker, value=params.get("IntegerValue", 1))
    return {}


@operation("DisassociateQualificationFromWorker")
def disassociate_qualification_from_worker(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
    quals.revoke(qtype=qtype, worker=worker_of(call.requester, params["WorkerId"]))
    return {}


@operation("GetQualificationScore")
def get_qualification_score(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
    worker = worker_of(call.requester, params["WorkerId"])
    return {"Qualification": score_shape(qtype, quals.score_of(qtype, worker))}


@operation("ListWorkersWithQualificationType")
def list_workers_with_qualification_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
    status = params.get("Status", "Granted")
    if status not in ("Granted", "Revoked"):
        raise request_error("Status is Granted or Revoked.")
    rows = WorkerQualification.objects.filter(qualification=qtype.qualification)
    if status == "Revoked":
        rows = rows.none()  # a revoked grant is deleted here, not kept as Revoked
    batch, token = page(rows, params)
    return listing("Qualifications", (score_shape(qtype, g) for g in batch), token)


@operation("ListHITsForQualificationType")
def list_hits_for_qualification_type(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
    type_pks = [
        hit_type.pk
        for hit_type in qtype.requester.mturk_hit_types.all()
        if any(
            r.get("QualificationTypeId") == qtype.qualification_type_id
            for r in hit_type.qualification_requirements
        )
    ]
    batch, token = page(hits_of(call.requester, call.sandbox).filter(hit_type__in=type_pks), params)
    return listing("HITs", map(hit_shape, batch), token)


@operation("ListQualificationRequests")
def list_qualification_requests(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rows = QualificationRequest.objects.filter(
        qualification_type__requester=call.requester, status=QualificationRequestStatus.PENDING
    ).select_related("qualification_type")
    if "QualificationTypeId" in params:
        qtype = quals.qual_type_of(call.requester, params["QualificationTypeId"])
        rows = rows.filter(qualification_type=qtype)
    batch, token = page(rows, params)
    return listing(
        "QualificationRequests",
        (
            {
                "QualificationRequestId": r.request_id,
                "QualificationTypeId": r.qualification_type.qualification_type_id,
                "WorkerId": worker_public_id(call.requester.pk, r.worker_id),
                "Test": r.qualification_type.test or None,
                "Answer": r.answer or None,
                "SubmitTime": r.submitted_at,
            }
            for r in batch
        ),
        token,
    )


@operation("AcceptQualificationRequest")
def accept_qualification_request(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    request = quals.request_of(call.requester, params["QualificationRequestId"])
    quals.request_accept(request=request, value=params.get("IntegerValue", 1))
    return {}


@operation("RejectQualificationRequest")
def reject_qualification_request(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    request = quals.request_of(call.requester, params["QualificationRequestId"])
    quals.request_reject(request=request, reason=params.get("Reason", ""))
    return {}

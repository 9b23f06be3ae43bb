"""Worker blocks, messages to workers and HIT type notifications."""

from __future__ import annotations

from typing import Any

from tasks.selectors import worker_public_id

from ..models import HITType, WorkerBlock
from ..notifications import settings_update, test_event
from ..protocol import Call, listing, operation, page, request_error
from ..selectors import in_world
from ..workers import block_create, block_delete, workers_notify


@operation("CreateWorkerBlock")
def create_worker_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    block_create(requester=call.requester, public_id=params["WorkerId"], reason=params["Reason"])
    return {}


@operation("DeleteWorkerBlock")
def delete_worker_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    block_delete(requester=call.requester, public_id=params["WorkerId"])
    return {}


@operation("ListWorkerBlocks")
def list_worker_blocks(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    batch, token = page(WorkerBlock.objects.filter(requester=call.requester), params)
    return listing(
        "WorkerBlocks",
        (
            {"WorkerId": worker_public_id(call.requester.pk, b.worker_id), "Reason": b.reason}
            for b in batch
        ),
        token,
    )


@operation("NotifyWorkers")
def notify_workers(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    failures = workers_notify(
        requester=call.requester,
        public_ids=params["WorkerIds"],
        subject=params["Subject"],
        text=params["MessageText"],
    )
    return {
        "NotifyWorkersFailureStatuses": [
            {
                "NotifyWorkersFailureCode": f.code,
                "NotifyWorkersFailureMessage": f.message,
                "WorkerId": f.worker_id,
            }
            for f in failures
        ]
    }


@operation("UpdateNotificationSettings")
def update_notification_settings(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    hit_type = HITType.objects.filter(
        in_world(call.sandbox, "bundle"), requester=call.requester,
        hit_type_id=params["HITTypeId"],
    ).first()  # fmt: skip
    if hit_type is None:
        raise request_error(
            f"HIT type {params['HITTypeId']} does not exist.", "HITTypeDoesNotExist"
        )
    settings_update(
        hit_type=hit_type, notification=params.get("Notification"), active=params.get("Active")
    )
    return {}


@operation("SendTestEventNotification")
def send_test_event_notification(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    test_event(
        notification=params["Notification"],
        event_type=params["TestEventType"],
        requester_id=call.requester.pk,
    )
    return {}

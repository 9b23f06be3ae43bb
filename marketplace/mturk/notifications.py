"""Notifications of a HIT type (UpdateNotificationSettings) and the test event
(SendTestEventNotification). SQS and SNS are AWS's own services: here a destination is an
HTTP(S) URL we POST the event to, or an email address for the Email transport."""

from __future__ import annotations

import ipaddress
import json
import socket
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import HIT, HITType
from .protocol import request_error
from .selectors import reviewable_now

EVENT_TYPES = {
    "AssignmentAccepted", "AssignmentAbandoned", "AssignmentReturned", "AssignmentSubmitted",
    "AssignmentRejected", "AssignmentApproved", "HITCreated", "HITExtended", "HITDisposed",
    "HITReviewable", "HITExpired", "Ping",
}  # fmt: skip
TIMEOUT_SECONDS = 5


def notification_check(notification: dict[str, Any]) -> dict[str, Any]:
    """A Notification as we can deliver it, or RequestError saying why not."""
    unknown = set(notification["EventTypes"]) - EVENT_TYPES
    if unknown:
        raise request_error(f"Unknown EventTypes: {', '.join(sorted(unknown))}.")
    transport, destination = notification["Transport"], notification["Destination"]
    if transport == "Email":
        if "@" not in destination:
            raise request_error("An Email destination is an email address.")
    elif urlsplit(destination).scheme not in ("http", "https"):
        raise request_error(
            "SQS and SNS are AWS services: give an HTTPS URL as the Destination (we POST "
            "each event to it as JSON) or use the Email transport.",
            "UnsupportedTransport",
        )
    return notification


@transaction.atomic
def settings_update(
    *, hit_type: HITType, notification: dict[str, Any] | None, active: bool | None
) -> HITType:
    was_active = hit_type.notification_active
    if notification is not None:
        hit_type.notification = notification_check(notification)
        hit_type.notification_active = True if active is None else active
    elif active is not None:
        if active and hit_type.notification is None:
            raise request_error("There is no notification to activate on this HIT type.")
        hit_type.notification_active = active
    if hit_type.notification_active and not was_active:
        hit_type.notified_until = timezone.now()  # events from now on, not the type's past
        # The HITs reviewable already are not news either (HITReviewable, `events`).
        reviewable_now(HIT.objects.filter(hit_type=hit_type, reviewable_at__isnull=True)).update(
            reviewable_at=hit_type.notified_until
        )
    hit_type.save(update_fields=["notification", "notification_active", "notified_until"])
    return hit_type


def _public_host(url: str) -> None:
    """Refuse URLs that resolve to our own network (loopback, private, link-local), unless
    the operator allows it (MTURK_NOTIFICATION_ALLOW_PRIVATE): a requester must not make the
    server call its neighbours."""
    if getattr(settings, "MTURK_NOTIFICATION_ALLOW_PRIVATE", False):
        return
    host = urlsplit(url).hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        raise request_error(f"The destination host {host} does not resolve.") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global:
            raise request_error("The destination must be a public address.", "InvalidDestination")


def events_send(
    *, notification: dict[str, Any], events: list[dict[str, Any]], customer_id: str
) -> None:
    """Deliver one event document now (MTurk's shape); a failure is a RequestError."""
    document = {
        "Events": events,
        "EventDocId": uuid.uuid4().hex,
        "SourceAccount": "crowdmarket",
        "CustomerId": customer_id,
        "EventDocVersion": notification["Version"],
    }
    destination = notification["Destination"]
    if notification["Transport"] == "Email":
        send_mail(
            f"MTurk notification: {', '.join(sorted({e['EventType'] for e in events}))}",
            json.dumps(document, indent=2),
            settings.DEFAULT_FROM_EMAIL,
            [destination],
        )
        return
    _public_host(destination)
    try:
        response = requests.post(
            destination, json=document, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as exc:
        raise request_error(
            f"Delivering to {destination} failed: {exc}.", "DeliveryFailed"
        ) from None
    if response.status_code >= 300:
        raise request_error(
            f"{destination} answered HTTP {response.status_code}.", "DeliveryFailed"
        )


def test_event(*, notification: dict[str, Any], event_type: str, requester_id: int) -> None:
    notification_check(notification)
    if event_type not in EVENT_TYPES:
        raise request_error(f"Unknown TestEventType {event_type}.")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events_send(
        notification=notification,
        events=[{"EventType": event_type, "EventTimestamp": now, "HITTypeId": "TEST",
                 "HITId": "TEST", "AssignmentId": "TEST"}],
        customer_id=f"requester-{requester_id}",
    )  # fmt: skip

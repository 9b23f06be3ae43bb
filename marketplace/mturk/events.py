"""Delivering a HIT type's notifications: a sweep (the beat, every minute) reads what
happened to the type's HITs and assignments since its cursor and POSTs the events the
requester asked for in one document, MTurk's shape. Read from the rows themselves, so the
worker's hot path pays nothing; a failed delivery keeps the cursor and is tried again.

Every event type MTurk defines is sent, each timed by a row's own time: AssignmentAccepted
(claimed), AssignmentReturned (returned), AssignmentAbandoned (its deadline passed unsubmitted:
MTurk's "duration elapsed"), AssignmentSubmitted, AssignmentApproved, AssignmentRejected
(reviewed), HITCreated, HITExtended (expiration moved later or assignments added), HITExpired,
HITDisposed. HITReviewable has no moment of its own (it is a state: nothing claimed, nothing
left to hand out), so the sweep announces a HIT it finds reviewable, timed by the sweep, and
marks it (`HIT.reviewable_at`) until it is open again. Ping is the test event only
(SendTestEventNotification), as on MTurk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from tasks.models import Assignment, AssignmentStatus

from .errors import MTurkRequestError
from .ids import assignment_text
from .models import HIT, HITType
from .notifications import events_send
from .selectors import reviewable_now

logger = logging.getLogger(__name__)
SETTLE = timedelta(seconds=10)  # rows still committing are left to the next sweep


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def events_between(
    hit_type: HITType, start: datetime, end: datetime, *, reviewable: Sequence[HIT] = ()
) -> list[dict[str, Any]]:
    """The type's events with a time in (start, end], oldest first; `reviewable` are the HITs
    found newly reviewable (`newly_reviewable`), announced at `end`."""
    wanted = set(hit_type.notification["EventTypes"]) if hit_type.notification else set()
    events: list[tuple[datetime, dict[str, Any]]] = []
    hits = HIT.objects.filter(hit_type=hit_type)

    def hit_event(kind: str, moment: datetime, hit: HIT) -> None:
        if kind in wanted:
            event = {"EventType": kind, "EventTimestamp": _iso(moment), "HITId": hit.hit_id,
                     "HITTypeId": hit_type.hit_type_id}  # fmt: skip
            events.append((moment, event))

    for hit in hits.filter(created_at__gt=start, created_at__lte=end):
        hit_event("HITCreated", hit.created_at, hit)
    for hit in hits.filter(extended_at__gt=start, extended_at__lte=end):
        hit_event("HITExtended", hit.extended_at, hit)  # type: ignore[arg-type]
    for hit in hits.filter(closed_at__gt=start, closed_at__lte=end, disposed_at__isnull=True):
        hit_event("HITExpired", hit.closed_at, hit)  # type: ignore[arg-type]
    for hit in hits.filter(disposed_at__gt=start, disposed_at__lte=end):
        hit_event("HITDisposed", hit.disposed_at, hit)  # type: ignore[arg-type]
    for hit in reviewable:
        hit_event("HITReviewable", end, hit)
    unsubmitted = (AssignmentStatus.CLAIMED, AssignmentStatus.EXPIRED)
    window = (
        Q(claimed_at__gt=start, claimed_at__lte=end)
        | Q(submitted_at__gt=start, submitted_at__lte=end)
        | Q(reviewed_at__gt=start, reviewed_at__lte=end)
        | Q(returned_at__gt=start, returned_at__lte=end)
        | Q(deadline__gt=start, deadline__lte=end, status__in=unsubmitted)
    )
    rows = Assignment.objects.filter(window, item__mturk_hit__hit_type=hit_type).select_related(
        "item__mturk_hit"
    )
    for row in rows:
        moments = [
            ("AssignmentAccepted", row.claimed_at),
            ("AssignmentSubmitted", row.submitted_at),
            ("AssignmentReturned", row.returned_at),
        ]
        if row.status == AssignmentStatus.APPROVED:
            moments.append(("AssignmentApproved", row.reviewed_at))
        elif row.status == AssignmentStatus.REJECTED:
            moments.append(("AssignmentRejected", row.reviewed_at))
        elif row.status in unsubmitted:  # a claim past its deadline cannot be submitted
            moments.append(("AssignmentAbandoned", row.deadline))
        for kind, moment in moments:
            if kind in wanted and moment is not None and start < moment <= end:
                events.append((moment, {
                    "EventType": kind, "EventTimestamp": _iso(moment),
                    "HITId": row.item.mturk_hit.hit_id, "HITTypeId": hit_type.hit_type_id,
                    "AssignmentId": assignment_text(row.pk),
                }))  # fmt: skip
    events.sort(key=lambda pair: pair[0])
    return [event for _, event in events]


def newly_reviewable(hit_type: HITType) -> list[HIT]:
    """The type's HITs reviewable now and not yet announced; a HIT announced before that is
    open again (extended, or a rejection gave a slot back) is unmarked, to be announced when
    it next becomes reviewable."""
    hits = HIT.objects.filter(hit_type=hit_type, disposed_at__isnull=True)
    reviewable = reviewable_now(hits)
    hits.filter(reviewable_at__isnull=False).exclude(pk__in=reviewable.values("pk")).update(
        reviewable_at=None
    )
    return list(reviewable.filter(reviewable_at__isnull=True))


def notifications_deliver(*, now: datetime | None = None) -> int:
    """Deliver every active HIT type's new events; returns how many documents were sent."""
    end = (now or timezone.now()) - SETTLE
    sent = 0
    active = HITType.objects.filter(notification_active=True, notification__isnull=False)
    for hit_type in active:
        start = hit_type.notified_until or hit_type.created_at
        if start >= end:
            continue
        reviewable = newly_reviewable(hit_type)
        events = events_between(hit_type, start, end, reviewable=reviewable)
        if events:
            try:
                events_send(
                    notification=dict(hit_type.notification or {}),
                    events=events,
                    customer_id=f"requester-{hit_type.requester_id}",
                )
            except MTurkRequestError as exc:
                logger.warning("notifications of HIT type %s not delivered: %s",
                               hit_type.hit_type_id, exc.message)  # fmt: skip
                continue
            sent += 1
        HIT.objects.filter(pk__in=[hit.pk for hit in reviewable]).update(reviewable_at=end)
        HITType.objects.filter(pk=hit_type.pk).update(notified_until=end)
    return sent

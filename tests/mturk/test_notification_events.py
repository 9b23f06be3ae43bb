"""Issue 17: every event type MTurk defines that can happen here is sent by the sweep
(`notifications_deliver`): the assignment's accepted, returned, abandoned, submitted,
approved and rejected; the HIT's created, extended, reviewable, expired and disposed. Ping is
the test event (SendTestEventNotification). Delivered by email here, to read the document."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from marketplace.mturk.events import notifications_deliver
from marketplace.mturk.hits import (
    hit_add_assignments,
    hit_create,
    hit_delete,
    hit_type_get_or_create,
    hit_update_expiration,
)
from marketplace.mturk.ids import assignment_text
from marketplace.mturk.models import HITType
from marketplace.mturk.notifications import EVENT_TYPES
from tasks import review, work
from tasks.models import Assignment, Bundle
from tasks.services import assignment_submit
from tests.factories import RequesterFactory, WorkerFactory, fund
from tests.mturk.conftest import HIT_TYPE, HTML_QUESTION

pytestmark = pytest.mark.django_db


@pytest.fixture
def hit_type():
    requester = RequesterFactory()
    fund(requester, 10_000)
    kind = hit_type_get_or_create(requester=requester, params=HIT_TYPE)
    HITType.objects.filter(pk=kind.pk).update(
        notification={"Destination": "me@example.com", "Transport": "Email",
                      "Version": "2014-08-15", "EventTypes": sorted(EVENT_TYPES - {"Ping"})},
        notification_active=True,
        notified_until=timezone.now() - timedelta(seconds=1),
    )  # fmt: skip
    kind.refresh_from_db()
    return kind


def new_hit(hit_type, n=1):
    return hit_create(requester=hit_type.requester, hit_type=hit_type, max_assignments=n,
                      lifetime_seconds=600, question=HTML_QUESTION)  # fmt: skip


def claim(hit):
    worker = WorkerFactory()
    bundle = Bundle.objects.get(pk=hit.item.bundle_id)
    assignment = work.assignment_claim(bundle=bundle, worker=worker)
    assert assignment.item_id == hit.item_id
    return worker, assignment


def delivered():
    """The events of the documents a sweep a minute from now sends, as (type, id). The
    cursor then goes back to now, where the test's next steps happen."""
    before = len(mail.outbox)
    notifications_deliver(now=timezone.now() + timedelta(minutes=1))
    HITType.objects.update(notified_until=timezone.now())
    events = [e for m in mail.outbox[before:] for e in json.loads(m.body)["Events"]]
    return [(e["EventType"], e.get("AssignmentId") or e["HITId"]) for e in events]


def test_returned_and_abandoned_assignments_are_announced(hit_type):
    hit = new_hit(hit_type, n=2)
    worker, returned = claim(hit)
    work.assignment_return(assignment_id=returned.pk, worker=worker)
    _, abandoned = claim(hit)
    Assignment.objects.filter(pk=abandoned.pk).update(deadline=timezone.now())
    work.assignments_expire(now=timezone.now() + timedelta(seconds=1))
    events = delivered()
    assert ("AssignmentReturned", assignment_text(returned.pk)) in events
    assert ("AssignmentAbandoned", assignment_text(abandoned.pk)) in events
    assert ("AssignmentAbandoned", assignment_text(returned.pk)) not in events
    assert delivered() == []  # each once


def test_extended_reviewable_rejected_and_disposed_hits_are_announced(hit_type):
    hit = new_hit(hit_type)
    worker, assignment = claim(hit)
    assignment_submit(assignment_id=assignment.pk, worker=worker, answer={"sentiment": "a"})
    events = delivered()
    assert ("HITCreated", hit.hit_id) in events
    assert ("AssignmentSubmitted", assignment_text(assignment.pk)) in events
    assert ("HITReviewable", hit.hit_id) in events  # every assignment is in
    assert ("HITReviewable", hit.hit_id) not in delivered()

    review.assignment_reject(assignment_id=assignment.pk, by=None, reason="Empty answer")
    hit_add_assignments(hit=hit, number=1)
    hit_update_expiration(hit=hit, expire_at=timezone.now() + timedelta(hours=2))
    events = delivered()
    assert ("AssignmentRejected", assignment_text(assignment.pk)) in events
    assert ("HITExtended", hit.hit_id) in events
    assert ("HITReviewable", hit.hit_id) not in events  # open again

    hit_update_expiration(hit=hit, expire_at=timezone.now() - timedelta(seconds=1))
    events = delivered()
    assert ("HITExpired", hit.hit_id) in events
    assert ("HITReviewable", hit.hit_id) in events  # reviewable again, announced again
    hit.refresh_from_db()
    hit_delete(hit=hit)
    assert ("HITDisposed", hit.hit_id) in delivered()

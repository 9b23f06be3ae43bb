"""Issue 15, due process: a worker appeals a rejection within 14 days; the requester upholds
it with a reason or overturns it (paid once); unanswered within 7 days, the beat overturns and
pays it, once however often it runs. Nobody reads or answers another's appeal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from payments import services as payments
from payments.models import JournalEntry
from tasks import review
from tasks.models import Appeal, AppealStatus, Assignment, AssignmentStatus
from tasks.tasks import overturn_unanswered_appeals_task
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish
from tests.payments.helpers import assert_ledger_balanced

from .helpers import answer, drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def rejected(requester, workers):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1, reward_minor=5)
    ItemFactory(bundle=bundle)
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    work = answer(bundle, workers[0], seconds=5)
    review.assignment_reject(assignment_id=work.pk, by=requester, reason="Ignored the sarcasm")
    work.refresh_from_db()
    return work


def appeal_via_api(worker, assignment, message="I read it twice: it is positive."):
    return client_for(worker).post(
        "/api/v1/appeals/", {"assignment_id": assignment.pk, "message": message}, format="json"
    )


def paid_to(worker) -> int:
    return payments.worker_available(worker_id=worker.pk, currency="usd")


def test_overturn_pays_the_answer_once(rejected, workers, requester):
    made = appeal_via_api(workers[0], rejected)
    assert made.status_code == 201, made.content
    told = mail.outbox[-1]
    assert told.to == [requester.email] and workers[0].email not in told.body
    body = made.json()
    assert (body["status"], body["reject_reason"]) == ("open", "Ignored the sarcasm")
    assert body["worker_id"] is None  # the worker is not shown their own pseudonym
    seen = client_for(requester).get("/api/v1/appeals/").json()["results"]
    assert [a["id"] for a in seen] == [body["id"]]
    assert seen[0]["worker_id"].startswith("w_")
    answer_url = f"/api/v1/appeals/{body['id']}/answer/"
    overturned = client_for(requester).post(answer_url, {"decision": "overturn"}, format="json")
    assert overturned.status_code == 200, overturned.content
    assert overturned.json()["status"] == "overturned"
    again = client_for(requester).post(answer_url, {"decision": "overturn"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_answered")
    rejected.refresh_from_db()
    assert rejected.status == AssignmentStatus.APPROVED
    assert paid_to(workers[0]) == 5
    assert JournalEntry.objects.filter(idempotency_key=f"assignment-{rejected.pk}-pay").count() == 1
    profile = workers[0].worker_profile
    profile.refresh_from_db()
    assert (profile.approved_count, profile.rejected_count) == (1, 0)
    assert "overturned" in mail.outbox[-1].subject
    assert_ledger_balanced()


def test_an_overturn_takes_back_the_slot_nobody_took_and_its_escrow_pays(rejected, workers):
    """While the reopened slot is still free, the overturned answer fills it again: the
    escrow reserved for it pays, and the item is not asked for one more judgment."""
    appeal_via_api(workers[0], rejected)
    Appeal.objects.update(answer_due_at=timezone.now() - timedelta(seconds=1))
    assert overturn_unanswered_appeals_task() == 1
    assert paid_to(workers[0]) == 5
    item = rejected.item
    item.refresh_from_db()
    assert (item.judgments_submitted, item.slots_open) == (1, 0)
    assert_ledger_balanced()


def test_uphold_needs_a_reason_and_pays_nothing(rejected, workers, requester):
    appeal = appeal_via_api(workers[0], rejected).json()
    url = f"/api/v1/appeals/{appeal['id']}/answer/"
    bare = client_for(requester).post(url, {"decision": "uphold"}, format="json")
    assert (bare.status_code, bare.json()["code"]) == (400, "reason_required")
    upheld = client_for(requester).post(
        url, {"decision": "uphold", "reason": "Item 3 is plainly negative."}, format="json"
    )
    assert upheld.json()["status"] == "upheld"
    mine = client_for(workers[0]).get(f"/api/v1/appeals/{appeal['id']}/").json()
    assert (mine["status"], mine["answer"]) == ("upheld", "Item 3 is plainly negative.")
    assert paid_to(workers[0]) == 0
    assert overturn_unanswered_appeals_task() == 0  # answered: the beat leaves it alone


def test_unanswered_appeal_is_overturned_and_paid_once_by_the_beat(rejected, workers):
    appeal_via_api(workers[0], rejected)
    assert overturn_unanswered_appeals_task() == 0  # not due yet
    Appeal.objects.update(answer_due_at=timezone.now() - timedelta(seconds=1))
    assert overturn_unanswered_appeals_task() == 1
    assert overturn_unanswered_appeals_task() == 0  # the beat again: nothing more
    appeal = Appeal.objects.get()
    assert (appeal.status, appeal.overturned_on_timeout) == (AppealStatus.OVERTURNED, True)
    assert paid_to(workers[0]) == 5
    assert JournalEntry.objects.filter(idempotency_key=f"assignment-{rejected.pk}-pay").count() == 1
    assert_ledger_balanced()


def test_appeal_window_and_one_appeal_per_rejection(rejected, workers):
    assert appeal_via_api(workers[0], rejected).status_code == 201
    twice = appeal_via_api(workers[0], rejected)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_appealed")
    bundle = rejected.bundle
    late = answer(bundle, workers[1], seconds=5)
    review.assignment_reject(assignment_id=late.pk, by=bundle.requester, reason="Wrong")
    Assignment.objects.filter(pk=late.pk).update(reviewed_at=timezone.now() - timedelta(days=15))
    closed = appeal_via_api(workers[1], late)
    assert (closed.status_code, closed.json()["code"]) == (400, "appeal_window_closed")
    empty = appeal_via_api(workers[1], late, message="  ")
    assert empty.status_code == 400


def test_nobody_reads_or_answers_another_ones_appeal(rejected, workers, requester):
    stranger_worker = WorkerFactory()
    stolen = appeal_via_api(stranger_worker, rejected)
    assert (stolen.status_code, stolen.json()["code"]) == (404, "assignment_not_found")
    appeal = appeal_via_api(workers[0], rejected).json()
    other_requester = RequesterFactory()
    for user in (stranger_worker, other_requester):
        assert client_for(user).get(f"/api/v1/appeals/{appeal['id']}/").status_code == 404
        assert client_for(user).get("/api/v1/appeals/").json()["results"] == []
    refused = client_for(other_requester).post(
        f"/api/v1/appeals/{appeal['id']}/answer/", {"decision": "overturn"}, format="json"
    )
    assert refused.status_code == 404
    by_worker = client_for(workers[0]).post(
        f"/api/v1/appeals/{appeal['id']}/answer/", {"decision": "overturn"}, format="json"
    )
    assert by_worker.status_code == 403
    assert paid_to(workers[0]) == 0


def test_an_overturn_the_requester_cannot_afford_becomes_their_debt(rejected, workers, requester):
    """Once another worker has taken the slot the rejection reopened, that slot's escrow paid
    them, so the overturned answer is paid from the requester's balance, or becomes debt."""
    replacement = [answer(rejected.bundle, workers[1]) for _ in range(2)]
    assert rejected.item_id in {a.item_id for a in replacement}
    appeal_via_api(workers[0], rejected)
    drain(requester)
    Appeal.objects.update(answer_due_at=timezone.now() - timedelta(seconds=1))
    assert overturn_unanswered_appeals_task() == 1
    assert paid_to(workers[0]) == 5  # the worker is paid whatever the requester holds
    assert payments.requester_debt(requester_id=requester.pk, currency="usd") == 6  # 5 + 1 fee
    assert_ledger_balanced()

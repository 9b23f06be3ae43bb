"""Issue 15 in the admin: open appeals, a platform ban made and lifted from the admin, and
the requesters whose rejection and appeal-loss rates are high, sortable and filterable."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import WorkerStatus
from tasks import review
from tasks.fairness import appeals
from tasks.models import WorkerBlock
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, UserFactory, publish

from .helpers import answer

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client, admin


def test_requester_standing_lists_rejection_and_appeal_loss_rates(staff, requester, workers):
    client, admin = staff
    fair = RequesterFactory(email="fair@example.com")
    harsh_bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for _ in range(4):
        ItemFactory(bundle=harsh_bundle)
    harsh_bundle = publish(harsh_bundle)
    done = [answer(harsh_bundle, workers[n % 3]) for n in range(4)]
    review.assignment_approve(assignment_id=done[0].pk, by=requester)
    for work in done[1:]:
        review.assignment_reject(assignment_id=work.pk, by=requester, reason="no")
    appeal = appeals.appeal_rejection(worker=done[1].worker, assignment_id=done[1].pk, message="m")
    appeals.appeal_answer(appeal_id=appeal.pk, by=requester, overturn=True)
    url = reverse("admin:tasks_requesterstanding_changelist")
    page = client.get(url + "?o=4").content.decode()  # sorted by rejection rate
    assert requester.email in page and fair.email in page
    high = client.get(url + "?rejection=50").content.decode()
    # 2 of 4 rejected now (one overturned): 50%; the fair requester rejected nothing.
    assert requester.email in high and fair.email not in high
    lost = client.get(url + "?appeals_lost=50").content.decode()
    assert requester.email in lost
    open_appeals = client.get(reverse("admin:tasks_appeal_changelist") + "?status__exact=open")
    assert open_appeals.status_code == 200


def test_an_admin_bans_a_worker_and_lifts_the_ban(staff, workers):
    client, admin = staff
    added = client.post(
        reverse("admin:tasks_workerblock_add"),
        {"worker": workers[0].pk, "reason": "Account sharing"},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    workers[0].worker_profile.refresh_from_db()
    assert workers[0].worker_profile.status == WorkerStatus.BANNED
    ban = WorkerBlock.objects.get()
    assert (ban.scope, ban.created_by_id) == ("platform", admin.pk)
    client.post(
        reverse("admin:tasks_workerblock_changelist"),
        {"action": "lift", "_selected_action": [ban.pk]},
    )
    workers[0].worker_profile.refresh_from_db()
    assert workers[0].worker_profile.status == WorkerStatus.ACTIVE
    ban.refresh_from_db()
    assert ban.lifted_at is not None

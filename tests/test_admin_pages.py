"""Every admin page of accounts and tasks renders for staff, with data in it, and the
admin actions do what they say."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import WorkerProfile
from tasks import services, work
from tasks.models import Assignment, AssignmentStatus, Bundle
from tests.factories import BundleFactory, ItemFactory, UserFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def some_work():
    bundle = BundleFactory(min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle)
    ItemFactory(bundle=bundle, gold="pos")
    bundle = publish(bundle)
    worker = WorkerFactory()
    claimed = work.assignment_claim(bundle=bundle, worker=worker)
    services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
    return bundle, worker, claimed


@pytest.mark.parametrize(
    "model", [m for m in admin.site._registry if m._meta.app_label in ("accounts", "tasks")]
)
def test_changelist_search_and_change_pages_render(staff_client, some_work, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist + "?q=example").status_code == 200
    obj = model.objects.first()
    if obj is not None:
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert staff_client.get(change).status_code == 200


def test_admin_actions_approve_and_suspend(staff_client, some_work):
    bundle, worker, claimed = some_work
    response = staff_client.post(
        reverse("admin:tasks_assignment_changelist"),
        {"action": "approve", "_selected_action": [claimed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert Assignment.objects.get(pk=claimed.pk).status == AssignmentStatus.APPROVED
    profile = WorkerProfile.objects.get(user=worker)
    staff_client.post(
        reverse("admin:accounts_workerprofile_changelist"),
        {"action": "suspend", "_selected_action": [profile.pk]},
    )
    profile.refresh_from_db()
    assert profile.status == "suspended" and "admin" in profile.status_reason
    staff_client.post(
        reverse("admin:tasks_bundle_changelist"),
        {"action": "pause", "_selected_action": [bundle.pk]},
    )
    # its only item was judged and approved above, so the bundle completed and cannot pause
    assert Bundle.objects.get(pk=bundle.pk).status == "completed"

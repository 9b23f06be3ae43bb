"""The per-worker quality report (requester API) and the staff admin views and actions."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from payments.services import requester_available
from tasks.models import AssignmentStatus, ItemResult, WorkerBundleStats
from tasks.quality import bundle_aggregation
from tasks.quality.selectors import bundle_worker_report, worker_quality_summary
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, fund

from .conftest import FIVE, judged

pytestmark = pytest.mark.django_db


def _crowd(n_workers=4):
    bundle = BundleFactory(question=FIVE, status="published", min_seconds_per_task=2.0)
    workers = [WorkerFactory() for _ in range(n_workers)]
    items = [ItemFactory(bundle=bundle) for _ in range(3)]
    gold = ItemFactory(bundle=bundle, gold="a")
    for n, worker in enumerate(workers):
        for item in items:
            judged(item, worker, "a" if n or item is items[0] else "b", seconds=1.0 + n)
        judged(gold, worker, "a" if n else "c", seconds=10.0)
        WorkerBundleStats.objects.create(
            worker=worker, bundle=bundle, submitted=4, approved=3, rejected=1, gold_seen=1,
            gold_correct=int(bool(n)),
        )  # fmt: skip
    bundle_aggregation.bundle_aggregate(bundle_id=bundle.pk)
    return bundle, workers


def test_bundle_worker_report():
    bundle, workers = _crowd()
    report = {row["worker_id"]: row for row in bundle_worker_report(bundle)}
    first, second = report[workers[0].pk], report[workers[1].pk]
    assert first["gold_accuracy"] == 0 and second["gold_accuracy"] == 1
    assert first["gold_accuracy_low"] == 0 and 0 < first["gold_accuracy_high"] < 1
    assert first["consensus_agreement"] == pytest.approx(1 / 3)  # "b" twice against "a"
    assert second["consensus_agreement"] == 1 and second["consensus_compared"] == 3
    assert first["approval_rate"] == 0.75
    assert first["median_seconds"] == 1.0 and second["median_seconds"] == 2.0
    assert first["fast_fraction"] == 0.75  # three 1 s answers under the 2 s floor, gold 10 s
    assert second["fast_fraction"] == 0
    assert first["blocked"] is False and first["blocked_reason"] == ""


def test_worker_stats_api_exposes_the_report_without_a_query_per_worker(
    django_assert_max_num_queries,
):
    bundle, workers = _crowd(n_workers=8)
    api = client_for(bundle.requester)
    with django_assert_max_num_queries(12):
        response = api.get(f"/api/v1/bundles/{bundle.pk}/workers/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 8
    for row in rows:
        assert {"worker_id", "gold_accuracy", "blocked", "submitted"} <= set(row)
        assert {"gold_accuracy_low", "gold_accuracy_high", "consensus_agreement",
                "approval_rate", "median_seconds", "fast_fraction"} <= set(row)  # fmt: skip
        assert row["consensus_agreement"] is not None
        assert str(workers[0].pk) != row["worker_id"]


def test_overall_summary():
    bundle, workers = _crowd()
    summary = worker_quality_summary([workers[0].pk, workers[1].pk])
    assert summary[workers[0].pk]["bundles"] == 1
    assert summary[workers[0].pk]["gold_accuracy"] == 0
    assert summary[workers[1].pk]["approval_rate"] == 0.75
    assert summary[workers[0].pk]["fast_fraction"] == 0.75


@pytest.fixture
def staff():
    user = User.objects.create_superuser(email="staff@example.com", password="x" * 12)
    client = Client()
    client.force_login(user)
    return client


def test_admin_confidence_filter_and_links(staff):
    bundle = BundleFactory(question=FIVE, status="published")
    low, high = ItemFactory(bundle=bundle), ItemFactory(bundle=bundle)
    ItemResult.objects.create(item=low, label="a", confidence=0.6, method="one_coin")
    ItemResult.objects.create(item=high, label="b", confidence=0.95, method="one_coin")
    page = staff.get("/admin/tasks/itemresult/?confidence=lt0.8")
    assert page.status_code == 200
    body = page.content.decode()
    assert f"/admin/tasks/item/{low.pk}/change/" in body
    assert f"/admin/tasks/item/{high.pk}/change/" not in body
    assert f"/admin/tasks/bundle/{bundle.pk}/change/" in body
    assert (
        staff.get("/admin/tasks/itemresult/?confidence=ge0.9")
        .content.decode()
        .count(f"/admin/tasks/item/{high.pk}/change/")
    )


def test_admin_block_and_unblock_actions(staff):
    bundle = BundleFactory(question=FIVE, status="published", min_overlap=1, max_overlap=1)
    worker = WorkerFactory()
    item = ItemFactory(bundle=bundle)
    judged(item, worker, "a")
    item.judgments_submitted, item.state, item.slots_open = 1, "complete", 0
    item.save()
    stats = WorkerBundleStats.objects.create(worker=worker, bundle=bundle, gold_seen=4)
    fund(bundle.requester, amount_minor=1000)  # the replacement judgment is bought anew
    listing = staff.get("/admin/tasks/workerbundlestats/")
    assert listing.status_code == 200 and "0% (0%-49%)" in listing.content.decode()
    assert staff.get(f"/admin/tasks/workerbundlestats/{stats.pk}/change/").status_code == 200
    staff.post(
        "/admin/tasks/workerbundlestats/",
        {"action": "block", "_selected_action": [stats.pk]},
    )
    stats.refresh_from_db()
    item.refresh_from_db()
    assert (
        stats.blocked and stats.blocked_reason == "Blocked by platform staff (staff@example.com)."
    )
    assert (item.state, item.judgments_submitted, item.slots_open) == ("open", 0, 1)
    assert requester_available(requester_id=bundle.requester_id, currency="usd") == 1000 - 6
    staff.post(
        "/admin/tasks/workerbundlestats/",
        {"action": "unblock", "_selected_action": [stats.pk]},
    )
    stats.refresh_from_db()
    item.refresh_from_db()
    assert not stats.blocked
    assert item.judgments_submitted == 1
    assert item.assignments.get().status == AssignmentStatus.SUBMITTED

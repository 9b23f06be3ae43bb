"""Issue 15, bug 7: the admin's item page, its counts, labels and the accuracy columns."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from payments.models import Bonus
from tasks import services, work
from tasks.models import Item, ItemResult, WorkerBundleStats
from tasks.selectors import bundle_result_rows
from tests.factories import BundleFactory, ItemFactory, UserFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def judged():
    """An item with three judgments, a gold item answered once, and a result label."""
    bundle = BundleFactory(min_overlap=3, max_overlap=3)
    item = ItemFactory(bundle=bundle, payload={"text": "judged"})
    gold = ItemFactory(bundle=bundle, gold="pos")
    bundle = publish(bundle)
    for _ in range(3):
        worker = WorkerFactory()
        claimed = work.assignment_claim(bundle=bundle, worker=worker)
        services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="neg")
    ItemResult.objects.update_or_create(
        item=item, defaults={"label": "neg", "confidence": 0.9, "method": "majority"}
    )
    from tasks.models import Assignment

    worker = WorkerFactory()
    Assignment.objects.create(
        bundle=bundle, item=gold, worker=worker, status="submitted", is_gold=True, answer="pos",
        gold_correct=True, claimed_at=item.created_at, deadline=item.created_at,
        submitted_at=item.created_at,
    )  # fmt: skip
    return bundle, item, gold


def test_the_item_page_shows_its_judgments_and_its_label(staff_client, judged):
    _, item, _ = judged
    html = staff_client.get(reverse("admin:tasks_item_change", args=[item.pk])).content.decode()
    assert html.count("Negative") >= 4  # the label and three answers, as people read them
    assert "judgments-group" in html or "Judgments" in html


def test_item_counts_agree_with_the_export(staff_client, judged):
    bundle, item, gold = judged
    exported = {row["item_id"]: len(row["judgments"]) for row in bundle_result_rows(bundle)}
    html = staff_client.get(reverse("admin:tasks_item_changelist")).content.decode()
    for pk in (item.pk, gold.pk):
        row = next(r for r in html.split("<tr") if f"/tasks/item/{pk}/change/" in r)
        cells = re.findall(r'<td class="field-judgments">(\d+)</td>', row)
        assert cells == [str(exported[pk])], (pk, cells, exported)


def test_result_labels_are_readable_not_json(staff_client, judged):
    html = staff_client.get(reverse("admin:tasks_itemresult_changelist")).content.decode()
    assert "Negative" in html
    assert "&quot;neg&quot;" not in html


def test_plural_names_read_right():
    assert str(Bonus._meta.verbose_name_plural) == "bonuses"
    assert str(WorkerBundleStats._meta.verbose_name_plural) == "worker bundle stats"


def test_accuracy_columns_sort_and_filter(staff_client, judged):
    bundle, _, _ = judged
    workers = list(WorkerBundleStats.objects.filter(bundle=bundle))
    WorkerBundleStats.objects.filter(pk=workers[0].pk).update(gold_seen=10, gold_correct=9)
    WorkerBundleStats.objects.filter(pk=workers[1].pk).update(gold_seen=10, gold_correct=2)
    url = reverse("admin:tasks_workerbundlestats_changelist")
    page = staff_client.get(url).content.decode()
    assert re.search(r'class="sortable[^"]*column-gold_accuracy', page)
    low_first = staff_client.get(url + "?o=8").content.decode()  # 8th column: gold accuracy
    assert low_first.index("20%") < low_first.index("90%")
    below = staff_client.get(url + "?accuracy=below50").content.decode()
    assert "20%" in below and "90%" not in below
    assert Item.objects.exists()

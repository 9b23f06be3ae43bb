"""The review queue at scale (issue 15): filters (worker, gold failed, disagreement with the
label, confidence), answers grouped by item with the aggregate, bulk approve/reject of a
filter's result after a confirmation with the count and money, keyset pages whose query count
does not grow, and no reach into another requester's queue."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from payments.models import Payout  # noqa: F401  (the app's models load with the ledger)
from tasks import services, work
from tasks.models import Assignment, AssignmentStatus, ItemResult
from tasks.selectors import worker_public_id
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, WorkerFactory, publish
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


def answer(bundle, worker, value="pos"):
    claimed = work.assignment_claim(bundle=bundle, worker=worker)
    services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer=value)
    return Assignment.objects.get(pk=claimed.pk)


@pytest.fixture
def queue(requester):
    """Two items answered by three workers; w3 answers against the label; item 2's label is
    unsure; one gold answer that failed."""
    bundle = BundleFactory(requester=requester, min_overlap=3, max_overlap=3, reward_minor=10)
    items = ItemFactory.create_batch(2, bundle=bundle)
    gold = ItemFactory(bundle=bundle, gold="neg", payload={"text": "gold one"})
    bundle = publish(bundle)
    w1, w2, w3 = WorkerFactory(), WorkerFactory(), WorkerFactory()
    for w, value in ((w1, "pos"), (w2, "pos"), (w3, "neg")):
        answer(bundle, w, value)
        answer(bundle, w, value)
    ItemResult.objects.update_or_create(
        item=items[0], defaults={"label": "pos", "confidence": 0.95, "method": "mv", "judgments": 3}
    )
    ItemResult.objects.update_or_create(
        item=items[1], defaults={"label": "pos", "confidence": 0.55, "method": "mv", "judgments": 3}
    )
    Assignment.objects.filter(bundle=bundle, worker=w3, item=items[1]).update(
        is_gold=True, gold_correct=False
    )
    assert gold.pk  # the gold item itself is never served in this fixture (gold_rate 0)
    return bundle, items, (w1, w2, w3)


def ids_on(page_html: str) -> list[int]:
    return [int(v) for v in re.findall(r'name="ids" value="(\d+)"', page_html)]


def get(client, bundle, query=""):
    response = client.get(f"/bundles/{bundle.pk}/review/{query}")
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_filters_by_worker_gold_disagreement_and_confidence(client, queue):
    bundle, items, (w1, w2, w3) = queue
    client.force_login(bundle.requester)
    of = lambda w: set(Assignment.objects.filter(worker=w).values_list("id", flat=True))  # noqa: E731
    assert len(ids_on(get(client, bundle))) == 6
    assert set(
        ids_on(get(client, bundle, f"?worker={worker_public_id(bundle.requester_id, w3.pk)}"))
    ) == of(w3)
    assert ids_on(get(client, bundle, "?worker=w_000000000000")) == []
    failed = Assignment.objects.get(worker=w3, item=items[1]).pk
    assert ids_on(get(client, bundle, "?gold=incorrect")) == [failed]
    assert set(ids_on(get(client, bundle, "?disagree=on"))) == of(w3)
    unsure = set(Assignment.objects.filter(item=items[1]).values_list("id", flat=True))
    assert set(ids_on(get(client, bundle, "?max_confidence=60"))) == unsure
    both = get(client, bundle, "?disagree=on&max_confidence=60")
    assert (
        ids_on(both) == [failed] and "6 answers waiting" not in both and "1 answer waiting" in both
    )


def test_grouped_by_item_with_the_aggregate(client, queue):
    bundle, items, _ = queue
    client.force_login(bundle.requester)
    html = get(client, bundle, "?group=item")
    groups = re.findall(r'data-item-group="(\d+)"', html)
    assert groups == [str(items[0].pk), str(items[1].pk)]
    assert "confidence 95%" in html and "confidence 55%" in html and "3 judgments" in html
    assert "disagrees with the label" in html


def test_bulk_approve_of_a_filter_confirms_count_and_money_then_pays_only_those(client, queue):
    bundle, items, (w1, w2, w3) = queue
    early, counted = ItemFactory(bundle=bundle, slots_open=1), ItemFactory(bundle=bundle)
    for extra in (early, counted):
        ItemResult.objects.create(item=extra, label="pos", confidence=0.5, method="mv", judgments=1)
    slow = WorkerFactory()
    held = work.assignment_claim(bundle=bundle, worker=slow)  # claimed before the queue is shown
    assert held.item_id == early.pk
    assert answer(bundle, WorkerFactory(), "pos").item_id == counted.pk
    client.force_login(bundle.requester)
    html = get(client, bundle, "?max_confidence=60")
    as_of = re.search(r'name="as_of" value="([^"]+)"', html)[1]
    post = {"bulk": "approve", "as_of": as_of, "max_confidence": "60"}
    confirm = client.post(f"/bundles/{bundle.pk}/review/", post)
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "Approve 4 answers?" in page
    assert "$0.40" in page and "4</strong> workers" in page  # 4 x 10 cents in rewards
    assert Assignment.objects.filter(status=AssignmentStatus.APPROVED).count() == 0
    # Answered after the queue was shown (though claimed before): not swept into the action.
    services.assignment_submit(assignment_id=held.pk, worker=slow, answer="pos")
    done = client.post(f"/bundles/{bundle.pk}/review/", {**post, "confirm": "yes"})
    assert done.status_code == 302 and "max_confidence=60" in done["Location"]
    approved = Assignment.objects.filter(status=AssignmentStatus.APPROVED)
    assert set(approved.values_list("item_id", flat=True)) == {items[1].pk, counted.pk}
    assert approved.count() == 4
    assert Assignment.objects.get(pk=held.pk).status == AssignmentStatus.SUBMITTED
    assert_ledger_balanced()


def test_bulk_reject_needs_a_reason_the_workers_read(client, queue):
    bundle, items, (w1, w2, w3) = queue
    client.force_login(bundle.requester)
    as_of = timezone.now().isoformat()
    public = worker_public_id(bundle.requester_id, w3.pk)
    post = {"bulk": "reject", "as_of": as_of, "worker": public, "confirm": "yes"}
    refused = client.post(f"/bundles/{bundle.pk}/review/", post)
    assert refused.status_code == 400 and "Give a reason to reject" in refused.content.decode()
    assert not Assignment.objects.filter(status=AssignmentStatus.REJECTED).exists()
    client.post(f"/bundles/{bundle.pk}/review/", {**post, "reason": "Against the guide"})
    rejected = Assignment.objects.filter(status=AssignmentStatus.REJECTED)
    assert set(rejected.values_list("worker_id", flat=True)) == {w3.pk}
    assert set(rejected.values_list("reject_reason", flat=True)) == {"Against the guide"}
    assert_ledger_balanced()


def test_another_requester_reaches_nothing(client, queue):
    bundle, _, _ = queue
    client.force_login(RequesterFactory())
    assert client.get(f"/bundles/{bundle.pk}/review/").status_code == 404
    post = {"bulk": "approve", "as_of": timezone.now().isoformat(), "confirm": "yes"}
    assert client.post(f"/bundles/{bundle.pk}/review/", post).status_code == 404
    ids = list(Assignment.objects.values_list("id", flat=True))
    assert (
        client.post(f"/bundles/{bundle.pk}/review/", {"ids": ids, "action": "approve"}).status_code
        == 404
    )
    assert not Assignment.objects.filter(status=AssignmentStatus.APPROVED).exists()


def test_an_answer_of_another_bundle_cannot_be_reviewed_from_this_queue(client, queue, requester):
    bundle, _, _ = queue
    other = BundleFactory(requester=RequesterFactory(), min_overlap=1, max_overlap=1)
    ItemFactory(bundle=other)
    other = publish(other)
    foreign = answer(other, WorkerFactory())
    client.force_login(bundle.requester)
    response = client.post(
        f"/bundles/{bundle.pk}/review/", {"ids": [foreign.pk], "action": "approve"}
    )
    assert response.status_code == 400
    assert Assignment.objects.get(pk=foreign.pk).status == AssignmentStatus.SUBMITTED


@pytest.mark.parametrize("group", ["", "item"])
def test_keyset_pages_cost_the_same_queries_deep_in_the_queue(
    client, requester, group, django_assert_max_num_queries
):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    ItemFactory.create_batch(250, bundle=bundle)
    bundle = publish(bundle)
    workers = WorkerFactory.create_batch(5)
    for w in workers:
        for _ in range(50):
            answer(bundle, w)
    client.force_login(requester)
    first = client.get(f"/bundles/{bundle.pk}/review/?group={group}")
    html = first.content.decode()
    seen = ids_on(html)
    assert len(seen) == 100 and "250 answers waiting" in html
    with django_assert_max_num_queries(20) as page_one:
        client.get(f"/bundles/{bundle.pk}/review/?group={group}")
    url = re.search(r'href="([^"]+)" id="review-next"', html)[1].replace("&amp;", "&")
    pages = 1
    while url:
        with django_assert_max_num_queries(len(page_one.captured_queries)):
            html = client.get(f"/bundles/{bundle.pk}/review/{url}").content.decode()
        seen += ids_on(html)
        pages += 1
        found = re.search(r'href="([^"]+)" id="review-next"', html)
        url = found[1].replace("&amp;", "&") if found else ""
    assert pages == 3 and len(seen) == len(set(seen)) == 250


def test_the_api_filters_the_queue_the_same_way(queue):
    from tests.conftest import client_for

    bundle, items, (w1, w2, w3) = queue
    api = client_for(bundle.requester)
    base = f"/api/v1/assignments/?bundle={bundle.pk}&status=submitted"

    def ids(query):
        response = api.get(base + query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    of_w3 = set(Assignment.objects.filter(worker=w3).values_list("id", flat=True))
    assert ids(f"&worker_id={worker_public_id(bundle.requester_id, w3.pk)}") == of_w3
    assert ids("&worker_id=w_000000000000") == set()
    assert ids("&disagrees=true") == of_w3
    assert len(ids("&disagrees=false")) == 4
    assert ids("&gold_correct=false") == {Assignment.objects.get(worker=w3, item=items[1]).pk}
    unsure = set(Assignment.objects.filter(item=items[1]).values_list("id", flat=True))
    assert ids("&max_confidence=0.6") == unsure
    # Another requester's pseudonym for the same worker matches nothing of theirs.
    other = RequesterFactory()
    assert client_for(other).get(base).json()["results"] == []

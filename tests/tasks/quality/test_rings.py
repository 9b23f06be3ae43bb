"""Rings (issue 13, item 3): a planted ring is found with its evidence and no honest crowd is
flagged (correlated honest errors included); a ring counts as about one voter; the live
decision reads the incremental Dawid-Skene estimates (a ring perfect on gold loses its weight
once its other answers are weighed); the report in the API (cross-tenant checked) and on the
page; dismissal."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.models import Item, ItemResult, WorkerBundleStats, WorkerRing
from tasks.quality import decisions
from tasks.quality.aggregation import aggregate
from tasks.quality.bundle_aggregation import bundle_aggregate
from tasks.quality.live import bundle_live_update
from tasks.quality.rings import ring_judgment_weights, rings_detect
from tasks.selectors import worker_public_id
from tests.conftest import client_for
from tests.factories import BundleFactory, WorkerFactory

from .conftest import FIVE, judged, live_bundle_with

pytestmark = pytest.mark.django_db


def crowd(seed, *, n_workers=30, n_items=400, ring=(), hard=0.0, k=4, overlap=3):
    """Simulated judgments: items filled `overlap` at a time in arrival order; ring members
    arrive two at a time (they work together) and give one shared random answer per item;
    honest workers are right with their accuracy, and on `hard` items half of them fall for
    the same wrong answer (correlated errors)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    accuracy = rng.uniform(0.65, 0.95, n_workers)
    ring = np.array(sorted(ring), dtype=np.int64)
    honest = np.setdiff1d(np.arange(n_workers), ring)
    shared = rng.integers(0, k, n_items)
    is_hard = rng.random(n_items) < hard
    items, workers, labels = [], [], []
    item = slot = 0
    taken: set[tuple[int, int]] = set()
    while item < n_items:
        pair = len(ring) >= 2 and rng.random() < len(ring) / n_workers
        group = rng.choice(ring, 2, replace=False) if pair else [rng.choice(honest)]
        for w in map(int, group):
            if item >= n_items or (item, w) in taken:
                continue
            taken.add((item, w))
            if w in ring:
                label = shared[item]
            elif is_hard[item] and rng.random() < 0.5:
                label = (truth[item] + 1) % k
            elif rng.random() < accuracy[w]:
                label = truth[item]
            else:
                label = (truth[item] + rng.integers(1, k)) % k
            items.append(item)
            workers.append(w)
            labels.append(int(label))
            slot += 1
            if slot == overlap:
                item, slot = item + 1, 0
    return np.array(items), np.array(workers), np.array(labels), truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_planted_ring_is_found_and_nobody_else(seed):
    ring = set(range(8))
    items, workers, labels, _ = crowd(seed, ring=ring)
    found = rings_detect(items, workers, labels, n_workers=30)
    assert [set(r.members) for r in found] == [ring]
    evidence = found[0]
    assert evidence.observed > evidence.expected + 0.3
    assert all(p.agreed == p.shared and p.p < 0.01 for p in evidence.pairs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_ring_in_an_honest_crowd_with_correlated_errors(seed):
    items, workers, labels, _ = crowd(seed, hard=0.3)
    assert rings_detect(items, workers, labels, n_workers=30) == []
    # a small dense crowd, where every pair shares many items, too
    items, workers, labels, _ = crowd(seed, n_workers=5, n_items=150, hard=0.3)
    assert rings_detect(items, workers, labels, n_workers=5) == []


def test_a_ring_counts_as_one_voter():
    # item 0: ring members 0, 1 say class 1; two honest workers say class 0
    items = np.array([0, 0, 0, 0])
    workers = np.array([0, 1, 2, 3])
    labels = np.array([1, 1, 0, 0])
    ring_of = np.array([0, 0, -1, -1])
    weights = ring_judgment_weights(items, workers, ring_of)
    assert weights.tolist() == [0.5, 0.5, 1.0, 1.0]
    # with equal accuracies: 2 vs 2 is a tie; the ring as one voter loses it
    post = decisions.one_coin_posterior(labels, [0.8] * 4, 2, weights)
    assert post[0] > 0.7
    res = aggregate(items, workers, labels, n_classes=2, judgment_weights=weights)
    assert res.labels[0] == 0


def _ring_bundle():
    """A live bundle (five choices) with 90 items judged 3 times: 4 of 12 workers form a ring
    that is perfect on the 10 gold items and gives one shared random answer elsewhere."""
    bundle = live_bundle_with(items=90, gold=["a"] * 10, question=FIVE)
    real = list(bundle.items.filter(is_gold=False).order_by("pk"))
    gold = list(bundle.items.filter(is_gold=True).order_by("pk"))
    people = [WorkerFactory() for _ in range(12)]
    for w in people:
        WorkerBundleStats.objects.create(worker=w, bundle=bundle)
    items, workers, labels, truth = crowd(1, n_workers=12, n_items=90, ring=range(4), k=5)
    values = "abcde"
    truth_of = {real[i].pk: values[t] for i, t in enumerate(truth)}
    Item.objects.filter(pk__in=[i.pk for i in real]).update(slots_open=0)
    for i, w, lab in zip(items, workers, labels, strict=True):
        judged(real[int(i)], people[int(w)], values[int(lab)])
    rng = np.random.default_rng(5)
    for n, w in enumerate(people):
        for g in gold[n % 3 :: 3]:
            right = n < 4 or rng.random() < 0.85
            judged(g, w, "a" if right else "b")
    return bundle, people, truth_of


def test_the_live_update_flags_the_ring_and_the_live_decision_stops_trusting_it():
    bundle, people, truth = _ring_bundle()
    ring, honest = people[:4], people[4:]
    done = bundle_live_update(bundle_id=bundle.pk)
    assert done["estimated"]  # 300 judgments: the estimates are due
    flagged = WorkerRing.objects.get(bundle=bundle)
    assert set(flagged.members) == {w.pk for w in ring}
    assert flagged.observed_agreement > flagged.expected_agreement + 0.3
    estimates = dict(
        WorkerBundleStats.objects.filter(bundle=bundle).values_list(
            "worker_id", "estimated_accuracy"
        )
    )
    # perfect on gold, yet estimated from their other answers: far under the honest workers
    assert max(estimates[w.pk] for w in ring) < min(estimates[w.pk] for w in honest)
    # the per-item decision reads those estimates: two ring members against one honest worker
    item = live_bundle_with(items=1, question=FIVE).items.get()  # a fresh item, same people
    item.bundle_id = bundle.pk
    item.save()
    judged(item, ring[0], "e")
    judged(item, ring[1], "e")
    judged(item, honest[0], "a")
    decisions.item_decide(item_id=item.pk, reopen=False)
    assert ItemResult.objects.get(item=item).label == "a"


def test_the_quality_api_shows_the_ring_by_pseudonym_and_only_to_its_requester():
    bundle, people, _ = _ring_bundle()
    bundle_aggregate(bundle_id=bundle.pk)
    response = client_for(bundle.requester).get(f"/api/v1/bundles/{bundle.pk}/quality/")
    assert response.status_code == 200
    body = response.json()
    [ring] = body["rings"]
    assert set(ring["members"]) == {worker_public_id(bundle.requester_id, w.pk) for w in people[:4]}
    assert all(p["a"].startswith("w_") and p["shared"] >= p["agreed"] for p in ring["pairs"])
    assert all(m.startswith("w_") for m in ring["members"])  # pseudonyms, never user ids
    assert body["calibration"]["reliability"]  # ten bins, from held-out gold
    assert {"estimated_at", "judgments"} <= set(body["estimates"])
    # other requesters and workers see nothing of it
    stranger = BundleFactory().requester
    assert client_for(stranger).get(f"/api/v1/bundles/{bundle.pk}/quality/").status_code == 404
    assert client_for(people[0]).get(f"/api/v1/bundles/{bundle.pk}/quality/").status_code == 403
    assert (
        client_for(stranger)
        .post(f"/api/v1/bundles/{bundle.pk}/quality/", {"dismiss_ring": ring["id"]}, format="json")
        .status_code
        == 404
    )


def test_the_bundle_page_shows_the_ring_and_the_reliability_diagram(client):
    bundle, people, _ = _ring_bundle()
    bundle_aggregate(bundle_id=bundle.pk)
    client.force_login(bundle.requester)
    html = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert "Possible rings" in html
    assert worker_public_id(bundle.requester_id, people[0].pk) in html
    assert 'id="reliability-chart"' in html
    other = BundleFactory().requester
    client.force_login(other)
    assert client.get(f"/bundles/{bundle.pk}/").status_code == 404


def test_a_dismissed_ring_stops_counting_and_is_not_flagged_again():
    bundle, people, _ = _ring_bundle()
    bundle_aggregate(bundle_id=bundle.pk)
    ring = WorkerRing.objects.get(bundle=bundle)
    response = client_for(bundle.requester).post(
        f"/api/v1/bundles/{bundle.pk}/quality/", {"dismiss_ring": ring.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["rings"][0]["dismissed_at"] is not None
    assert decisions.live_model(bundle.pk).ring_of_worker == {}
    bundle_aggregate(bundle_id=bundle.pk)
    assert WorkerRing.objects.filter(bundle=bundle, dismissed_at__isnull=True).count() == 0
    again = client_for(bundle.requester).post(
        f"/api/v1/bundles/{bundle.pk}/quality/", {"dismiss_ring": ring.pk}, format="json"
    )
    assert again.status_code == 409


def test_the_demo_shows_a_planted_ring_flagged():
    from tasks.management.demo_ring import load_ring_demo
    from tests.factories import RequesterFactory

    requester = RequesterFactory()
    from payments.services import balance_credit

    balance_credit(requester=requester, amount_minor=100_000, currency="usd",
                   reference="ring-demo", by=None)  # fmt: skip
    bundle = load_ring_demo(requester=requester)
    [ring] = WorkerRing.objects.filter(bundle=bundle)
    emails = set(
        WorkerBundleStats.objects.filter(bundle=bundle, worker_id__in=ring.members).values_list(
            "worker__email", flat=True
        )
    )
    assert emails == {f"ring{n}@crowdmarket.local" for n in range(1, 5)}
    assert bundle.status == "completed"

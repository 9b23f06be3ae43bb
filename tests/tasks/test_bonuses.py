"""Bonuses reach only workers who submitted work for the requester (issue 11, defect 2).

A requester names the worker by the pseudonym they see in results (`w_...`) or by an assignment
id in one of their bundles. An unknown worker, a worker who never submitted work for them, a
foreign assignment and a raw user id all get the same 404 body, so nothing can be enumerated.
"""

import pytest

from payments import services as payments
from payments.models import Bonus
from tasks import services
from tasks import work as tasks_work
from tasks.selectors import worker_public_id
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish
from tests.payments.helpers import assert_ledger_balanced

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fees(settings):
    settings.PLATFORM_FEE_PERCENT = 20
    settings.PLATFORM_MIN_FEE_MINOR = 1


def _bundle(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for _ in range(3):
        ItemFactory(bundle=bundle)
    return publish(bundle)


def _submitted(bundle, worker):
    assignment = tasks_work.assignment_claim(bundle=bundle, worker=worker)
    return services.assignment_submit(assignment_id=assignment.pk, worker=worker, answer="pos")


@pytest.fixture
def world(requester):
    """The requester's bundle with one submitted answer (by `mine`), one live claim (by
    `claimer`, who never submitted), and another requester's bundle with `foreign`'s answer."""
    bundle = _bundle(requester)
    mine, claimer, foreign, stranger = (WorkerFactory() for _ in range(4))
    work = _submitted(bundle, mine)
    claim = tasks_work.assignment_claim(bundle=bundle, worker=claimer)
    other = _bundle(BundleFactory().requester)
    foreign_work = _submitted(other, foreign)
    return {
        "bundle": bundle, "mine": mine, "work": work, "claimer": claimer, "claim": claim,
        "foreign": foreign, "foreign_work": foreign_work, "other": other, "stranger": stranger,
    }  # fmt: skip


def _body(**target):
    return {"amount": 100, "currency": "usd", "reason": "great work", **target}


def test_a_bonus_by_pseudonym_reaches_a_worker_who_submitted_work(requester, world):
    api = client_for(requester)
    pseudonym = worker_public_id(requester.pk, world["mine"].pk)
    made = api.post(
        "/api/v1/bonuses/", _body(worker_id=pseudonym, client_token="t1"), format="json"
    )
    assert made.status_code == 201, made.json()
    assert made.json()["worker_id"] == pseudonym  # the pseudonym, never the user id
    assert made.json()["fee"] == 20
    assert payments.worker_available(worker_id=world["mine"].pk, currency="usd") == 100
    listed = api.get("/api/v1/bonuses/").json()
    assert [row["worker_id"] for row in listed["results"]] == [pseudonym]
    assert_ledger_balanced()


def test_a_bonus_by_assignment_id_reaches_its_worker(requester, world):
    made = client_for(requester).post(
        "/api/v1/bonuses/", _body(assignment_id=world["work"].pk, client_token="t2"), format="json"
    )
    assert made.status_code == 201, made.json()
    assert made.json()["worker_id"] == worker_public_id(requester.pk, world["mine"].pk)
    assert Bonus.objects.get().worker_id == world["mine"].pk
    assert_ledger_balanced()


def test_unknown_and_foreign_workers_get_the_same_404(requester, world):
    api = client_for(requester)
    other_requester = world["other"].requester
    attempts = {
        "foreign worker's pseudonym as I would see it": {
            "worker_id": worker_public_id(requester.pk, world["foreign"].pk)
        },
        "foreign worker's pseudonym as their requester sees it": {
            "worker_id": worker_public_id(other_requester.pk, world["foreign"].pk)
        },
        "a worker who only claimed": {
            "worker_id": worker_public_id(requester.pk, world["claimer"].pk)
        },
        "a worker who never worked": {
            "worker_id": worker_public_id(requester.pk, world["stranger"].pk)
        },
        "a raw user id": {"worker_id": str(world["foreign"].pk)},
        "a made-up pseudonym": {"worker_id": "w_000000000000"},
        "a foreign assignment": {"assignment_id": world["foreign_work"].pk},
        "my assignment not yet submitted": {"assignment_id": world["claim"].pk},
        "no such assignment": {"assignment_id": 10**9},
    }
    bodies = set()
    for n, (label, target) in enumerate(attempts.items()):
        response = api.post(
            "/api/v1/bonuses/", _body(**target, client_token=f"x{n}"), format="json"
        )
        assert response.status_code == 404, (label, response.status_code, response.content)
        bodies.add(response.content)
    assert len(bodies) == 1, bodies  # one body for all: nothing to tell them apart
    assert not Bonus.objects.exists()
    assert payments.worker_available(worker_id=world["foreign"].pk, currency="usd") == 0
    assert_ledger_balanced()


def test_the_request_names_exactly_one_worker(requester, world):
    api = client_for(requester)
    both = api.post(
        "/api/v1/bonuses/",
        _body(
            worker_id=worker_public_id(requester.pk, world["mine"].pk),
            assignment_id=world["work"].pk,
            client_token="b",
        ),
        format="json",
    )
    neither = api.post("/api/v1/bonuses/", _body(client_token="n"), format="json")
    assert both.status_code == neither.status_code == 400


def test_bonus_api_is_idempotent_scoped_and_refuses_without_funds(requester, world):
    api = client_for(requester)
    body = _body(worker_id=worker_public_id(requester.pk, world["mine"].pk), client_token="b1")
    first = api.post("/api/v1/bonuses/", body, format="json")
    again = api.post("/api/v1/bonuses/", body, format="json")
    assert first.status_code == 201, first.json()
    assert again.json()["id"] == first.json()["id"]
    assert api.get("/api/v1/bonuses/").json()["count"] == 1
    other = client_for(world["other"].requester)
    assert other.get(f"/api/v1/bonuses/{first.json()['id']}/").status_code == 404
    assert other.get("/api/v1/bonuses/").json()["count"] == 0
    broke = api.post(
        "/api/v1/bonuses/", {**body, "amount": 10**11, "client_token": "b3"}, format="json"
    )
    assert broke.status_code == 402
    assert broke.json()["code"] == "insufficient_funds"
    assert broke.json()["missing_minor"] > 0
    assert_ledger_balanced()

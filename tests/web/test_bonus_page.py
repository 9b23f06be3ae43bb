"""Bonuses in the console (issue 15): by the pseudonym the requester sees, with a reason the
worker reads; idempotent per form shown; strangers' pseudonyms are 404."""

from __future__ import annotations

import pytest

from payments.models import Bonus
from tasks import services, work
from tasks.selectors import worker_public_id
from tests.factories import (
    BundleFactory,
    ItemFactory,
    RequesterFactory,
    WorkerFactory,
    fund,
    publish,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    ItemFactory(bundle=bundle)
    bundle = publish(bundle)
    worker = WorkerFactory()
    claimed = work.assignment_claim(bundle=bundle, worker=worker)
    services.assignment_submit(assignment_id=claimed.pk, worker=worker, answer="pos")
    fund(requester, amount_minor=10_000)
    return bundle, worker


def test_a_requester_pays_a_bonus_by_pseudonym_and_the_worker_reads_the_reason(client, worked):
    bundle, worker = worked
    public = worker_public_id(bundle.requester_id, worker.pk)
    client.force_login(bundle.requester)
    detail = client.get(f"/bundles/{bundle.pk}/").content.decode()
    assert f"/bundles/{bundle.pk}/workers/{public}/bonus/" in detail
    url = f"/bundles/{bundle.pk}/workers/{public}/bonus/"
    page = client.get(url).content.decode()
    assert "Pay a bonus to" in page and public in page and worker.email not in page
    data = {"amount": "0.50", "reason": "Careful work on hard items", "client_token": "t1"}
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # a double submit pays once
    bonus = Bonus.objects.get()
    assert (bonus.worker_id, bonus.amount_minor, bonus.reason) == (
        worker.pk,
        50,
        "Careful work on hard items",
    )
    client.force_login(worker)
    earnings = client.get("/work/earnings/").content.decode()
    assert "Careful work on hard items" in earnings and "$0.50" in earnings


def test_a_bonus_needs_a_reason_and_names_no_stranger(client, worked):
    bundle, worker = worked
    public = worker_public_id(bundle.requester_id, worker.pk)
    client.force_login(bundle.requester)
    url = f"/bundles/{bundle.pk}/workers/{public}/bonus/"
    response = client.post(url, {"amount": "0.50", "reason": " ", "client_token": "t"})
    assert response.status_code == 400
    assert "Give a reason" in response.content.decode()
    stranger = worker_public_id(bundle.requester_id, WorkerFactory().pk)
    assert client.get(f"/bundles/{bundle.pk}/workers/{stranger}/bonus/").status_code == 404
    client.force_login(RequesterFactory())
    assert client.get(url).status_code == 404
    assert not Bonus.objects.exists()

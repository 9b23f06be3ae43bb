"""Issue 15: workers report a bundle (unclear, broken, underpaid); its requester and admins
read the reports, nobody else."""

from __future__ import annotations

import pytest

from tasks.fairness import reports
from tests.conftest import client_for
from tests.factories import BundleFactory, ItemFactory, RequesterFactory, UserFactory, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def bundle(requester):
    made = BundleFactory(requester=requester)
    ItemFactory(bundle=made)
    return publish(made)


def test_a_worker_reports_a_bundle_its_requester_reads_it(bundle, workers, requester):
    made = client_for(workers[0]).post(
        "/api/v1/reports/",
        {"bundle_id": bundle.pk, "reason": "underpaid", "message": "Takes 2 minutes for 5 cents"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["worker_id"] is None
    twice = client_for(workers[0]).post(
        "/api/v1/reports/", {"bundle_id": bundle.pk, "reason": "underpaid"}, format="json"
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "already_reported")
    seen = client_for(requester).get("/api/v1/reports/").json()["results"]
    assert [(r["reason"], r["message"]) for r in seen] == [
        ("underpaid", "Takes 2 minutes for 5 cents")
    ]
    assert seen[0]["worker_id"].startswith("w_")
    assert reports.reports_for(UserFactory(is_staff=True)).count() == 1


def test_reports_are_scoped(bundle, workers):
    draft = BundleFactory()
    hidden = client_for(workers[0]).post(
        "/api/v1/reports/", {"bundle_id": draft.pk, "reason": "broken"}, format="json"
    )
    assert hidden.status_code == 404  # a draft is nobody's business but its requester's
    bad = client_for(workers[0]).post(
        "/api/v1/reports/", {"bundle_id": bundle.pk, "reason": "boring"}, format="json"
    )
    assert bad.status_code == 400
    client_for(workers[0]).post(
        "/api/v1/reports/", {"bundle_id": bundle.pk, "reason": "unclear"}, format="json"
    )
    assert client_for(RequesterFactory()).get("/api/v1/reports/").json()["results"] == []
    assert client_for(workers[1]).get("/api/v1/reports/").json()["results"] == []

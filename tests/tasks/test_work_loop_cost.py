"""What a worker's loop and a requester's progress poll cost per request, through the API with
token authentication as bench/load.py drives them: the load target rests on these staying
small."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import BundleFactory, ItemFactory, WorkerFactory, publish

pytestmark = pytest.mark.django_db


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def loop_bundle(requester):
    bundle = BundleFactory(requester=requester, min_overlap=1, max_overlap=1)
    for _ in range(6):
        ItemFactory(bundle=bundle)
    return publish(bundle)


def test_the_list_filters_do_not_apply_to_one_assignment(loop_bundle):
    """`?status=` filters a worker's assignment list; on submit it meant nothing, yet it made
    the worker's own claimed assignment a 404."""
    worker = _token_client(WorkerFactory())
    claimed = worker.post(f"/api/v1/work/bundles/{loop_bundle.pk}/claim/")
    assert claimed.status_code == 201, claimed.json()

    answered = worker.post(
        f"/api/v1/work/assignments/{claimed.json()['id']}/submit/?next=1&status=submitted",
        {"answer": "pos"},
        format="json",
    )

    assert answered.status_code == 200, answered.json()
    assert answered.json()["status"] == "submitted"
    assert answered.json()["next"]["status"] == "claimed"
    listed = worker.get("/api/v1/work/assignments/?status=submitted").json()["results"]
    assert [a["id"] for a in listed] == [claimed.json()["id"]]


@pytest.mark.postgres
def test_claim_submit_and_progress_stay_a_handful_of_queries(
    loop_bundle, requester, django_assert_max_num_queries
):
    """Token, profile, then one statement for the work (claim; submit-and-claim-next), plus one
    read of the assignment to show it; progress is the bundle, its escrow and two counts.
    Savepoints and the statement's PREPARE (once per connection) are counted."""
    worker = _token_client(WorkerFactory())
    owner = _token_client(requester)

    with django_assert_max_num_queries(7):
        claimed = worker.post(f"/api/v1/work/bundles/{loop_bundle.pk}/claim/")
    assert claimed.status_code == 201, claimed.json()
    current = claimed.json()["id"]
    for _ in range(2):  # the first submit prepares its statement, the second does not
        with django_assert_max_num_queries(8):
            answered = worker.post(
                f"/api/v1/work/assignments/{current}/submit/?next=1",
                {"answer": "neg"},
                format="json",
            )
        assert answered.status_code == 200, answered.json()
        current = answered.json()["next"]["id"]
    with django_assert_max_num_queries(6):
        progress = owner.get(f"/api/v1/bundles/{loop_bundle.pk}/")
    assert progress.status_code == 200
    assert progress.json()["progress"]["assignments_submitted"] == 2
